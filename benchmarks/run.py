"""Run the ingest benchmark: first load, daily imports, daily crawls from a loopback copy of the
API, the floor (read + parse + hash in-process) and the peer (git-history), side by side.

    python benchmarks/run.py --trials 10000 --days 3 --db sqlite|postgres [--work DIR]
                             [--skip-peer] [--skip-crawl] [--update-readme] [--json]

trialwatch is driven only through its command line, each step a subprocess, so this measures
whatever the engine is when run. The markdown table goes to stdout (or the JSON with --json),
progress to stderr; results.json is written to the work folder. Exit status 1 when a step
failed or the changes found differ from the injected ones (MISMATCH).
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `benchmarks` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import orjson  # noqa: E402

from benchmarks import report  # noqa: E402
from benchmarks.generate import CHURN, Params, day_dir, generate, read_manifest  # noqa: E402
from benchmarks.loopback import PagesServer  # noqa: E402
from benchmarks.measure import (  # noqa: E402
    Database,
    PostgresDatabase,
    Ran,
    SqliteDatabase,
    clean_env,
    find_trialwatch,
    floor,
    run_measured,
    source_state,
)
from benchmarks.peer import LABELS, MODES, Peer, find_git_history  # noqa: E402

README = Path(__file__).with_name("README.md")
CRAWL_QUERY = "query.term=trialwatch-benchmark"  # the loopback server serves the whole day


def say(line: str) -> None:
    print(f"[bench] {line}", file=sys.stderr, flush=True)


class Bench:
    def __init__(self, args: argparse.Namespace, work: Path, manifest: dict[str, Any]) -> None:
        self.args = args
        self.work = work
        self.data = work / "data"
        self.logs = work / "logs"
        self.manifest = manifest
        self.params = manifest["params"]
        self.tw = find_trialwatch(args.trialwatch)
        self.steps: list[dict[str, Any]] = []
        self.notes: list[str] = []
        self.failed = False
        self.dbs: list[Database] = []
        self.base_size = 0  # the first load's DB + raw store bytes
        self.windows: dict[str, tuple[Database, list[tuple[datetime, dict[str, Any]]]]] = {}

    # -- databases and trialwatch ----------------------------------------------------------

    def new_db(self) -> Database:
        if self.args.db == "postgres":
            db: Database = PostgresDatabase(self.work)
        else:
            db = SqliteDatabase(self.work / "bench.db")
        self.dbs.append(db)
        return db

    def run_tw(self, db: Database, name: str, *args: str) -> Ran:
        argv = [self.tw, "--db", db.url, *args]
        return run_measured(argv, logs=self.logs, name=name, cwd=self.work, env=db.env())

    def watch(self, db: Database, start: datetime, step: dict[str, Any]) -> None:
        """The changes `db` observes from `start` on (until the next watched step) belong to
        `step`; they are counted after the run, with one `changes` call per database."""
        self.windows.setdefault(db.url, (db, []))[1].append((start, step))

    def check_changes(self) -> None:
        for db, windows in self.windows.values():
            argv = [self.tw, "--db", db.url, "changes", "--json"]
            done = subprocess.run(argv, capture_output=True, cwd=self.work, env=clean_env(db.env()))
            if done.returncode != 0:
                said = done.stderr.decode(errors="replace").strip().splitlines()[-1:]
                self.note(f"MISMATCH: `trialwatch changes` failed on {db.url}: {said}")
                for _, step in windows:
                    step.update(found=None, match=False)
                continue
            windows.sort(key=lambda w: w[0])
            found: dict[int, list[tuple[str, str]]] = {id(step): [] for _, step in windows}
            for change in orjson.loads(done.stdout):
                seen = datetime.fromisoformat(change["observed_at"].replace("Z", "+00:00"))
                owners = [step for start, step in windows if start <= seen]
                if not owners:
                    self.note(f"MISMATCH: a change before the first step: {change}")
                    windows[0][1]["match"] = False
                    continue
                found[id(owners[-1])].append((change["nct_id"], change["kind"]))
            for _, step in windows:
                self.compare(step, sorted(found[id(step)]))

    def compare(self, step: dict[str, Any], got: list[tuple[str, str]]) -> None:
        day = step["day"]
        want = sorted((c["nct_id"], c["kind"]) for c in self.manifest["changes"] if c["day"] == day)
        step.update(
            found=len(got), expected=len(want), match=got == want and step.get("match", True)
        )
        if got != want:
            missing = sorted(set(want) - set(got))[:5]
            extra = sorted(set(got) - set(want))[:5]
            self.note(
                f"MISMATCH: day {day} {step['label']}: {len(got)} change(s) found, "
                f"{len(want)} injected; missing {missing}, unexpected {extra}"
            )

    def measured_step(self, day: int, key: str, label: str, ran: Ran) -> dict[str, Any]:
        records = self.params["trials"]
        step = {
            "day": day,
            "date": self.manifest["dates"][day],
            "step": key,
            "label": label,
            "records": records,
            "seconds": round(ran.seconds, 3),
            "records_per_s": round(records / ran.seconds, 1),
            "peak_bytes": ran.peak_bytes,
            "ok": ran.returncode == 0,
        }
        if ran.returncode != 0:
            self.failed = True
            say(f"FAILED: day {day} {label} exited {ran.returncode}; last lines of {ran.stderr}:")
            print(ran.tail(), file=sys.stderr)
        self.steps.append(step)
        return step

    def sizes(self, step: dict[str, Any], db: Database, before: int | None) -> None:
        step["db_bytes"], step["raw_bytes"] = db.db_bytes(), db.raw_bytes()
        if before is not None and self.base_size:
            after = step["db_bytes"] + step["raw_bytes"]
            step["added_pct"] = round(100 * (after - before) / self.base_size, 2)

    # -- the steps ---------------------------------------------------------------------------

    def floor_step(self, day: int) -> None:
        count, seconds = floor(day_dir(self.data, day) / "studies")
        self.steps.append(
            {
                "day": day,
                "date": self.manifest["dates"][day],
                "step": "floor",
                "label": "floor: read + orjson + sha256",
                "records": count,
                "seconds": round(seconds, 3),
                "records_per_s": round(count / seconds, 1),
            }
        )
        say(f"day {day}: floor {seconds:.2f} s")

    def import_step(self, db: Database, day: int) -> None:
        moment = f"{self.manifest['dates'][day]}T06:00:00Z"
        before = db.db_bytes() + db.raw_bytes() if day else None
        studies = str(day_dir(self.data, day) / "studies")
        ran = self.run_tw(db, f"day-{day:02d}-import", "import", studies, "--observed-at", moment)
        label = "first load (import)" if day == 0 else "daily import"
        step = self.measured_step(day, "import", label, ran)
        self.sizes(step, db, before)
        if day == 0:
            self.base_size = step["db_bytes"] + step["raw_bytes"]
        self.watch(db, datetime.fromisoformat(moment.replace("Z", "+00:00")), step)
        say(f"day {day}: {label} {ran.seconds:.2f} s, {ran.peak_bytes / 1e6:.0f} MB peak")

    def crawl_step(self, db: Database, day: int) -> None:
        before = db.db_bytes() + db.raw_bytes()
        since = datetime.now(UTC)
        with PagesServer(day_dir(self.data, day) / "pages") as server:
            ran = self.run_tw(
                db,
                f"day-{day:02d}-crawl",
                "crawl",
                "ctgov",
                "--query",
                CRAWL_QUERY,
                "--base-url",
                server.url,
                "--delay",
                "0",
                "--timeout",
                "120",
            )
        step = self.measured_step(day, "crawl", "daily crawl (loopback API)", ran)
        step["requests"] = sum(server.requests.values())
        self.sizes(step, db, before)
        self.watch(db, since, step)
        say(f"day {day}: crawl {ran.seconds:.2f} s, {step['requests']} request(s)")

    def reparse_step(self, db: Database) -> None:
        """`trialwatch reparse` of every version held, after the last day."""
        last = self.params["days"] - 1
        ran = self.run_tw(db, "reparse", "reparse", "--json")
        try:
            versions = int(orjson.loads(ran.stdout.read_bytes())["versions_reread"])
        except (ValueError, KeyError, TypeError, OSError):
            versions = 0
        step = self.measured_step(last, "reparse", "reparse (every version)", ran)
        step["records"] = versions
        step["records_per_s"] = round(versions / ran.seconds, 1) if ran.seconds else None
        floors = [s for s in self.steps if s["step"] == "floor"]
        read = sum(s["records"] for s in floors)
        if read and versions:  # the floor of reading as many studies as there are versions
            step["floor_seconds"] = sum(s["seconds"] for s in floors) * versions / read
        say(f"reparse: {versions:,} versions in {ran.seconds:.2f} s")

    def peer_steps(self, peer: Peer, day: int) -> None:
        peer.commit(day_dir(self.data, day) / "studies.json", day, Params(**self.params).day(day))
        for mode in MODES:
            held = peer.versions(mode)
            ran = peer.run(mode, day)
            step = self.measured_step(day, f"peer-{mode}", LABELS[mode], ran)
            step["db_bytes"] = peer.db_bytes(mode)
            step["versions"] = peer.versions(mode) - held
            say(f"day {day}: {LABELS[mode]} {ran.seconds:.2f} s")

    def run(self) -> None:
        # Bytecode made once, as an installed package has it (else recompiled every step).
        package = str(README.parent.parent / "trialwatch")
        subprocess.run([sys.executable, "-m", "compileall", "-q", package], check=False)
        db = self.new_db()
        crawl_db: Database | None = None
        peer: Peer | None = None
        if not self.args.skip_peer:
            exe = find_git_history()
            if exe is None:
                self.note("git-history is not installed: peer skipped (pip install '.[bench]').")
            else:
                peer = Peer(exe, self.work)
        for day in range(self.params["days"]):
            self.floor_step(day)
            self.import_step(db, day)
            if self.failed:
                break
            if day == 0 and not self.args.skip_crawl:
                crawl_db = db.clone("crawl")  # the crawl path starts from the same first load
                self.dbs.append(crawl_db)
            elif crawl_db is not None:
                self.crawl_step(crawl_db, day)
            if peer is not None:
                self.peer_steps(peer, day)
            if self.failed:
                break
        if self.args.reparse and not self.failed:
            self.reparse_step(db)
        self.check_changes()
        self.ratios()

    def note(self, line: str) -> None:
        self.notes.append(line)
        say(line)

    def ratios(self) -> None:
        by_day: dict[tuple[int, str], dict[str, Any]] = {
            (s["day"], s["step"]): s for s in self.steps
        }
        for step in self.steps:
            if step["step"] == "reparse" and step.get("floor_seconds"):
                step["x_floor"] = round(step["seconds"] / step["floor_seconds"], 3)
            if step["step"] not in ("import", "crawl") or not step["seconds"]:
                continue
            day = step["day"]
            if (base := by_day.get((day, "floor"))) is not None:
                step["x_floor"] = round(step["seconds"] / base["seconds"], 3)
            for mode, key in (("plain", "peer_speedup"), ("ignore", "peer_ignore_speedup")):
                if (peer := by_day.get((day, f"peer-{mode}"))) is not None:
                    step[key] = round(peer["seconds"] / step["seconds"], 2)

    def result(self) -> dict[str, Any]:
        return {
            "db": self.args.db,
            "params": self.params,
            "average_study_bytes": self.manifest["average_study_bytes"],
            "meta": {
                "when": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
                "trialwatch": source_state(),
                "python": platform.python_version(),
                "cpus": os.cpu_count(),
            },
            "steps": self.steps,
            "notes": self.notes,
            "ok": not self.failed and all(s.get("match", True) for s in self.steps),
        }

    def close(self) -> None:
        for db in self.dbs:
            if isinstance(db, PostgresDatabase):
                try:
                    db.drop()
                except ValueError as exc:
                    say(f"could not drop {db.name}: {exc}")


def prepare_data(work: Path, params: Params) -> dict[str, Any]:
    """The generated data in work/data, reused when made with the same parameters."""
    data = work / "data"
    manifest = read_manifest(data)
    if manifest is not None and manifest.get("params") == asdict(params):
        say(f"reusing the data in {data}")
        return manifest
    say(f"generating {params.trials:,} trials x {params.days} day(s) in {data}")
    return generate(params, data, say=say)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # one line, no usage block
        self.exit(2, f"{self.prog}: {message}\n")


def parser() -> argparse.ArgumentParser:
    p = _Parser(prog="run.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--trials", type=int, default=10_000, help="N (default 10,000)")
    p.add_argument("--days", type=int, default=3, help="K snapshots, day 0 included (3)")
    p.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    p.add_argument("--work", type=Path, help="keep data, databases and logs here (reused)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--churn", type=float, default=CHURN, help=f"share changed a day ({CHURN})")
    p.add_argument("--reparse", action="store_true", help="reparse every version at the end")
    p.add_argument("--skip-peer", action="store_true", help="do not run git-history")
    p.add_argument("--skip-crawl", action="store_true", help="do not run the crawl path")
    p.add_argument("--update-readme", action="store_true", help="put the table in README.md")
    p.add_argument("--json", action="store_true", help="print JSON instead of markdown")
    p.add_argument("--trialwatch", metavar="PATH", help="the trialwatch command to drive")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    params = Params(args.trials, args.days, args.seed, churn=args.churn)
    try:
        params.check()
        work = args.work or Path(tempfile.mkdtemp(prefix="tw-bench-"))
        work.mkdir(parents=True, exist_ok=True)
        manifest = prepare_data(work, params)
        bench = Bench(args, work, manifest)
    except (ValueError, OSError) as exc:
        print(f"run.py: {exc}", file=sys.stderr)
        return 2
    try:
        bench.run()
    except ValueError as exc:  # e.g. no PostgreSQL server to make the database on
        print(f"run.py: {exc}", file=sys.stderr)
        return 2
    finally:
        bench.close()
    result = bench.result()
    (work / "results.json").write_bytes(orjson.dumps(result, option=orjson.OPT_INDENT_2))
    text = report.markdown(result)
    print(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode() if args.json else text)
    if args.update_readme:
        report.update_readme(README, text)
        say(f"results put in {README}")
    if args.work is None:
        shutil.rmtree(work, ignore_errors=True)
    else:
        say(f"data, databases, logs and results.json kept in {work}")
    if not result["ok"]:
        say("FAILED: a step failed or the changes found differ from the injected ones")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
