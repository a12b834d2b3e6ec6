"""`trialwatch demo`: an offline first look. A loopback server replays recorded registry
responses; the program crawls them twice and shows what changed in between."""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import click

from trialwatch.demo.history import (
    DEFAULT_IDS,
    HISTORY_TRIAL,
    build_history_replay,
    load_plan,
)
from trialwatch.demo.replay import ReplayServer
from trialwatch.diffing.changes import Change as FoundChange
from trialwatch.diffing.render import details, summary
from trialwatch.ingest.crawling import run_crawl
from trialwatch.ingest.pipeline import Pipeline, Tally
from trialwatch.registry.db import open_engine, transaction
from trialwatch.registry.queries import grade_of, history, list_changes, record_as_of
from trialwatch.registry.rawstore import payload_store

DATA = Path(__file__).with_name("data")
MISSING = "NCT99999999"  # not served: shows how a 404 is reported
AS_OF = "2020-04-15"  # a day between two of the backfilled versions
# Politeness settings are for real sites; the demo's server is on this machine.
LOOPBACK_SETTINGS = {"DOWNLOAD_DELAY": 0, "AUTOTHROTTLE_ENABLED": False, "RETRY_TIMES": 1}


def _nct(name: str) -> str:
    match = re.search(r"NCT[0-9]{8}", name, re.ASCII)
    assert match, name
    return match.group(0)


