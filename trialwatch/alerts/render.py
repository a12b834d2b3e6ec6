"""Turn the changes one watch has to report into an email: subject, plain text and HTML.

Pure: the only I/O is loading the two templates. Both parts are rendered from one view model,
so they say the same thing. The per-change lines are ``trialwatch.diffing.render``'s
``summary`` and ``details`` (the same words as ``trialwatch changes``); this module adds the
headline, each change's grade and reason, the grouping by trial, site lists, links and the
footer.

Everything that came from a scraped page (titles, criteria, sites, status words) is data:
the HTML template is autoescaped and nothing here is marked safe. Bidirectional-text controls
are removed from every value both parts show, and from the subject (``trialwatch.display``):
a plain-text reader is as open to reordered text as an HTML one.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from trialwatch.diffing.changes import DATE_KINDS, Change
from trialwatch.diffing.render import MINUS, details, summary
from trialwatch.display import displayed, finalize, status_words
from trialwatch.kinds import FINDING_KINDS, FINDING_TITLES, GRADES, grade_rank

ARROW = "\u2192"
ELLIPSIS = "\u2026"
SUBJECT_MAX = 150
SITES_SHOWN = 20  # per list: one registry edit can add a thousand sites
STUDY_URL = "https://clinicaltrials.gov/study/{nct_id}"
HISTORY_URL = "https://clinicaltrials.gov/study/{nct_id}?tab=history"

# The headline is the first change in this order; kinds not listed come after, as given.
HEADLINE_ORDER: tuple[str, ...] = (
    "status",
    "primary_completion_date",
    "completion_date",
    "start_date",
    "eligibility_criteria",
    "enrollment",
)


_NCT_ID = re.compile(r"NCT[0-9]{8}", re.ASCII)
# C0/C1 controls and the Unicode line and paragraph separators: none belongs in one line.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_WATCH_ID = re.compile(r"(?:\bwatch\s*#?\s*|\bid\s*#?\s*|#)(\d+)\b", re.IGNORECASE)

_TEMPLATES = Path(__file__).parent / "templates"
_ENV = Environment(
    loader=FileSystemLoader(_TEMPLATES),
    # "alert.html.j2" ends in ".html.j2", so name that ending; the text part stays raw.
    autoescape=select_autoescape(enabled_extensions=("html", "htm", "xml", "html.j2")),
    undefined=StrictUndefined,
    finalize=finalize,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)


@dataclass(frozen=True)
class AlertItem:
    """One change to report, with what the email needs to say about its trial."""

    nct_id: str
    title: str | None  # the trial's brief title (scraped text: untrusted)
    kind: str  # a change kind from trialwatch.kinds.CHANGE_KINDS
    before: Any
    after: Any
    detail: dict[str, Any]
    source: str
    observed_at: datetime  # aware UTC (a naive value is taken as UTC)
    grade: str | None = None  # kinds.GRADES; None (not graded yet) counts as major


@dataclass(frozen=True)
class RenderedMessage:
    subject: str
    text: str
    html: str


def render_message(
    items: Sequence[AlertItem],
    *,
    recipient: str,
    watch_label: str,
    watch_id: int | str | None = None,
) -> RenderedMessage:
    """The email for ``items`` (changes to one or more trials) sent to ``recipient``.

    ``watch_label`` names the watch in the footer; the id for ``trialwatch watch remove`` is
    ``watch_id`` when given, else the number the label names ("watch 7", "#7").
    Raises ValueError when ``items`` is empty.
    """
    if not items:
        raise ValueError("render_message: no changes to render")
    trials = _trials(items)
    context = {
        "trials": trials,
        "count": sum(len(t["changes"]) for t in trials),
        "recipient": one_line(recipient),
        "watch_label": one_line(watch_label),
        "unsubscribe": _unsubscribe(watch_label, watch_id),
    }
    return RenderedMessage(
        subject=_subject(trials),
        text=_ENV.get_template("alert.txt.j2").render(context),
        html=_ENV.get_template("alert.html.j2").render(context),
    )


def one_line(text: str | None) -> str:
    """``text`` without control characters or runs of whitespace (headers, headings), and
    without bidirectional controls."""
    return " ".join(displayed(_CONTROL.sub(" ", text or "")).split())


def truncate(text: str, limit: int = SUBJECT_MAX) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + ELLIPSIS


def valid_nct_id(value: str) -> str | None:
    """The NCT id in canonical form, or None when ``value`` is not NCT + 8 digits."""
    candidate = value.strip().upper()
    return candidate if _NCT_ID.fullmatch(candidate) else None


def headline(item: AlertItem) -> str:
    """The change in a few words, as the subject gives it."""
    d = item.detail or {}
    if item.kind in FINDING_KINDS:
        return f"integrity finding: {FINDING_TITLES[item.kind]}"
    if item.kind == "status":
        return f"{status_words(item.before)} {ARROW} {status_words(item.after)}"
    if item.kind in DATE_KINDS:
        return _date_headline(item)
    if item.kind == "eligibility_criteria":
        return "eligibility criteria changed"
    if item.kind == "enrollment":
        return _enrollment_headline(item.before, item.after)
    if item.kind == "eligibility":
        field = str(d.get("field", "eligibility")).replace("_", " ")
        return f"{field}: {_plain(item.before)} {ARROW} {_plain(item.after)}"
    if item.kind == "locations":
        return _sites_headline(d)
    if item.kind == "sponsor" and d.get("field") == "collaborators":
        return "collaborators changed"
    if item.kind in ("sponsor", "phase"):
        return f"{item.kind}: {_plain(item.before)} {ARROW} {_plain(item.after)}"
    if item.kind == "source_discrepancy":
        return "sources disagree"
    return f"{item.kind.replace('_', ' ')} changed"


def _plain(value: Any) -> str:
    if value is None:
        return "(none)"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(_plain(v) for v in value) or "(none)"
    return one_line(str(value))


def _days(n: int) -> str:
    return f"{n} day" if n == 1 else f"{n} days"


def _date_headline(item: AlertItem) -> str:
    label = item.kind.replace("_", " ")
    before, after = item.before or {}, item.after or {}
    type_before, type_after = before.get("type"), after.get("type")
    delta = (item.detail or {}).get("delta_days")
    if not after:
        return f"{label} removed"
    if not before or delta is None:
        return f"{label} set to {_plain(after.get('date'))}"
    actual = " (actual)" if type_after == "ACTUAL" and type_before != "ACTUAL" else ""
    if delta > 0 and (item.detail or {}).get("slip", True):
        return f"{label} slipped {_days(delta)}{actual}"
    if delta < 0:
        return f"{label} moved earlier by {_days(-delta)}{actual}"
    if before.get("date") == after.get("date") and type_before != type_after:
        return f"{label} confirmed (actual)" if actual else f"{label} now {_plain(type_after)}"
    # Same period stated more precisely ("2018" → "2018-06-01"): not a slip.
    return f"{label}: {_plain(before.get('date'))} {ARROW} {_plain(after.get('date'))}"


def _enrollment_headline(before: Any, after: Any) -> str:
    def count(value: Any) -> str:
        return _plain(value.get("count")) if isinstance(value, dict) else _plain(value)

    line = f"enrollment {count(before)} {ARROW} {count(after)}"
    type_before = before.get("type") if isinstance(before, dict) else None
    type_after = after.get("type") if isinstance(after, dict) else None
    return f"{line} ({one_line(type_after).lower()})" if type_after != type_before else line


def _sites_headline(d: dict[str, Any]) -> str:
    parts = [
        f"{len(d.get(key) or [])} {word}"
        for key, word in (("added", "added"), ("removed", "removed"))
        if d.get(key)
    ]
    moved = len(d.get("status_changed") or [])
    if moved:
        parts.append(f"{moved} status change" + ("" if moved == 1 else "s"))
    return "sites: " + ", ".join(parts) if parts else "sites changed"


def _rank(kind: str) -> int:
    return HEADLINE_ORDER.index(kind) if kind in HEADLINE_ORDER else len(HEADLINE_ORDER)


def _site(value: dict[str, Any]) -> str:
    where = [value.get(k) for k in ("facility", "city", "country")]
    return one_line(", ".join(str(w) for w in where if w)) or "(unnamed site)"


def _site_lines(d: dict[str, Any]) -> list[str]:
    """Sites added (+), removed (−) and whose status changed (~), a capped list each."""

    def site(value: dict[str, Any]) -> str:
        return f"{_site(value)} ({status_words(value.get('status'))})"

    def moved(value: dict[str, Any]) -> str:
        change = f"{status_words(value.get('before'))} {ARROW} {status_words(value.get('after'))}"
        return f"{_site(value.get('site') or {})}: {change}"

    lines: list[str] = []
    for key, mark, form, word in (
        ("added", "+", site, "added"),
        ("removed", MINUS, site, "removed"),
        ("status_changed", "~", moved, "with a new status"),
    ):
        values = d.get(key) or []
        lines += [f"{mark} site: {form(value)}" for value in values[:SITES_SHOWN]]
        if len(values) > SITES_SHOWN:
            lines.append(f"{ELLIPSIS} and {len(values) - SITES_SHOWN} more sites {word}")
    return lines


def _change_view(item: AlertItem) -> dict[str, Any]:
    detail = dict(item.detail or {})
    if item.kind in FINDING_KINDS:  # a finding explains itself in one line
        return {
            "kind": item.kind,
            "grade": GRADES[grade_rank(item.grade)],
            "reason": "",
            "summary": one_line(f"finding {item.kind}: {detail.get('finding', '')}"),
            "items": [],
        }
    if item.kind == "locations":  # summary() expects all three lists
        for key in ("added", "removed", "status_changed"):
            detail[key] = detail.get(key) or []
    grade = GRADES[grade_rank(item.grade)]
    change = Change(item.kind, item.before, item.after, detail, grade=grade)
    lines = _site_lines(change.detail) if item.kind == "locations" else details(change)
    reason = detail.get("reason")
    return {
        "kind": item.kind,
        "grade": grade,
        "reason": one_line(str(reason)) if reason else "",
        "summary": summary(change),
        "items": lines,
    }


def _observed(items: list[AlertItem]) -> str:
    """ "2026-11-22 04:06 UTC (ctgov)", one entry per distinct time and source."""
    seen: list[str] = []
    for item in sorted(items, key=lambda i: _utc(i.observed_at)):
        entry = f"{_utc(item.observed_at):%Y-%m-%d %H:%M} UTC ({one_line(item.source)})"
        if entry not in seen:
            seen.append(entry)
    return "; ".join(seen)


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _grade(item: AlertItem) -> int:
    return grade_rank(GRADES[grade_rank(item.grade)])  # None (not graded yet) counts as major


def _counts(group: list[AlertItem]) -> str:
    """ "3 changes: 2 major, 1 minor" for a trial with more than one change."""
    if len(group) < 2:
        return ""
    by_grade = [(g, sum(1 for i in group if _grade(i) == grade_rank(g))) for g in GRADES]
    parts = [f"{n} {g}" for g, n in reversed(by_grade) if n]
    return f"{len(group)} changes: {', '.join(parts)}"


def _trials(items: Sequence[AlertItem]) -> list[dict[str, Any]]:
    """One view per trial: the trial with the most important grade first, then by headline
    order; in each, changes by grade, then in headline order."""
    groups: dict[str, list[AlertItem]] = {}
    for item in items:
        groups.setdefault(item.nct_id.strip().upper(), []).append(item)
    trials: list[dict[str, Any]] = []
    for position, (key, group) in enumerate(groups.items()):
        group.sort(key=lambda i: (-_grade(i), _rank(i.kind)))  # stable: equal keep their order
        nct_id = valid_nct_id(key)
        title = next((one_line(i.title) for i in group if one_line(i.title)), "")
        trials.append(
            {
                "order": (-_grade(group[0]), _rank(group[0].kind), position),
                "counts": _counts(group),
                "nct_id": nct_id or one_line(key),
                "title": title,
                "headline": headline(group[0]),
                # Only a validated id goes into a URL; otherwise no links.
                "study_url": STUDY_URL.format(nct_id=nct_id) if nct_id else None,
                "history_url": HISTORY_URL.format(nct_id=nct_id) if nct_id else None,
                "observed": _observed(group),
                "changes": [_change_view(i) for i in group],
            }
        )
    trials.sort(key=lambda t: t["order"])
    return trials


def _subject(trials: list[dict[str, Any]]) -> str:
    first = trials[0]
    if len(trials) == 1:
        subject = f"{first['nct_id']}: {first['headline']}"
    else:
        subject = f"{len(trials)} trials changed: {first['nct_id']} {first['headline']}"
        subject += f"; and {len(trials) - 1} more"
    return truncate(one_line(subject))


def _unsubscribe(watch_label: str, watch_id: int | str | None) -> str:
    if watch_id is None:
        found = _WATCH_ID.search(watch_label or "")
        watch_id = found.group(1) if found else None
    shown = one_line(str(watch_id)) if watch_id is not None else ""
    return f"trialwatch watch remove {shown}" if shown.isdigit() else "trialwatch watch remove ID"
