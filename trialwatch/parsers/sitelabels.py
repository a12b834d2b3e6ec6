"""Label-anchored lookup on a site page's visible lines (see sitepage.py).

A site parser names the labels its pages show ("Status and phase", "Trial end date:", ...).
The page's lines are cut into sections at those labels; a label's value is the rest of its
own line (when the label allows it) and the following lines up to the next label. Matching
ignores case and a trailing ":", so "Status", "STATUS:" and "Status :" are one label.

Layouts glue text together ("...in patients.Phase:", "NoDetails"): a label marked `inline`
is also found inside a line, with its exact case, when it ends with ":" or "?" or ends the
line. Values that a layout shows twice in a row ("Recruiting" / "Recruiting") are read once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from trialwatch.parsers import ParseError
from trialwatch.parsers.clean import clean_text
from trialwatch.parsers.eligibility import eligibility_from_text
from trialwatch.parsers.sitepage import Line, Page
from trialwatch.record import NCT_RE, Eligibility, TrialRecord


@dataclass(frozen=True)
class Label:
    """A label as a page shows it. `pattern` (a regex over the whole line) overrides text."""

    text: str
    same_line: bool = False  # its value may follow on its own line: "SponsorTongji Hospital"
    inline: bool = False  # may be glued after other text: "Phase 1Accepts Healthy Volunteers?"
    pattern: re.Pattern[str] | None = None

    @property
    def key(self) -> str:
        return _key(self.text)


@dataclass
class Section:
    label: Label | None  # None for the lines before the first label
    heading: str  # the label's text as the page shows it ("Anticipated Enrollment :")
    lines: list[Line] = field(default_factory=list)

    def values(self) -> list[str]:
        """The section's value lines, a value repeated on the next line read once."""
        out: list[str] = []
        for line in self.lines:
            if not out or out[-1] != line.text:
                out.append(line.text)
        return out

    def first(self) -> str | None:
        values = self.values()
        return values[0] if values else None


def _key(text: str) -> str:
    # "?" is kept: "Accepts Healthy Volunteers?" is a label, "Accepts Healthy Volunteers" its value.
    return re.sub(r"\s+", " ", text).strip().rstrip(":").strip().lower()


class Sections:
    """A page cut at a site's labels; look values up by the label's text."""

    def __init__(self, page: Page, labels: list[Label]) -> None:
        self.page = page
        self.labels = labels
        self.items: list[Section] = _cut(page.lines, labels)

    def found(self, texts: list[str]) -> list[str]:
        """Which of these labels the page shows."""
        keys = {s.label.key for s in self.items if s.label is not None}
        return [t for t in texts if _key(t) in keys]

    def get(self, text: str) -> Section | None:
        key = _key(text)
        for section in self.items:
            if section.label is not None and section.label.key == key:
                return section
        return None

    def first(self, *texts: str) -> str | None:
        """The first value line under the first of these labels the page shows."""
        for text in texts:
            section = self.get(text)
            if section is not None and (value := section.first()) is not None:
                return value
        return None

    def values(self, text: str) -> list[str]:
        section = self.get(text)
        return section.values() if section is not None else []

    def preamble(self) -> list[str]:
        """The lines before the first label (title, sponsor, status chips)."""
        head = self.items[0] if self.items and self.items[0].label is None else None
        return head.values() if head is not None else []


def _cut(lines: tuple[Line, ...], labels: list[Label]) -> list[Section]:
    sections = [Section(None, "")]
    for line in lines:
        for label, heading, text in _split_line(line.text, labels):
            if label is not None:
                sections.append(Section(label, heading))
            if text:
                start = line.start if label is None else "line"
                sections[-1].lines.append(Line(text, start))
    return sections


def _split_line(text: str, labels: list[Label]) -> list[tuple[Label | None, str, str]]:
    """[(label or None, the label as shown, the text after it)] for one visible line."""
    out: list[tuple[Label | None, str, str]] = []
    head = _line_label(text, labels)
    if head is not None:
        label, heading, rest = head
        out.append((label, heading, ""))
        text = rest
    else:
        out.append((None, "", ""))
    while text:
        hit = _inline_label(text, labels)
        if hit is None:
            out[-1] = (out[-1][0], out[-1][1], text)
            break
        label, position = hit
        before, text = text[:position].strip(), text[position + len(label.text) :].strip()
        out[-1] = (out[-1][0], out[-1][1], before)
        out.append((label, label.text, ""))
    return out


def _line_label(text: str, labels: list[Label]) -> tuple[Label, str, str] | None:
    """A label at the start of the line: (label, heading, the same-line value)."""
    key = _key(text)
    for label in labels:
        if label.pattern is not None:
            if label.pattern.fullmatch(text):
                return label, text, ""
        elif key == label.key:
            return label, text, ""
    for label in sorted(labels, key=lambda lb: -len(lb.text)):
        punctuated = label.text.endswith((":", "?"))
        if label.pattern is not None or not (label.same_line or punctuated):
            continue
        if text.lower().startswith(label.text.lower()):
            rest = text[len(label.text) :].lstrip(" :")
            # "Sponsored by", "Treatment of ...": a word label's value starts with no small letter.
            if rest[:1].islower() and not punctuated:
                continue
            return label, text[: len(label.text)], rest.strip()
    return None


