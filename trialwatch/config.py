"""The optional config file: TOML at $TRIALWATCH_CONFIG, else ./trialwatch.toml if present.

Environment variables win over the file; the file holds what is awkward to pass each time
(for now the `[smtp]` table: host, port, user, password, from, security).
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any


class ConfigError(ValueError):
    pass


def load_config(environ: dict[str, str] | None = None) -> dict[str, Any]:
    env = os.environ if environ is None else environ
    named = env.get("TRIALWATCH_CONFIG")
    path = Path(named) if named else Path("trialwatch.toml")
    if not path.exists():
        if named:
            raise ConfigError(f"{path}: config file not found (from TRIALWATCH_CONFIG)")
        return {}
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: not a readable TOML file: {exc}") from None


def data_dir_override(environ: dict[str, str] | None = None) -> Path | None:
    """$TRIALWATCH_DATA_DIR: a folder for raw payloads instead of the database's own store
    (beside a SQLite file, inside PostgreSQL)."""
    env = os.environ if environ is None else environ
    given = env.get("TRIALWATCH_DATA_DIR", "").strip()
    return Path(given) if given else None