def _set_path(data: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, last = dotted.split(".")
    for key in parents:
        data = data[key]
    data[last] = value


def _get_path(data: dict[str, Any], dotted: str) -> Any:
    for key in dotted.split("."):
        data = data[key]
    return data


def edited(body: bytes, edit: dict[str, Any]) -> bytes:
    """Apply one stated edit (``set`` values, ``replace`` text) to a recorded study."""
    data = json.loads(body)
    for path, value in edit.get("set", {}).items():
        _set_path(data, path, value)
    for path, pairs in edit.get("replace", {}).items():
        text = _get_path(data, path)
        for old, new in pairs:
            if old not in text:
                raise ValueError(f"demo edit for {edit['file']}: {old!r} not found in {path}")
            text = text.replace(old, new, 1)
        _set_path(data, path, text)
    return json.dumps(data, ensure_ascii=False, indent=2).encode()


def build_rounds(root: Path) -> tuple[Path, Path, list[str]]:
    """Write the two replay folders (first crawl, second crawl) and return the NCT ids."""
    plan = json.loads((DATA / "edits.json").read_text(encoding="utf-8"))
    first, second = root / "replay-1", root / "replay-2"
    first.mkdir(parents=True)
    second.mkdir(parents=True)
    bodies: dict[str, tuple[bytes, bytes]] = {}
    for nct, (old, new) in plan["later_versions"].items():
        bodies[nct] = ((DATA / old).read_bytes(), (DATA / new).read_bytes())
    for name in plan["unchanged"]:
        body = (DATA / name).read_bytes()
        bodies[_nct(name)] = (body, body)
    for edit in plan["edits"]:
        body = (DATA / edit["file"]).read_bytes()
        bodies[_nct(edit["file"])] = (body, edited(body, edit))
    for folder, index in ((first, 0), (second, 1)):
        routes = []
        for nct, pair in sorted(bodies.items()):
            (folder / f"{nct}.json").write_bytes(pair[index])
            routes.append(
                {
                    "path": f"/api/v2/studies/{nct}",
                    "responses": [{"status": 200, "body": f"{nct}.json"}],
                }
            )
        (folder / "routes.json").write_text(json.dumps({"routes": routes}, indent=2))
    return first, second, sorted(bodies) + [MISSING]


def _say(line: str) -> None:
    click.echo(line, err=True)


def run_demo(keep: Path | None = None) -> int:
    if keep is not None and keep.exists() and any(keep.iterdir()):
        raise click.UsageError(f"--keep {keep}: the folder must be empty or new")
    root = keep or Path(tempfile.mkdtemp(prefix="trialwatch-demo-"))
    root.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{root / 'trialwatch.db'}"
    try:
        plan = json.loads((DATA / "edits.json").read_text(encoding="utf-8"))
        _say(f"demo: working in {root}")
        _say(f"demo: {plan['about']}")
        for edit in plan["edits"]:
            _say(f"demo: edit for the second crawl, {_nct(edit['file'])}: {edit['says']}")
        first, second, ids = build_rounds(root)
        engine = open_engine(url)
        # Raw payloads beside the database, where every command looks.
        pipeline = Pipeline(engine, payload_store(engine), report=_say)
        for number, folder in ((1, first), (2, second)):
            with ReplayServer(folder) as server:
                _say(f"demo: crawl {number} of 2 from {server.base_url} ({len(ids)} NCT ids)")
                _, tally = run_crawl(
                    pipeline,
                    "ctgov",
                    base_url=server.base_url,
                    nct_ids=ids,
                    settings=LOOPBACK_SETTINGS,
                )
            _tally_line(number, tally)
        _print_changes(engine)
        _backfill(root, pipeline)
        _print_findings(engine)
        engine.dispose()
        if keep is not None:
            db = root / "trialwatch.db"
            _say(f"demo: try  trialwatch --db {db} history {HISTORY_TRIAL}")
            _say(f"demo: and  trialwatch --db {db} show {HISTORY_TRIAL} --as-of {AS_OF}")
            _say(f"demo: and  trialwatch --db {db} audit")
        return 0
    finally:
        if keep is None:
            shutil.rmtree(root, ignore_errors=True)


def _print_findings(engine: Any) -> None:
    """The integrity findings that hold today, as `trialwatch audit` lists them."""
    from trialwatch.registry.findings import stored_findings

    with transaction(engine) as session:
        found = stored_findings(session, on=datetime.now(UTC).date())
        click.echo("\nIntegrity findings that hold today (`trialwatch audit --help`):")
        for f in found:
            click.echo(f"  {f.nct_id}  {f.kind:<17} {f.text}")
        if not found:
            click.echo("  none")


def _backfill(root: Path, pipeline: Pipeline) -> None:
    """Backfill a trial's registry history from a loopback replay, then read its past."""
    from trialwatch.ingest.backfill import run_backfill

    folder = build_history_replay(root / "history")
    with ReplayServer(folder) as server:
        _say(f"demo: backfill {', '.join(DEFAULT_IDS)} from {server.base_url}")
        _say(f"demo: {load_plan()['about']}")
        tally = run_backfill(
            pipeline,
            DEFAULT_IDS,
            base_url=server.base_url,
            settings=LOOPBACK_SETTINGS,
            report=_say,
        )
    _say(f"demo: backfill: {tally.line()}")
    with transaction(pipeline.engine) as session:
        rows = history(session, HISTORY_TRIAL) or []
        changes = list_changes(session, nct_ids=[HISTORY_TRIAL])
        then = record_as_of(session, HISTORY_TRIAL, date.fromisoformat(AS_OF)) or {}
    by_version: dict[int, list[str]] = {}
    for change in changes:
        found = FoundChange(
            change.kind, change.before, change.after, change.detail, grade=grade_of(change.grade)
        )
        lines = by_version.setdefault(change.to_version_id, [])
        lines += [f"[{found.grade}] {summary(found)}", *(f"    {line}" for line in details(found))]
    click.echo(f"\nThe registry's history of {HISTORY_TRIAL}, version by version:")
    for version in rows:
        numbers = ",".join(str(n) for n in version["registry_versions"]) or "-"
        lines = by_version.get(version["version_id"]) or ["first version"]
        click.echo(f"  v{numbers:<4} {version['registry_date']}  {lines[0]}")
        for line in lines[1:]:
            click.echo(f"{'':>20}{line}")
    click.echo(
        f"\nOn {AS_OF} the registry said: {then.get('overall_status')}, enrollment "
        f"{(then.get('enrollment') or {}).get('count')}"
    )


def _tally_line(number: int, tally: Tally) -> None:
    _say(
        f"demo: crawl {number}: {tally.first} first version(s), {tally.new_versions} changed, "
        f"{tally.unchanged} unchanged, {tally.not_found} not found, {tally.rejected} rejected"
    )


def _print_changes(engine: Any) -> None:
    with transaction(engine) as session:
        rows = list_changes(session)
        titles = {}
        for nct in sorted({c.nct_id for c in rows}):
            record = record_as_of(session, nct) or {}
            titles[nct] = record.get("brief_title") or ""
    click.echo("What changed between the two crawls:")
    current = None
    for row in rows:
        if row.nct_id != current:
            current = row.nct_id
            click.echo(f"\n{row.nct_id}  {titles[row.nct_id]}")
        found = FoundChange(row.kind, row.before, row.after, row.detail, grade_of(row.grade))
        click.echo(f"  [{found.grade}] {summary(found)}")
        for line in details(found):
            click.echo("      " + line)
