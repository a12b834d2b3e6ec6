"""The criteria reader and the API v2 study parser, timed; and their records, compared.

python benchmarks/criteria.py [--studies DIR] [--limit N] [--repeat N]
    Times parse_criteria with markdown-it for all markdown (the reference reader,
    `fast=False`) and as it runs (the line-based reader for the common shapes), over
    every criteria text of the fixtures (and of the studies in DIR, e.g. a day's
    `studies` folder made by `benchmarks/generate.py --trials 2000 --days 1 --out DIR`),
    then record_from_study and parse_study per study. Best of N runs, in ms.

python benchmarks/criteria.py --digests OUT [--studies DIR]
    Writes a digest of every study's record (model_dump() and model_dump(mode="json"))
    for the fixtures' API v2 studies and those in DIR. Run it with another checkout
    first on PYTHONPATH (`PYTHONPATH=/tmp/base python benchmarks/criteria.py ...`) to
    get that checkout's records.

python benchmarks/criteria.py --compare A B
    Compares two digest files: every study must have the same record in both.
"""

from __future__ import annotations

import argparse
import hashlib
import inspect
import json
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from trialwatch.ingest.parse_pool import parse_study
from trialwatch.parsers.criteria import parse_criteria
from trialwatch.parsers.ctgov import record_from_study

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"


