"""The benchmark's results as a markdown table, the targets met or not, and the README's
results section (one table per configuration, between marker comments)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

BEGIN, END = "<!-- results:begin -->", "<!-- results:end -->"
MB = 1_000_000

# Targets from the spec (README.md, "Targets").
FIRST_LOAD_RATE = 2000  # records/s at least, for a first load and for a reparse
FLOOR_FACTORS = {"import": 2.0, "crawl": 4.0}  # a daily snapshot within this many floors
BIG_N, BIG_SECONDS = 100_000, 20.0  # a daily snapshot of 100,000 trials on SQLite, under
PEAK_MB = 300
PEER_SPEEDUP = 10.0  # the run's days in total, this many times faster than git-history --ignore
GROWTH_PCT = 5.0  # a daily snapshot adds at most this share of the first load's size

COLUMNS = (
    "day",
    "step",
    "records",
    "seconds",
    "records/s",
    "× floor",
    "git-history ÷ this",
    "--ignore ÷ this",
    "peak MB",
    "DB MB",
    "raw MB",
    "added",
    "changes (found / injected)",
)


def _num(value: float | None, digits: int = 1) -> str:
    if value is None:
        return "–"
    return f"{value:,.{digits}f}"


def _mb(value: int | None) -> str:
    return "–" if value is None else f"{value / MB:,.1f}"


def row_cells(step: dict[str, Any]) -> list[str]:
    changes = "–"
    if step.get("expected") is not None:
        found, expected = step.get("found"), step["expected"]
        flag = "" if step.get("match") else " **MISMATCH**"
        changes = f"{'?' if found is None else found} / {expected}{flag}"
    elif step.get("versions") is not None:
        changes = f"{step['versions']:,} new versions"
    seconds = step.get("seconds")
    return [
        str(step["day"]),
        step["label"] + ("" if step.get("ok", True) else " **FAILED**"),
        f"{step['records']:,}",
        _num(seconds, 2),
        _num(step.get("records_per_s"), 0),
        _num(step.get("x_floor"), 2),
        _num(step.get("peer_speedup"), 1),
        _num(step.get("peer_ignore_speedup"), 1),
        _mb(step.get("peak_bytes")),
        _mb(step.get("db_bytes")),
        _mb(step.get("raw_bytes")),
        "–" if step.get("added_pct") is None else f"{step['added_pct']:.1f} %",
        changes,
    ]


def table(steps: list[dict[str, Any]]) -> str:
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(row_cells(s)) + " |" for s in steps]
    return "\n".join(lines)


def _of(steps: list[dict[str, Any]], key: str, daily: bool) -> list[dict[str, Any]]:
    return [
        s
        for s in steps
        if s["step"] == key and (s["day"] > 0) == daily and s.get("seconds") is not None
    ]


def targets(result: dict[str, Any]) -> list[tuple[str, str, bool | None]]:
    """(target, what was measured, met?) — None where the run cannot tell."""
    steps = result["steps"]
    n, db = result["params"]["trials"], result["db"]
    first = _of(steps, "import", daily=False)
    daily = _of(steps, "import", daily=True)
    crawls = _of(steps, "crawl", daily=True)
    out: list[tuple[str, str, bool | None]] = []
    if first:
        rate = first[0]["records_per_s"]
        out.append(
            (f"first load ≥ {FIRST_LOAD_RATE:,} records/s", f"{rate:,.0f}", rate >= FIRST_LOAD_RATE)
        )
    for name, group in (("import", daily), ("crawl", crawls)):
        factors = [s["x_floor"] for s in group if s.get("x_floor") is not None]
        if factors:
            worst, bound = max(factors), FLOOR_FACTORS[name]
            out.append(
                (
                    f"daily snapshot ({name}) within {bound:g}× the floor",
                    f"{worst:.2f}× (N={n:,})",
                    worst <= bound,
                )
            )
    reparsed = [s for s in steps if s["step"] == "reparse" and s.get("records_per_s")]
    if reparsed:
        rate = reparsed[0]["records_per_s"]
        out.append(
            (
                f"reparse ≥ {FIRST_LOAD_RATE:,} versions/s",
                f"{rate:,.0f} ({reparsed[0].get('x_floor') or 0:.1f}× the floor)",
                rate >= FIRST_LOAD_RATE,
            )
        )
    if daily:
        worst_s = max(s["seconds"] for s in daily)
        big = n >= BIG_N and db == "sqlite"
        out.append(
            (
                f"daily snapshot of {BIG_N:,} trials under {BIG_SECONDS:g} s on SQLite",
                f"{worst_s:.1f} s (N={n:,}, {db})",
                worst_s < BIG_SECONDS if big else None,
            )
        )
    peaks = [
        s["peak_bytes"] for s in steps if s["step"] in ("import", "crawl") and s.get("peak_bytes")
    ]
    if peaks:
        out.append(
            (
                f"peak memory (import and crawl) under {PEAK_MB} MB",
                f"{max(peaks) / MB:,.0f} MB",
                max(peaks) < PEAK_MB * MB,
            )
        )
    peer = [s for s in steps if s["step"] == "peer-ignore" and s.get("seconds")]
    if peer and len(peer) == len(first + daily):
        ours = sum(s["seconds"] for s in first + daily)
        theirs = sum(s["seconds"] for s in peer)
        out.append(
            (
                f"the {len(peer)} days in total ≥ {PEER_SPEEDUP:g}× faster than git-history "
                "--ignore derivedSection",
                f"{theirs / ours:.1f}× ({theirs:,.1f} s against {ours:,.1f} s)",
                theirs / ours >= PEER_SPEEDUP,
            )
        )
    for name, group in (("import", daily), ("crawl", crawls)):
        growth = [s["added_pct"] for s in group if s.get("added_pct") is not None]
        if growth:
            out.append(
                (
                    f"daily snapshot ({name}) adds ≤ {GROWTH_PCT:g} % of the first load's "
                    "DB + raw store",
                    f"{max(growth):.1f} %",
                    max(growth) <= GROWTH_PCT,
                )
            )
    checked = [s for s in steps if s.get("expected") is not None]
    if checked:
        matched = all(s.get("match") for s in checked)
        out.append(
            (
                "change counts equal injected churn exactly",
                f"{sum(1 for s in checked if s.get('match'))}/{len(checked)} steps exact",
                matched,
            )
        )
    return out


def heading(result: dict[str, Any]) -> str:
    p = result["params"]
    title = f"### {result['db']}, {p['trials']:,} trials, {p['days']} days"
    if p.get("churn", 0.01) != 0.01:  # another configuration: a table of its own
        title += f", {p['churn'] * 100:g} % changed a day"
    return title


def markdown(result: dict[str, Any]) -> str:
    p = result["params"]
    meta = result["meta"]
    lines = [
        heading(result),
        "",
        f"{meta['when']}, trialwatch at {meta['trialwatch']}, Python {meta['python']}, "
        f"{meta['cpus']} CPU(s); average study {result['average_study_bytes']:,} bytes, "
        f"{p['churn'] * 100:g} % changed a day (seed {p['seed']}).",
        "",
        table(result["steps"]),
        "",
        "| target | measured | met |",
        "|---|---|---|",
    ]
    for name, measured, met in targets(result):
        mark = "n/a" if met is None else ("yes" if met else "**no**")
        lines.append(f"| {name} | {measured} | {mark} |")
    for note in result.get("notes", []):
        lines += ["", note]
    return "\n".join(lines) + "\n"


def update_readme(readme: Path, section: str) -> None:
    """Put `section` (starting with its ### heading) between the markers, replacing the
    section with the same heading and keeping the others, sorted by heading."""
    text = readme.read_text(encoding="utf-8")
    if BEGIN not in text or END not in text:
        raise ValueError(f"{readme}: no {BEGIN} ... {END} markers to put the results between")
    head, rest = text.split(BEGIN, 1)
    block, tail = rest.split(END, 1)
    sections = {
        "### " + part.split("\n", 1)[0].strip(): "### " + part.strip()
        for part in re.split(r"^### ", block, flags=re.M)[1:]
    }
    title = section.split("\n", 1)[0].strip()
    sections[title] = section.strip()
    body = "\n\n".join(sections[k] for k in sorted(sections, key=_order))
    readme.write_text(f"{head}{BEGIN}\n{body}\n{END}{tail}", encoding="utf-8")


def _order(title: str) -> tuple[str, int]:
    # "### sqlite, 10,000 trials, 3 days" -> by database, then N
    found = re.search(r"([\d,]+) trials", title)
    return (title.split(",")[0], int(found.group(1).replace(",", "")) if found else 0)
