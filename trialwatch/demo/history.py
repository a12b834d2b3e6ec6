"""A trial's registry record history, served on loopback for `trialwatch backfill`.

Only version 0 of NCT04280705 was recorded (``data/ctgov_history_NCT04280705_v0.json``, a
real response of ``/api/int/studies/NCT04280705/history/0``). Versions 1 to 5 are NOT
recordings: they are built here from the real version 0 by the edits stated in
``data/history_plan.json``, each applied to the version before it, and so is the version list
(dates, statuses, module labels). NCT03934567, a real API v2 record, is served with an empty
version list (no history).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

DATA = Path(__file__).with_name("data")
PLAN = DATA / "history_plan.json"
HISTORY_TRIAL = "NCT04280705"
NO_HISTORY_TRIAL = "NCT03934567"
DEFAULT_IDS = (HISTORY_TRIAL, NO_HISTORY_TRIAL)


@dataclass(frozen=True)
class BuiltVersion:
    """One version as served: its row in the version list and its response body."""

    version: int
    date: str
    status: str | None
    module_labels: tuple[str, ...]
    body: bytes  # {"studyVersion": n, "study": {...}}
    recorded: bool  # True only for the real version 0; the others are built by the plan

    def list_entry(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "date": self.date,
            "status": self.status,
            "moduleLabels": list(self.module_labels),
        }


def load_plan() -> dict[str, Any]:
    plan: dict[str, Any] = json.loads(PLAN.read_text(encoding="utf-8"))
    return plan


def _walk(data: Any, dotted: str) -> tuple[Any, str | int]:
    """The container holding the dotted path's last key, and that key (digits index lists)."""
    *parents, last = (int(p) if p.isdigit() else p for p in dotted.split("."))
    for key in parents:
        data = data[key]
    return data, last


def apply_edit(study: dict[str, Any], edit: dict[str, Any]) -> dict[str, Any]:
    """A copy of `study` with one stated edit: ``set`` values, ``replace`` text (each old text
    must be there), ``append`` to lists (created when absent). Paths are dotted, from `study`."""
    out = copy.deepcopy(study)
    for path, value in edit.get("set", {}).items():
        holder, key = _walk(out, path)
        holder[key] = copy.deepcopy(value)
    for path, pairs in edit.get("replace", {}).items():
        holder, key = _walk(out, path)
        text = holder[key]
        for old, new in pairs:
            if old not in text:
                raise ValueError(
                    f"history plan, version {edit.get('version')}: {old!r} not in {path}"
                )
            text = text.replace(old, new, 1)
        holder[key] = text
    for path, items in edit.get("append", {}).items():
        holder, key = _walk(out, path)
        if isinstance(holder, dict):
            holder.setdefault(key, [])
        holder[key] = [*holder[key], *copy.deepcopy(items)]
    return out


def _bookkeeping(study: dict[str, Any], day: str) -> None:
    # As version 0 has it: submitted on the list's date, posted the next day.
    status = study["protocolSection"]["statusModule"]
    status["statusVerifiedDate"] = day[:7]
    status["lastUpdateSubmitDate"] = day
    posted = date.fromisoformat(day) + timedelta(days=1)
    status["lastUpdatePostDateStruct"] = {"date": posted.isoformat(), "type": "ACTUAL"}


def _status(study: dict[str, Any]) -> str | None:
    value = study["protocolSection"]["statusModule"].get("overallStatus")
    return value if isinstance(value, str) else None


def history_versions() -> list[BuiltVersion]:
    """Version 0 as recorded, then every version the plan builds from it, in order."""
    plan = load_plan()
    recorded = plan["recorded"]
    body = (DATA / recorded["file"]).read_bytes()
    study = json.loads(body)["study"]
    versions = [
        BuiltVersion(
            version=recorded["version"],
            date=recorded["date"],
            status=_status(study),
            module_labels=tuple(recorded["moduleLabels"]),
            body=body,  # byte for byte
            recorded=True,
        )
    ]
    for edit in plan["built"]:
        study = apply_edit(study, edit)
        _bookkeeping(study, edit["date"])
        data = {"studyVersion": edit["version"], "study": study}
        versions.append(
            BuiltVersion(
                version=edit["version"],
                date=edit["date"],
                status=_status(study),
                module_labels=tuple(edit["moduleLabels"]),
                body=json.dumps(data, ensure_ascii=False, indent=2).encode(),
                recorded=False,
            )
        )
    return versions


def version_list(versions: Sequence[BuiltVersion], latest: int | None = None) -> bytes:
    """The version list response, as it stood when `latest` was the newest version."""
    shown = [v for v in versions if latest is None or v.version <= latest]
    return json.dumps({"changes": [v.list_entry() for v in shown]}, indent=2).encode()


def _route(path: str, *bodies: str, status: int = 200) -> dict[str, Any]:
    return {"path": path, "responses": [{"status": status, "body": b} for b in bodies]}


def build_history_replay(
    folder: Path,
    *,
    nct_ids: Sequence[str] = DEFAULT_IDS,
    list_latest: Sequence[int] = (),
    current: bool = False,
) -> Path:
    """Write the version lists, every version body and ``routes.json`` (for ReplayServer) into
    `folder`; return it.

    `list_latest`: successive answers of NCT04280705's version list, each the list as it stood
    when that version was the newest (the last answer repeats), e.g. ``(4, 5)`` for a version
    posted between two reads; by default every read shows all versions. `current`: also serve
    each trial's latest content through API v2 (``/api/v2/studies/{NCT}``).
    """
    plan = load_plan()
    known = (plan["trial"], *plan["no_history"])
    unknown = [n for n in nct_ids if n not in known]
    if unknown:
        raise ValueError(f"no history replay for {', '.join(unknown)}: known are {known}")
    folder.mkdir(parents=True, exist_ok=True)
    routes: list[dict[str, Any]] = []
    if plan["trial"] in nct_ids:
        routes += _write_history(folder, plan["trial"], list_latest, current)
    for nct, file in plan["no_history"].items():
        if nct not in nct_ids:
            continue
        (folder / f"history_{nct}.json").write_text('{"changes": []}\n')
        routes.append(_route(f"/api/int/studies/{nct}/history", f"history_{nct}.json"))
        if current:
            (folder / file).write_bytes((DATA / file).read_bytes())
            routes.append(_route(f"/api/v2/studies/{nct}", file))
    (folder / "routes.json").write_text(json.dumps({"routes": routes}, indent=2) + "\n")
    return folder


def _write_history(
    folder: Path, nct: str, list_latest: Sequence[int], current: bool
) -> list[dict[str, Any]]:
    versions = history_versions()
    base = f"/api/int/studies/{nct}/history"
    routes = []
    list_names = []
    for latest in list_latest or [versions[-1].version]:
        name = f"history_{nct}_upto{latest}.json"
        (folder / name).write_bytes(version_list(versions, latest))
        list_names.append(name)
    routes.append(_route(base, *list_names))
    for v in versions:
        name = f"history_{nct}_v{v.version}.json"
        (folder / name).write_bytes(v.body)
        routes.append(_route(f"{base}/{v.version}", name))
    if current:
        name = f"ctgov_v2_{nct}.json"
        study = json.loads(versions[-1].body)["study"]
        (folder / name).write_text(json.dumps(study, ensure_ascii=False, indent=2))
        routes.append(_route(f"/api/v2/studies/{nct}", name))
    return routes
