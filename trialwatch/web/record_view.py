"""A trial's record as its page shows it: the facts of its header in words, its criteria as a
tree, its outcomes and sites, and links to where it was published. Pure functions of the
stored record (a dict), so the page and its tests read the same thing."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel

from trialwatch.display import status_words
from trialwatch.kinds import grade_rank
from trialwatch.record import NCT_RE
from trialwatch.registry.timeline import REGISTRY_ORIGIN
from trialwatch.web.words import PHASE_WORDS

REGISTRY_PAGE = "https://clinicaltrials.gov/study/{nct}"
SITE_NAMES = {
    "ctgov": "ClinicalTrials.gov",
    "veeva": "ClinicalTrials.Veeva",
    "centerwatch": "CenterWatch",
    "clinicaltrialexchange": "ClinicalTrialExchange",
}
# The registry's record modules (as its record history labels them) each change kind sits in.
MODULES = {
    "title": "Study Identification",
    "status": "Study Status",
    "start_date": "Study Status",
    "primary_completion_date": "Study Status",
    "completion_date": "Study Status",
    "sponsor": "Sponsor/Collaborators",
    "conditions": "Conditions",
    "phase": "Study Design",
    "enrollment": "Study Design",
    "interventions": "Arms and Interventions",
    "primary_outcome": "Outcome Measures",
    "secondary_outcome": "Outcome Measures",
    "eligibility_criteria": "Eligibility",
    "eligibility": "Eligibility",
    "locations": "Contacts/Locations",
}


class Fact(BaseModel):
    label: str
    value: str


class Link(BaseModel):
    label: str
    url: str


class CriterionNode(BaseModel):
    """An item, or a group heading (``group``) that only holds items."""

    text: str
    group: bool = False
    children: list[CriterionNode] = []


class CriteriaSection(BaseModel):
    name: str
    items: list[CriterionNode]


def words_of_status(value: Any) -> str:
    return status_words(value) if value else "(not stated)"


def phase_words(phases: Any) -> str:
    if not isinstance(phases, list) or not phases:
        return "(not stated)"
    return ", ".join(PHASE_WORDS.get(str(p), str(p)) for p in phases)


def date_words(value: Any) -> str:
    """ "2020-04-19 (actual)"; a date without its type as it is."""
    if not isinstance(value, dict) or not value.get("date"):
        return "(not stated)"
    kind = value.get("type")
    return f"{value['date']} ({str(kind).lower()})" if kind else str(value["date"])


def enrollment_words(value: Any) -> str:
    if not isinstance(value, dict) or value.get("count") is None:
        return "(not stated)"
    kind = value.get("type")
    count = f"{value['count']:,}" if isinstance(value["count"], int) else str(value["count"])
    return f"{count} participants ({str(kind).lower()})" if kind else f"{count} participants"


def _joined(value: Any, sep: str = "; ") -> str:
    return sep.join(str(v) for v in value) if isinstance(value, list) and value else ""


def facts(record: dict[str, Any]) -> list[Fact]:
    """The header's facts, in the order the registry's own page gives them."""
    interventions = [
        f"{str(i['type']).title()}: {i.get('name')}" if i.get("type") else str(i.get("name"))
        for i in record.get("interventions") or []
        if isinstance(i, dict)
    ]
    rows = [
        ("Why stopped", str(record.get("why_stopped") or "")),
        ("Phase", phase_words(record.get("phases"))),
        ("Study type", str(record.get("study_type") or "").replace("_", " ").capitalize()),
        ("Lead sponsor", str(record.get("lead_sponsor") or "(not stated)")),
        ("Collaborators", _joined(record.get("collaborators"))),
        ("Conditions", _joined(record.get("conditions"))),
        ("Interventions", "; ".join(interventions)),
        ("Enrollment", enrollment_words(record.get("enrollment"))),
        ("Start", date_words(record.get("start_date"))),
        ("Primary completion", date_words(record.get("primary_completion_date"))),
        ("Study completion", date_words(record.get("completion_date"))),
        ("Last update posted", str(record.get("last_update_posted") or "")),
    ]
    return [Fact(label=label, value=value) for label, value in rows if value]


def web_url(value: Any) -> str | None:
    """``value`` when it is an http(s) URL a link may point to; scraped text is never made
    into any other kind of link (javascript:, data:, a relative path)."""
    if not isinstance(value, str) or len(value) > 2000:
        return None
    try:
        parts = urlsplit(value.strip())
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return value.strip()


def links(nct_id: str, record: dict[str, Any]) -> list[Link]:
    """The record on ClinicalTrials.gov, then each republishing site's page it was seen on."""
    out = []
    if NCT_RE.match(nct_id):
        out.append(Link(label="ClinicalTrials.gov", url=REGISTRY_PAGE.format(nct=nct_id)))
    sources = record.get("sources")
    for origin, seen in sorted(sources.items()) if isinstance(sources, dict) else []:
        url = web_url(seen.get("source_url")) if isinstance(seen, dict) else None
        if origin != REGISTRY_ORIGIN and url:
            out.append(Link(label=SITE_NAMES.get(origin, str(origin)), url=url))
    return out


