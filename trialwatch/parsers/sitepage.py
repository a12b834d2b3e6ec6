"""A republishing site's page as what a reader sees: ordered visible lines (plus JSON-LD).

Site parsers read labels and values from these lines, not from the markup, so a page whose
class names, nesting or tags change but whose visible text stays the same gives the same
record. Both an HTML page and the plain text a browser shows (copied or saved as .txt)
become the same `Page` (the HTML read with BeautifulSoup, sitehtml.py; the text with
sitetext.py):

- every block element (`<p>`, `<div>`, `<li>`, `<dt>`/`<dd>`, table cells, headings) and
  every `<br>` starts a line; inline elements (`<span>`, `<a>`, `<b>`) do not, so text a
  layout glues together ("Phase 1Accepts Healthy Volunteers?") stays glued, as it reads;
- a line starts either a list item ("item": an `<li>`, a line with a "•", "- " marker, or
  the line after a bullet that stands alone in its table cell or line), a new paragraph
  ("block": a `<p>`, a table row or a blank line), or continues ("line");
- inside a list item, a paragraph break continues the item: an item is one criterion even
  when its text has a blank line (a browser shows it indented under its bullet);
- script, style and other invisible parts are dropped; entities and whitespace are
  normalised with clean.clean_text;
- page chrome is dropped: navigation, the site's header, asides, small forms (search,
  sign-up), dialogs and cookie banners, share and newsletter widgets, found by tag, ARIA
  role or a class/id word ("cookie-consent", "share-bar", "top-nav"). A page footer (a
  `<footer>`, role contentinfo or a "footer" class/id outside the main content) ends the
  page: nothing after it is read. Chrome that carries no such hint is found by its text
  (site_words.chrome_kind) where the lines are cut into sections (sitelabels.py);
- each line keeps how far it is set in (nested lists, indented blocks, printed
  indentation, `<pre>` text read as printed lines), so criteria keep their nesting;
- an empty paragraph (`<p>&nbsp;</p>`, `<div><br></div>`) is a blank printed line: the
  next line has `gap` set, so a page printing one element per line keeps its paragraphs.

JSON-LD: a `<script type="application/ld+json">` (or other JSON script) object whose @type
is MedicalStudy, MedicalTrial or ClinicalTrial is kept as `Page.trial_json`; the parsers
read its values first. Scraped text is data only: JSON is loaded with json.loads, nothing
from a page is evaluated or used as a path.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from trialwatch.parsers.clean import clean_text, decode_body
from trialwatch.parsers.sitehtml import html_page
from trialwatch.parsers.sitetext import Line, Start, text_lines

__all__ = ["Line", "Page", "Start", "json_list", "json_text", "read_page", "text_lines"]

_SCHEMA_MEMBER = re.compile(r"^https?://schema\.org/([A-Za-z]+)$")
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])")
_TRIAL_TYPES = frozenset({"medicalstudy", "medicaltrial", "clinicaltrial"})


@dataclass(frozen=True)
class Page:
    lines: tuple[Line, ...]
    trial_json: dict[str, Any] | None = None


def read_page(body: bytes) -> Page:
    """HTML or plain text -> Page. An empty or non-UTF-8 body raises ParseError."""
    text = decode_body(body)
    if not _HTML_LIKE.match(text):
        return Page(lines=tuple(text_lines(text)))
    lines, scripts = html_page(text)
    return Page(lines=tuple(lines), trial_json=_trial_json(scripts))


_HTML_LIKE = re.compile(r"^\s*<(?:!doctype|!--|[a-zA-Z])", re.IGNORECASE)


def _trial_json(scripts: list[str]) -> dict[str, Any] | None:
    """The first MedicalStudy/MedicalTrial/ClinicalTrial object in the page's JSON scripts."""
    for script in scripts:
        try:
            data = json.loads(script)
        except (json.JSONDecodeError, RecursionError):
            continue  # a broken script is the site's problem, not a reason to drop the page
        found = _find_trial(data, depth=0)
        if found is not None:
            return found
    return None


def _find_trial(data: Any, depth: int) -> dict[str, Any] | None:
    if depth > 8:
        return None
    if isinstance(data, list):
        for value in data:
            if (found := _find_trial(value, depth + 1)) is not None:
                return found
        return None
    if not isinstance(data, dict):
        return None
    kinds = data.get("@type")
    kinds = kinds if isinstance(kinds, list) else [kinds]
    if any(isinstance(k, str) and k.lower() in _TRIAL_TYPES for k in kinds):
        return data
    for key in ("@graph", "mainEntity", "about"):
        if (found := _find_trial(data.get(key), depth + 1)) is not None:
            return found
    return None


def json_text(page: Page, key: str) -> str | None:
    """A text value of the page's trial JSON (a {"name": ...} object gives its name)."""
    values = json_list(page, key)
    return values[0] if values else None


def json_list(page: Page, key: str) -> list[str]:
    """The text values of a trial JSON member: a string, an object with a name, or a list."""
    if page.trial_json is None:
        return []
    value = page.trial_json.get(key)
    items = value if isinstance(value, list) else [value]
    out: list[str] = []
    for item in items:
        if isinstance(item, dict):
            item = item.get("name") or item.get("value")
        text = clean_text(item) if isinstance(item, str | int) else None
        if text is not None and (m := _SCHEMA_MEMBER.match(text)):
            text = _CAMEL.sub(" ", m[1])  # "https://schema.org/ActiveNotRecruiting"
        if text is not None:
            out.append(text)
    return list(dict.fromkeys(out))  # repeats dropped, first kept: one pass, not a search each