def _inline_label(text: str, labels: list[Label]) -> tuple[Label, int] | None:
    """The earliest inline label inside the text (exact case), with its position."""
    best: tuple[Label, int] | None = None
    for label in labels:
        if not label.inline or label.pattern is not None:
            continue
        punctuated = label.text.endswith((":", "?"))
        position = text.find(label.text, 1)
        if position < 0 or (not punctuated and position + len(label.text) != len(text)):
            continue
        if best is None or position < best[1]:
            best = (label, position)
    return best


# --- eligibility -------------------------------------------------------------------

_CRITERIA_HEADING = re.compile(
    r"^(?:key\s+)?(?:inclusion|exclusion)\s+criteria\s*(?::|$)", re.IGNORECASE
)
_GLUED_HEADING = re.compile(r"^((?:inclusion|exclusion)\s+criteria\s*:)\s*(\S.*)$", re.IGNORECASE)
_MID_HEADING = re.compile(r"\s(?=(?:inclusion|exclusion)\s+criteria\s*:)", re.IGNORECASE)
_ENUMERATOR = re.compile(r"(?:(?<=\s)|^)(\d{1,2})\.\s")


def criteria_lines(sections: Sections, stop_at: list[str] | None = None) -> list[Line]:
    """Lines from the first "Inclusion/Exclusion Criteria" heading to the next other label."""
    lines: list[Line] = []
    started = False
    stops = {_key(text) for text in stop_at or []}
    for section in sections.items:
        if section.label is not None:
            is_heading = bool(_CRITERIA_HEADING.match(section.heading))
            if started and not is_heading and (not stops or section.label.key in stops):
                break
            started = started or is_heading
            if started:
                lines.append(Line(section.heading, "block"))
        for line in section.lines:
            if not started and _CRITERIA_HEADING.match(line.text):
                started = True
            if started:
                lines.append(line)
    return lines


def eligibility_from_lines(lines: list[Line]) -> Eligibility | None:
    """Eligibility (text + items) from criteria lines; None when there are no items.

    `text` is the visible lines without list markers, so two markups of one text agree.
    """
    shown: list[str] = []
    marked: list[str] = []
    for line in lines:
        for i, piece in enumerate(_unglue(line.text)):
            shown.append(piece)
            if line.start == "item" and i == 0:
                marked.append(f"* {piece}")
            elif line.start == "block" and i == 0:
                marked.extend(["", piece])
            else:
                marked.append(piece)
    if not shown:
        return None
    # The re-marked lines are plain text: a page's "> 18 years" is no markdown quote.
    eligibility = eligibility_from_text("\n".join(marked), "plain", shown="\n".join(shown))
    return eligibility if eligibility is not None and eligibility.criteria else None


def _unglue(text: str) -> list[str]:
    """Split what a layout ran together: a heading glued to its first item, a heading in
    mid-line, and a run of numbered items on one line ("1. ... 2. ... 3. ...")."""
    pieces: list[str] = []
    for part in _MID_HEADING.split(text):
        m = _GLUED_HEADING.match(part)
        if m:
            pieces.append(m[1])
            part = m[2]
        pieces.extend(_split_numbered_run(part))
    return [p for p in (clean_text(p) for p in pieces) if p]


def _split_numbered_run(text: str) -> list[str]:
    """Cut before each enumerator of a 1, 2, 3, ... run (at least three long)."""
    cuts: list[int] = []
    expected = 1
    for m in _ENUMERATOR.finditer(text):
        if int(m[1]) == expected:
            cuts.append(m.start())
            expected += 1
    if len(cuts) < 3:
        return [text]
    bounds = [0, *cuts, len(text)] if cuts[0] else [*cuts, len(text)]
    return [text[a:b] for a, b in zip(bounds, bounds[1:], strict=False)]


# --- identifiers and the minimum a trial page shows ----------------------------------

_NCT_IN_URL = re.compile(r"(?<![A-Za-z0-9])(NCT\d{8})(?![0-9])", re.IGNORECASE)


def nct_from_url(url: str | None) -> str | None:
    """The NCT id in a page address's path ("/clinical-trials/Some-Title/NCT05828225")."""
    if not url:
        return None
    path = re.split(r"[?#]", re.sub(r"^[a-z]+://[^/]*", "", url, flags=re.IGNORECASE))[0]
    m = _NCT_IN_URL.search(path)
    return m[1].upper() if m else None


def nct_in(value: str | None) -> str | None:
    """The value as an NCT id when it is one ("NCT02249676"), else None."""
    text = (clean_text(value) or "").upper()
    return text if NCT_RE.match(text) else None


def require_labels(sections: Sections, anchors: list[str]) -> None:
    """A page that shows none of the site's key labels is not a trial page of this site."""
    if not sections.found(anchors) and sections.page.trial_json is None:
        shown = ", ".join(f'"{a}"' for a in anchors)
        raise ParseError(f"no trial found: none of the labels {shown} on the page")


def require_trial(record: TrialRecord) -> TrialRecord:
    """The minimum a trial page shows: an identifier, a status, or eligibility criteria.

    Checked before an NCT id is taken from the URL, so a login wall or an error page at a
    trial's address is not read as that trial.
    """
    has_criteria = record.eligibility is not None
    if record.nct_id or record.secondary_ids or record.status_raw or has_criteria:
        return record
    raise ParseError("no trial found: the page shows no NCT id, status or eligibility criteria")


def finish(record: TrialRecord, url: str | None) -> TrialRecord:
    """require_trial, then the NCT id from the URL when the page shows none."""
    require_trial(record)
    if record.nct_id is None and (from_url := nct_from_url(url)) is not None:
        return record.model_copy(update={"nct_id": from_url})
    return record
