"""Label-anchored lookup on a site page's visible lines (see sitepage.py).

A site parser names the labels its pages show ("Status and phase", "Trial end date:", ...).
The page's lines are cut into sections at those labels; a label's value is the rest of its
own line ("End date Dec 31, 2023", "Phase: 2") and the following lines up to the next
label, so a label and its value are read whether they share an element or not. Matching
ignores case and a trailing ":", so "Status", "STATUS:" and "Status :" are one label.
Inside the eligibility criteria a one-word label must stand alone on its line: "Age 18 or
older" there is a criterion, not the label "Age".

Layouts glue text together ("...in patients.Phase:", "NoDetails"): a label marked `inline`
is also found inside a line, with its exact case, when it ends with ":" or "?" or ends the
line. Values that a layout shows twice in a row ("Recruiting" / "Recruiting") are read once.

Page chrome left in the text (site_words.chrome_kind) is never a value: before the first
label it is skipped (a cookie banner, a menu); after it, a widget line ("Share", "Subscribe")
ends the section it interrupts, and a footer line ("Cookie settings", "Privacy policy",
"© 2026 ...") ends the record: nothing after it is read.

Criteria are read with the criteria tree parser on their printed lines, wrapped lines
rejoined first (`eligibility_from_lines`), so one element or `<br>` per printed line gives
the same criteria as one element per criterion.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from trialwatch.parsers import ParseError
from trialwatch.parsers.clean import clean_text
from trialwatch.parsers.criteria import heading_test
from trialwatch.parsers.criteria_read import CLOSES, STRONG, marker
from trialwatch.parsers.eligibility import eligibility_from_text
from trialwatch.parsers.site_words import chrome_kind
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
    in_criteria = False  # inside the criteria, a one-word label must stand alone
    for line in lines:
        chrome = chrome_kind(line.text)
        if chrome is not None:
            if len(sections) == 1:
                continue  # a banner or menu before the record: skipped
            if chrome == "end":
                break  # a footer: nothing after it is the record's
            sections.append(Section(None, ""))  # a widget ends the section it interrupts
            continue
        for label, heading, text in _split_line(line.text, labels, in_criteria):
            if label is not None:
                sections.append(Section(label, heading))
                in_criteria = bool(_CRITERIA_HEADING.match(heading))
            if text:
                start = line.start if label is None else "line"
                sections[-1].lines.append(Line(text, start, line.gap and label is None))
                in_criteria = in_criteria or bool(_CRITERIA_HEADING.match(text))
    return sections


def _split_line(
    text: str, labels: list[Label], strict: bool = False
) -> list[tuple[Label | None, str, str]]:
    """[(label or None, the label as shown, the text after it)] for one visible line."""
    out: list[tuple[Label | None, str, str]] = []
    head = _line_label(text, labels, strict)
    if head is not None:
        label, heading, rest = head
        out.append((label, heading, ""))
        text = rest
    else:
        out.append((None, "", ""))
    while text:
        hit = _inline_label(text, labels, strict)
        if hit is None:
            out[-1] = (out[-1][0], out[-1][1], text)
            break
        label, position = hit
        before, text = text[:position].strip(), text[position + len(label.text) :].strip()
        out[-1] = (out[-1][0], out[-1][1], before)
        out.append((label, label.text, ""))
    return out


def _line_label(text: str, labels: list[Label], strict: bool) -> tuple[Label, str, str] | None:
    """A label at the start of the line: (label, heading, the same-line value).

    Any label may share its element with its value ("End date Dec 31, 2023", "Phase: 2").
    A word label needs a space or ":" before the value, and a value that starts with no small
    letter ("Treatment of ..." is a sentence); `strict` (inside the criteria) also leaves a
    one-word label ("Age 18 or older", "Status post ...") to the criterion it starts.
    """
    key = _key(text)
    for label in labels:
        if label.pattern is not None:
            if label.pattern.fullmatch(text):
                return label, text, ""
        elif key == label.key:
            return label, text, ""
    found: list[tuple[int, Label]] = []
    for label in labels:
        if label.pattern is not None:
            m = label.pattern.match(text)
            shown = m[0].strip() if m else ""
        else:
            # A label shown with its ":" needs it: "Phase 1" is the value of "Phase:".
            shown = text[: len(label.text)]
            shown = shown if shown.lower() == label.text.lower() else ""
        if shown:
            found.append((len(shown), label))
    for size, label in sorted(found, key=lambda hit: -hit[0]):
        shown = text[:size]
        punctuated = shown.endswith((":", "?"))
        rest = text[size:]
        glued = label.same_line and not punctuated  # "SponsorTongji Hospital"
        if not (punctuated or glued or rest[:1] in (" ", ":")):
            continue  # "Sexuality", "Conditionsxyz": another word
        rest = rest.lstrip(" :").strip()
        # "Sponsored by", "Treatment of ...": a word label's value starts with no small letter.
        if not rest or (rest[:1].islower() and not punctuated):
            continue
        if strict and not punctuated and len(shown.split()) < 2:
            continue
        return label, shown, rest
    return None


def _inline_label(text: str, labels: list[Label], strict: bool) -> tuple[Label, int] | None:
    """The earliest inline label inside the text (exact case), with its position; `strict`
    (inside the criteria): only a label ending with ":" or "?"."""
    best: tuple[Label, int] | None = None
    for label in labels:
        if not label.inline or label.pattern is not None:
            continue
        punctuated = label.text.endswith((":", "?"))
        if strict and not punctuated:
            continue
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
    for index, section in enumerate(sections.items):
        if section.label is None and index and started:
            break  # page chrome ("Share", a sign-up) ended the criteria
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

    Wrapped lines are rejoined first (see `_printed`), so `text` is one line per criterion,
    heading or paragraph, without list markers, whatever the markup or its wrapping.
    """
    shown: list[str] = []
    marked: list[str] = []
    for start, text in _logical_lines(_printed(lines)):
        for i, piece in enumerate(_unglue(text)):
            shown.append(piece)
            if start == "item" and i == 0:
                marked.append(f"* {piece}")
            elif start == "block" and i == 0:
                marked.extend(["", piece])
            else:
                marked.append(piece)
    if not shown:
        return None
    # The re-marked lines are plain text: a page's "> 18 years" is no markdown quote.
    eligibility = eligibility_from_text("\n".join(marked), "plain", shown="\n".join(shown))
    return eligibility if eligibility is not None and eligibility.criteria else None


