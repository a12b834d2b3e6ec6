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

The criteria under their headings are read by sitecriteria.py.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property

from trialwatch.parsers import ParseError
from trialwatch.parsers.clean import clean_text
from trialwatch.parsers.site_words import chrome_kind
from trialwatch.parsers.sitepage import Line, Page
from trialwatch.record import NCT_RE, TrialRecord

# An "Inclusion/Exclusion Criteria" heading: inside the criteria, one-word labels stand alone.
CRITERIA_HEADING = re.compile(
    r"^(?:key\s+)?(?:inclusion|exclusion)\s+criteria\s*(?::|$)", re.IGNORECASE
)


@dataclass(frozen=True)
class Label:
    """A label as a page shows it. `pattern` (a regex over the whole line) overrides text."""

    text: str
    same_line: bool = False  # its value may follow on its own line: "SponsorTongji Hospital"
    inline: bool = False  # may be glued after other text: "Phase 1Accepts Healthy Volunteers?"
    pattern: re.Pattern[str] | None = None

    @cached_property  # looked up for every label on every line of a page
    def key(self) -> str:
        return label_key(self.text)


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


def label_key(text: str) -> str:
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
        return [t for t in texts if label_key(t) in keys]

    def get(self, text: str) -> Section | None:
        key = label_key(text)
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


class _Labels:
    """A site's labels, indexed once for the lookups made on every line of a page (trying
    every label on every line costs tens of calls a line)."""

    def __init__(self, labels: list[Label]) -> None:
        self.labels = labels
        self.patterns = [(i, lb.pattern) for i, lb in enumerate(labels) if lb.pattern is not None]
        self.keys: dict[str, int] = {}  # a word label's key -> its first place in `labels`
        self.firsts: dict[str, list[int]] = {}  # a word label's first letter, lower case
        for i, label in enumerate(labels):
            if label.pattern is None:
                self.keys.setdefault(label.key, i)
                self.firsts.setdefault(label.text[:1].lower(), []).append(i)
        # Found inside a line; inside the criteria (strict) only one ending with ":" or "?".
        inline = [label for label in labels if label.inline and label.pattern is None]
        self.inline = {False: inline, True: [label for label in inline if _punctuated(label)]}

    def whole(self, text: str) -> Label | None:
        """The first label that is the whole line."""
        places = [i for i, pattern in self.patterns if pattern.fullmatch(text)]
        key = label_key(text)
        if key in self.keys:
            places.append(self.keys[key])
        return self.labels[min(places)] if places else None

    def starting(self, text: str) -> list[Label]:
        """The labels the line may start with, in their order: those with a pattern and the
        word labels with the line's first letter."""
        places = [i for i, _ in self.patterns] + self.firsts.get(text[:1].lower(), [])
        return [self.labels[i] for i in sorted(places)]


def _cut(lines: tuple[Line, ...], labels: list[Label]) -> list[Section]:
    index = _Labels(labels)
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
        for label, heading, text in _split_line(line.text, index, in_criteria):
            if label is not None:
                sections.append(Section(label, heading))
                in_criteria = bool(CRITERIA_HEADING.match(heading))
            if text:
                start = line.start if label is None else "line"
                gap = line.gap and label is None
                sections[-1].lines.append(Line(text, start, gap, line.indent))
                in_criteria = in_criteria or bool(CRITERIA_HEADING.match(text))
    return sections


def _split_line(
    text: str, labels: _Labels, strict: bool = False
) -> list[tuple[Label | None, str, str]]:
    """[(label or None, the label as shown, the text after it)] for one visible (cleaned)
    line."""
    out: list[tuple[Label | None, str, str]] = []
    head = _line_label(text, labels, strict)
    if head is not None:
        label, heading, rest = head
        out.append((label, heading, ""))
        text = rest
    else:
        out.append((None, "", ""))
    inline = labels.inline[strict]
    at = 0  # the rest of the line starts here
    ahead: dict[str, int] = {}  # each label's next place in the line (-1: none)
    while at < len(text):
        hit = _inline_label(text, at, inline, ahead)
        if hit is None:
            out[-1] = (out[-1][0], out[-1][1], text[at:])
            break
        label, position = hit
        before, at = text[at:position].strip(), _after_spaces(text, position + len(label.text))
        out[-1] = (out[-1][0], out[-1][1], before)
        out.append((label, label.text, ""))
    return out


def _line_label(text: str, labels: _Labels, strict: bool) -> tuple[Label, str, str] | None:
    """A label at the start of the line: (label, heading, the same-line value).

    Any label may share its element with its value ("End date Dec 31, 2023", "Phase: 2").
    A word label needs a space or ":" before the value, and a value that starts with no small
    letter ("Treatment of ..." is a sentence); `strict` (inside the criteria) also leaves a
    one-word label ("Age 18 or older", "Status post ...") to the criterion it starts.
    """
    if (whole := labels.whole(text)) is not None:
        return whole, text, ""
    found: list[tuple[int, Label]] = []
    for label in labels.starting(text):
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


def _punctuated(label: Label) -> bool:
    return label.text.endswith((":", "?"))


def _after_spaces(text: str, at: int) -> int:
    while at < len(text) and text[at].isspace():
        at += 1
    return at


def _inline_label(
    text: str, at: int, labels: list[Label], ahead: dict[str, int]
) -> tuple[Label, int] | None:
    """The earliest of these labels inside the rest of the line from `at` (exact case), with
    its position; one without ":" or "?" only where it ends the line.

    `ahead` keeps where each label was found while that is still ahead of `at`: searching
    the rest of the line again for every label found in it would be quadratic.
    """
    best: tuple[Label, int] | None = None
    for label in labels:
        position = ahead.get(label.text, 0)
        if 0 <= position <= at:
            position = ahead[label.text] = text.find(label.text, at + 1)
        end = position + len(label.text)
        if position < 0 or (not _punctuated(label) and end != len(text)):
            continue
        if best is None or position < best[1]:
            best = (label, position)
    return best


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


# --- what a site normally shows ------------------------------------------------------

_SHOWN = {
    "status": lambda r: r.status_raw is not None,
    "phase": lambda r: bool(r.phases),
    "eligibility": lambda r: r.eligibility is not None,
}


def note_missing(
    warnings: list[str] | None, site: str, record: TrialRecord, shows: tuple[str, ...]
) -> None:
    """A page that yields none of a field its site shows (a status, a phase, eligibility
    criteria) may be a page the parser no longer understands, not a trial without them: one
    line for `warnings`, so ingest says so (the record is still kept)."""
    missing = [field for field in shows if not _SHOWN[field](record)]
    if warnings is not None and missing:
        what = " or ".join(missing) if len(missing) < 3 else "status, phase or eligibility"
        warnings.append(f"{site} page read without {what}, which its pages show; kept without")
