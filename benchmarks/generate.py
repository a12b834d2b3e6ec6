"""Generate the benchmark's data: N trials over K daily snapshots, with a manifest of the churn.

    python benchmarks/generate.py --trials N --days K --out DIR [--seed S]

Each trial is a real API v2 study from tests/fixtures/ctgov with its own NCT id (NCT9xxxxxxx)
and varied title, enrollment, dates, status and conditions (see templates.py). Day 0 is the
first load; on each later day about 1 % of trials get one edit (edits.py), and that study's
last-update date moves to the day. Every record's versionHolder moves to each day, as the
registry's does. Written, one study at a time (memory stays flat at any N), as:

    DIR/day-NN/studies/NCT9xxxxxxx.json     one API v2 study per file
    DIR/day-NN/pages/page-0001.json         /api/v2/studies pages, index.json maps page tokens
    DIR/day-NN/studies.json                 one JSON array (items carry "nct_id"), for git-history
    DIR/manifest.json                       the parameters and every injected change
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import shutil
import sys
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import IO, Any

if __package__ in (None, ""):  # run as a script: make `benchmarks` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import orjson  # noqa: E402

from benchmarks.edits import DESCRIPTIONS, applicable, apply_edit, mark_updated  # noqa: E402
from benchmarks.templates import (  # noqa: E402
    Pools,
    Template,
    load_templates,
    make_trial,
    nct_of,
    set_version_holder,
    trial_rng,
)

GENERATOR_VERSION = 1  # bump when the same parameters would give other data
DEFAULT_START = date(2026, 3, 2)
PAGE_SIZE = 1000  # the API's largest page, the one trialwatch's spider asks for
CHURN = 0.01

Say = Callable[[str], None]


@dataclass(frozen=True)
class Params:
    trials: int
    days: int
    seed: int = 1
    start: str = DEFAULT_START.isoformat()
    page_size: int = PAGE_SIZE
    churn: float = CHURN
    version: int = GENERATOR_VERSION

    def day(self, k: int) -> date:
        return date.fromisoformat(self.start) + timedelta(days=k)

    def check(self) -> None:
        if not 1 <= self.trials <= 10_000_000:
            raise ValueError(f"--trials {self.trials}: must be 1 to 10,000,000")
        if not 1 <= self.days <= 99:
            raise ValueError(f"--days {self.days}: must be 1 to 99")
        if self.page_size < 1:
            raise ValueError(f"--page-size {self.page_size}: must be at least 1")
        if not 0 < self.churn <= 1:
            raise ValueError(f"--churn {self.churn}: must be above 0 and at most 1")


def day_dir(out: Path, k: int) -> Path:
    return out / f"day-{k:02d}"


def changed_per_day(params: Params) -> int:
    return max(1, round(params.trials * params.churn))


Edits = dict[int, list[tuple[int, str]]]  # trial index -> [(day, edit kind)], by day


def _edit_on(
    study: dict[str, Any], index: int, day: int, kind: str, params: Params, pools: Pools
) -> dict[str, Any]:
    moved = apply_edit(study, kind, trial_rng(params.seed, index, "edit", day), pools)
    mark_updated(study, params.day(day))
    return moved


def plan_changes(
    params: Params, templates: list[Template], pools: Pools
) -> tuple[list[dict[str, Any]], Edits]:
    """Which trials change on which day, and how: the manifest's entries and the same per
    trial. Only the changed trials are built here (about 1 % of N a day)."""
    entries: list[dict[str, Any]] = []
    edits: Edits = {}
    count = changed_per_day(params)
    for day in range(1, params.days):
        picked = sorted(trial_rng(params.seed, "day", day).sample(range(params.trials), count))
        for index in picked:
            study = make_trial(index, templates, pools, seed=params.seed, day0=params.day(0))
            for earlier, kind in edits.get(index, []):
                _edit_on(study, index, earlier, kind, params, pools)
            kind = trial_rng(params.seed, index, "kind", day).choice(applicable(study))
            moved = _edit_on(study, index, day, kind, params, pools)
            edits.setdefault(index, []).append((day, kind))
            entries.append(
                {
                    "day": day,
                    "date": params.day(day).isoformat(),
                    "nct_id": nct_of(index),
                    "kind": kind,
                    "edit": DESCRIPTIONS[kind],
                    **moved,
                }
            )
    return entries, edits


def trial_days(
    index: int, params: Params, templates: list[Template], pools: Pools, edits: Edits
) -> Iterator[dict[str, Any]]:
    """Trial `index` on day 0, 1, ... (the same dict, edited in place from day to day)."""
    study = make_trial(index, templates, pools, seed=params.seed, day0=params.day(0))
    todo = dict(edits.get(index, []))
    for day in range(params.days):
        if day in todo:
            _edit_on(study, index, day, todo[day], params, pools)
        set_version_holder(study, params.day(day))
        yield study


def page_token(params: Params, day: int, page: int) -> str:
    """An opaque token leading to `page` of `day` (like the API's, e.g. 'NF0g5JKEkvAk')."""
    digest = hashlib.sha256(f"{params.seed}:{day}:{page}".encode()).digest()
    return base64.urlsafe_b64encode(digest[:9]).decode()


class PageWriter:
    """/api/v2/studies pages of one day, written study by study; the last has no token."""

    def __init__(self, folder: Path, params: Params, day: int) -> None:
        self.folder, self.params, self.day = folder, params, day
        self.pages = -(-params.trials // params.page_size)
        self.page = 0
        self.count = 0  # studies in the open page
        self.fh: IO[bytes] | None = None
        self.index: dict[str, Any] = {"page_size": params.page_size, "first": None, "tokens": {}}

    def _name(self, page: int) -> str:
        return f"page-{page:04d}.json"

    def add(self, body: bytes) -> None:
        if self.fh is None:
            self.page += 1
            self.fh = (self.folder / self._name(self.page)).open("wb")
            self.fh.write(b'{"studies":[')
            if self.page == 1:
                self.index["first"] = self._name(1)
        else:
            self.fh.write(b",")
        self.fh.write(body)
        self.count += 1
        if self.count == self.params.page_size:
            self._close_page()

    def _close_page(self) -> None:
        assert self.fh is not None
        if self.page < self.pages:
            token = page_token(self.params, self.day, self.page + 1)
            self.index["tokens"][token] = self._name(self.page + 1)
            self.fh.write(b'],"nextPageToken":' + orjson.dumps(token) + b"}")
        else:
            self.fh.write(b"]}")
        self.fh.close()
        self.fh, self.count = None, 0

    def close(self) -> None:
        if self.fh is not None:
            self._close_page()
        (self.folder / "index.json").write_bytes(orjson.dumps(self.index))


class ArrayWriter:
    """One JSON array of the day's studies, each with an "nct_id" key first (git-history's id)."""

    def __init__(self, path: Path) -> None:
        self.fh = path.open("wb")
        self.fh.write(b"[")
        self.first = True

    def add(self, nct_id: str, body: bytes) -> None:
        self.fh.write((b"\n" if self.first else b",\n") + b'{"nct_id":"' + nct_id.encode())
        self.fh.write(b'",' + body[1:] if len(body) > 2 else b'"}')
        self.first = False

    def close(self) -> None:
        self.fh.write(b"\n]\n")
        self.fh.close()


def _prepare(out: Path) -> None:
    """An empty folder, or one holding only an earlier generation (which is removed)."""
    if out.exists() and not out.is_dir():
        raise ValueError(f"{out}: exists and is not a folder")
    out.mkdir(parents=True, exist_ok=True)
    ours = {p for p in out.iterdir() if p.name == "manifest.json" or p.name.startswith("day-")}
    others = sorted(p.name for p in out.iterdir() if p not in ours)
    if others:
        raise ValueError(
            f"{out}: not empty and not a benchmark data folder (holds {', '.join(others[:3])})"
        )
    for path in ours:
        shutil.rmtree(path) if path.is_dir() else path.unlink()


def generate(params: Params, out: Path, say: Say = lambda _line: None) -> dict[str, Any]:
    """Write all days to `out` and return the manifest (also written last, as manifest.json:
    a folder without one is an unfinished generation)."""
    params.check()
    templates, pools = load_templates()
    _prepare(out)
    entries, edits = plan_changes(params, templates, pools)
    days = range(params.days)
    folders = [day_dir(out, k) for k in days]
    for folder in folders:
        (folder / "studies").mkdir(parents=True)
        (folder / "pages").mkdir()
    pages = [PageWriter(folders[k] / "pages", params, k) for k in days]
    arrays = [ArrayWriter(folders[k] / "studies.json") for k in days]
    sizes = [0 for _ in days]
    results = 0
    step = max(5000, params.trials // 10)
    for index in range(params.trials):
        nct = nct_of(index)
        for k, study in enumerate(trial_days(index, params, templates, pools, edits)):
            body = orjson.dumps(study)
            (folders[k] / "studies" / f"{nct}.json").write_bytes(body)
            pages[k].add(body)
            arrays[k].add(nct, body)
            sizes[k] += len(body)
            if k == 0 and "resultsSection" in study:
                results += 1
        if (index + 1) % step == 0 and index + 1 < params.trials:
            say(f"generate: {index + 1:,}/{params.trials:,} trials written")
    for page_writer in pages:
        page_writer.close()
    for array_writer in arrays:
        array_writer.close()
    manifest = {
        "params": asdict(params),
        "dates": [params.day(k).isoformat() for k in days],
        "changed_per_day": changed_per_day(params) if params.days > 1 else 0,
        "average_study_bytes": round(sizes[0] / params.trials),
        "with_results": results,
        "day_bytes": sizes,
        "templates": len(templates),
        "changes": entries,
    }
    (out / "manifest.json").write_bytes(orjson.dumps(manifest, option=orjson.OPT_INDENT_2))
    say(
        f"generate: {params.trials:,} trials x {params.days} day(s) in {out}, "
        f"{len(entries)} change(s), average study {manifest['average_study_bytes']:,} bytes, "
        f"{results:,} with results"
    )
    return manifest


def read_manifest(out: Path) -> dict[str, Any] | None:
    """The manifest of a finished generation in `out`, else None."""
    path = out / "manifest.json"
    if not path.is_file():
        return None
    data = orjson.loads(path.read_bytes())
    return data if isinstance(data, dict) else None


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # one line, no usage block
        self.exit(2, f"{self.prog}: {message}\n")


def parser() -> argparse.ArgumentParser:
    p = _Parser(prog="generate.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--trials", type=int, required=True, help="number of trials (N)")
    p.add_argument("--days", type=int, required=True, help="daily snapshots, day 0 included (K)")
    p.add_argument("--out", type=Path, required=True, help="folder to write (emptied first)")
    p.add_argument("--seed", type=int, default=1, help="same seed, same data (default 1)")
    p.add_argument("--start", default=DEFAULT_START.isoformat(), help="day 0 (YYYY-MM-DD)")
    p.add_argument("--page-size", type=int, default=PAGE_SIZE, help="studies per page")
    p.add_argument("--churn", type=float, default=CHURN, help="share changed a day (0.01)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        date.fromisoformat(args.start)
    except ValueError:
        print(f"generate.py: --start {args.start!r}: not a date (YYYY-MM-DD)", file=sys.stderr)
        return 2
    params = Params(args.trials, args.days, args.seed, args.start, args.page_size, args.churn)
    try:
        generate(params, args.out, say=lambda line: print(line, file=sys.stderr))
    except (ValueError, OSError) as exc:
        print(f"generate.py: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