def criteria_in(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "eligibilityCriteria" and isinstance(item, str):
                yield item
            else:
                yield from criteria_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from criteria_in(item)


def studies_in(value: Any) -> Iterator[dict[str, Any]]:
    """API v2 study objects: a study response or each study of a page."""
    if isinstance(value, dict) and isinstance(value.get("protocolSection"), dict):
        yield value
    elif isinstance(value, dict) and isinstance(value.get("studies"), list):
        yield from (s for s in value["studies"] if isinstance(s, dict))


def _load(path: Path) -> Any:
    try:
        return json.loads(path.read_bytes())
    except (ValueError, UnicodeDecodeError):
        return None


def fixture_texts() -> list[str]:
    """Every criteria text of the fixtures: API v2 JSON, the criteria folder, both sides of
    the graded criteria edits. In a fixed order, each once."""
    found: dict[str, None] = {}
    for path in sorted(FIXTURES.rglob("*.json")):
        found.update(dict.fromkeys(criteria_in(_load(path))))
    for path in sorted((FIXTURES / "criteria").glob("*_*.*")):
        if path.suffix in (".md", ".txt", ".html"):
            found[path.read_text(encoding="utf-8")] = None
    for path in sorted((FIXTURES / "grading").glob("*.json")):
        for edit in _load(path) or []:
            if isinstance(edit, dict) and edit.get("kind") == "eligibility_criteria":
                found.update(
                    {edit[k]: None for k in ("before", "after") if isinstance(edit[k], str)}
                )
    return [text for text in found if text.strip()]


def fixture_studies() -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for path in sorted(FIXTURES.rglob("*.json")):
        for n, study in enumerate(studies_in(_load(path))):
            out[f"{path.relative_to(FIXTURES)}#{n}"] = study
    return out


def dir_studies(folder: Path | None, limit: int | None) -> dict[str, bytes]:
    if folder is None:
        return {}
    paths = sorted(folder.glob("*.json"))[:limit]
    return {path.name: path.read_bytes() for path in paths}


def _clear_caches() -> None:
    """Forget every remembered answer (lru_cache) of trialwatch: a cold run."""
    for name, module in list(sys.modules.items()):
        if name.startswith("trialwatch") and module is not None:
            for value in list(vars(module).values()):
                if callable(getattr(value, "cache_clear", None)):
                    value.cache_clear()


def _best(run: Callable[[], object], repeat: int, cold: bool = False) -> float:
    """The best CPU time of `repeat` runs (CPU time: the machine may be shared)."""
    times = []
    for _ in range(repeat):
        if cold:
            _clear_caches()
        start = time.process_time()
        run()
        times.append(time.process_time() - start)
    return min(times)


def _reference() -> Callable[[str], object]:
    """parse_criteria with markdown-it for all markdown, where the checkout has the choice."""
    if "fast" in inspect.signature(parse_criteria).parameters:
        return lambda text: parse_criteria(text, fast=False)
    return parse_criteria


def timings(folder: Path | None, limit: int | None, repeat: int, cold: bool) -> None:
    texts = fixture_texts()
    v2 = sorted({t for path in sorted(FIXTURES.rglob("*.json")) for t in criteria_in(_load(path))})
    raw = dir_studies(folder, limit)
    studies = [json.loads(body) for body in raw.values()]
    generated = [t for s in studies for t in criteria_in(s)]
    reference = _reference()
    groups = (
        ("API v2 fixture texts", v2),
        ("fixture texts (all renderings)", texts),
        ("generated studies' texts", generated),
    )
    for name, group in groups:
        if not group:
            continue
        ms = 1000 / len(group)
        old = _best(lambda g=group: [reference(t) for t in g], repeat, cold) * ms
        new = _best(lambda g=group: [parse_criteria(t) for t in g], repeat, cold) * ms
        print(
            f"parse_criteria, {len(group)} {name}: markdown-it reader {old:.3f} ms, "
            f"as it runs {new:.3f} ms per text ({old / new:.1f}x)"
        )
    if not studies:
        return
    ms = 1000 / len(studies)
    per = _best(lambda: [record_from_study(s) for s in studies], repeat, cold) * ms
    print(f"record_from_study, {len(studies)} studies: {per:.3f} ms per study")
    jobs = [(body, None, "ctgov") for body in raw.values()]
    per = _best(lambda: [parse_study(job) for job in jobs], repeat, cold) * ms
    print(f"parse_study (JSON, record, hash), {len(jobs)} studies: {per:.3f} ms per study")


def _digest(study: dict[str, Any]) -> str:
    try:
        record = record_from_study(study)
    except Exception as exc:  # a refusal is a result too: the same one must come back
        return f"{type(exc).__name__}: {exc}"
    python = repr(record.model_dump()).encode()
    as_json = json.dumps(record.model_dump(mode="json"), sort_keys=True).encode()
    return hashlib.sha256(python + b"\0" + as_json).hexdigest()


def digests(out: Path, folder: Path | None, limit: int | None) -> None:
    found = {name: _digest(study) for name, study in fixture_studies().items()}
    for name, body in dir_studies(folder, limit).items():
        found[name] = _digest(json.loads(body))
    out.write_text(json.dumps(found, indent=0, sort_keys=True))
    print(f"{len(found)} records digested into {out}")


def compare(a: Path, b: Path) -> int:
    first, second = json.loads(a.read_text()), json.loads(b.read_text())
    differ = sorted(k for k in first.keys() | second.keys() if first.get(k) != second.get(k))
    for name in differ[:20]:
        print(f"differs: {name}")
    print(f"{len(first)} and {len(second)} records, {len(differ)} differ")
    return 1 if differ else 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--studies", type=Path, help="a folder of API v2 study JSON files")
    ap.add_argument("--limit", type=int, help="read at most this many studies of it")
    ap.add_argument("--repeat", type=int, default=5, help="runs to take the best of")
    ap.add_argument("--cold", action="store_true", help="clear trialwatch's caches each run")
    ap.add_argument("--digests", type=Path, help="write the records' digests here")
    ap.add_argument("--compare", type=Path, nargs=2, metavar=("A", "B"))
    args = ap.parse_args(argv)
    if args.compare:
        return compare(*args.compare)
    if args.digests:
        digests(args.digests, args.studies, args.limit)
        return 0
    timings(args.studies, args.limit, args.repeat, args.cold)
    return 0


if __name__ == "__main__":
    sys.exit(main())
