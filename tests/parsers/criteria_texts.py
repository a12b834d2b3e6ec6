"""What the criteria tree tests share: the real criteria texts (tests/fixtures/criteria,
SOURCES.md says where each comes from) and the tree of one as (section, path, text)."""

from __future__ import annotations

from pathlib import Path

from trialwatch.parsers.criteria import parse_criteria

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "criteria"
TEXTS = sorted(p.name for p in FIXTURES.iterdir() if p.name != "SOURCES.md")
INC, EXC = "inclusion", "exclusion"
Tree = list[tuple[str, tuple[str, ...], str]]


def load(name: str) -> str:
    with open(FIXTURES / name, encoding="utf-8", newline="") as f:
        return f.read()


def tree(text: str) -> Tree:
    return [(c.section, tuple(c.path), c.text) for c in parse_criteria(text)]


def edit(text: str, old: str, new: str) -> str:
    """``text`` with ``old``, which it holds once, replaced (a stated edit of a real text)."""
    assert text.count(old) == 1, old
    return text.replace(old, new)


# NCT02110043's criteria as a careful reader reads them (its v1 history HTML).
MCI, AMN = "MCI patients", "amnestic and amnestic plus MCI with"
NCT02110043 = [
    (INC, (MCI,), "right handedness"),
    (INC, (MCI,), "amnestic and amnestic plus MCI with:"),
    (INC, (MCI, AMN), "subjective memory impairment;"),
    (
        INC,
        (MCI, AMN),
        "objective memory difficulties, at least 1 SD below gender, age and education "
        "adjusted standard values;",
    ),
    (INC, (MCI, AMN), "relatively normal performance in other cognitive domains;"),
    (INC, (MCI, AMN), "no constraints in activities of daily livings"),
    (INC, (MCI, AMN), "age: 50-90 years"),
    (EXC, (), "severe internal or psychiatric disease"),
    (EXC, (), "epilepsy"),
    (EXC, (), "other severe neurological diseases, e.g. previous major stroke or brain tumor"),
    (EXC, (), "DMS-IV manifest dementia"),
    (EXC, (), "contraindication for MRT (claustrophobia, metallic implants, tattoos)"),
]