def _key(text: str) -> str:
    return " ".join(text.split()).rstrip(" :").casefold()


def criteria_tree(record: dict[str, Any]) -> list[CriteriaSection]:
    """Inclusion and exclusion, each a tree of groups, items and sub-items, from the stored
    criteria (each item's path names its groups and parent items, outermost first)."""
    eligibility = record.get("eligibility")
    criteria = eligibility.get("criteria") if isinstance(eligibility, dict) else None
    if criteria is None and isinstance(eligibility, dict) and eligibility.get("text"):
        # A record stored before criteria were kept as a tree: read from its text.
        from trialwatch.parsers.criteria import parse_criteria

        criteria = [c.model_dump() for c in parse_criteria(str(eligibility["text"]))]
    sections: dict[str, CriterionNode] = {}
    # Each node's children by key, the latest of a key winning: a path names the nearest.
    named: dict[int, dict[str, CriterionNode]] = {}

    def add(parent: CriterionNode, child: CriterionNode) -> CriterionNode:
        parent.children.append(child)
        named.setdefault(id(parent), {})[_key(child.text)] = child
        return child

    for item in criteria or []:
        if not isinstance(item, dict) or not item.get("text"):
            continue
        parent = sections.setdefault(str(item.get("section")), CriterionNode(text="", group=True))
        for label in item.get("path") or []:
            found = named.get(id(parent), {}).get(_key(str(label)))
            parent = found or add(parent, CriterionNode(text=str(label), group=True))
        add(parent, CriterionNode(text=str(item["text"])))
    names = {"inclusion": "Inclusion criteria", "exclusion": "Exclusion criteria"}
    return [
        CriteriaSection(name=names.get(section, section.capitalize()), items=root.children)
        for section, root in sections.items()
    ]


def plain_criteria(record: dict[str, Any]) -> str:
    """The criteria text without markup, for a record whose text holds no items at all."""
    from bs4 import BeautifulSoup

    eligibility = record.get("eligibility")
    text = eligibility.get("text") if isinstance(eligibility, dict) else None
    if not text:
        return ""
    return BeautifulSoup(str(text), "lxml").get_text("\n").strip()


def criteria_count(sections: list[CriteriaSection]) -> int:
    def count(nodes: list[CriterionNode]) -> int:
        return sum((0 if n.group else 1) + count(n.children) for n in nodes)

    return sum(count(s.items) for s in sections)


def site_line(location: Any) -> str:
    """ "Facility, City, Country" (a site's status apart)."""
    if not isinstance(location, dict):
        return str(location)
    return ", ".join(str(location[k]) for k in ("facility", "city", "country") if location.get(k))


def country_count(locations: Any) -> int:
    """How many countries the sites are in (sites without one not counted)."""
    if not isinstance(locations, list):
        return 0
    return len({str(s["country"]) for s in locations if isinstance(s, dict) and s.get("country")})


def _words(value: Any) -> str:
    return " ".join(str(value).split()) if value is not None else ""


def site_text(location: Any) -> str:
    """ "Facility, City, Country (Status)": a site as one line of a diff."""
    line = site_line(location)
    status = location.get("status") if isinstance(location, dict) else None
    return f"{line} ({status_words(status)})" if status else line


def intervention_text(value: Any) -> str:
    """ "Remdesivir (DRUG)"."""
    if not isinstance(value, dict):
        return _words(value)
    name = _words(value.get("name"))
    return f"{name} ({value['type']})" if value.get("type") else name


def outcome_text(value: Any) -> str:
    """An outcome as one statement: measure, time frame, description (the parts of a split
    or merged outcome joined by " | ")."""
    if isinstance(value, list):
        return " | ".join(outcome_text(v) for v in value)
    if not isinstance(value, dict):
        return _words(value)
    parts = [_words(value.get("measure"))]
    if value.get("time_frame"):
        parts.append(f"Time frame: {_words(value['time_frame'])}")
    if value.get("description"):
        parts.append(_words(value["description"]))
    return " \u2014 ".join(parts)


def module_grades(kinds: list[str], grades: list[str]) -> list[tuple[str, str]]:
    """(module, the highest grade of its changes) for the modules the kinds touched."""
    out: dict[str, str] = {}
    for kind, grade in zip(kinds, grades, strict=False):
        name = MODULES.get(kind)
        if name and (name not in out or grade_rank(grade) > grade_rank(out[name])):
            out[name] = grade
    return list(out.items())


def module_names(kinds: list[str]) -> list[str]:
    """The registry modules the kinds touched, each once, in the order first touched."""
    out: list[str] = []
    for kind in kinds:
        name = MODULES.get(kind)
        if name and name not in out:
            out.append(name)
    return out