def _printed(lines: list[Line]) -> list[Line]:
    """The lines as printed lines: "block" only where the page shows a blank line.

    A page printing one element per line makes every line a paragraph; it shows itself by
    paragraphs that go on with a line a hard wrap cut (`_continues`). Where it prints blank
    lines as empty paragraphs (`gap`), those are the paragraph breaks; where it prints none
    (and two or more lines run on), every line that starts no item runs on from the one
    before. A page with one paragraph per criterion keeps its paragraphs, a stray empty one
    or not.
    """
    pairs = zip(lines, lines[1:], strict=False)
    wraps = sum(
        1 for a, b in pairs if b.start == "block" and not b.gap and _continues(a.text, b.text)
    )
    if wraps and any(line.gap for line in lines):
        return [
            line if line.start == "item" else Line(line.text, "block" if line.gap else "line")
            for line in lines
        ]
    if wraps >= 2:
        return [Line(line.text, "line") if line.start == "block" else line for line in lines]
    return lines


_SENTENCE_END = (".", ";", ":", "!", "?")


def _continues(before: str, text: str) -> bool:
    """`text` goes on with the line before it, which a hard wrap cut: that line is long and
    ends no sentence, and this one starts with a small letter ("mofetil or rituximab) ...")."""
    return len(before) >= 50 and not before.endswith(_SENTENCE_END) and text[:1].islower()


def _logical_lines(lines: list[Line]) -> list[tuple[str, str]]:
    """(start, text) with each wrapped line joined to the line it continues: a "line", or a
    paragraph that continues a cut line (a blank line inside a criterion). A line that
    opens with a list marker or a heading, or follows a bare heading, is left to the
    criteria reader."""
    out: list[tuple[str, str]] = []
    before = ""
    for line in lines:
        own = marker(line.text) is not None or heading_test(line.text) & STRONG
        runs_on = line.start == "line" or (line.start == "block" and _continues(before, line.text))
        if out and runs_on and not own and not heading_test(out[-1][1]) & CLOSES:
            out[-1] = (out[-1][0], f"{out[-1][1]} {line.text}")
        else:
            out.append((line.start, line.text))
        before = line.text
    return out


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

_NCT_IN_URL = re.compile(r"(?<![A-Za-z0-9])(NCT[0-9]{8})(?![0-9])", re.IGNORECASE | re.ASCII)


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
