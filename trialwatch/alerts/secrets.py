"""Sealing channel URLs: an Apprise URL often holds a token or a password, so the database
keeps it encrypted (Fernet) with a key that lives outside the database, and a copy of the
database (a backup, a `.db` file sent to a colleague) does not give it away.

The key file is $TRIALWATCH_SECRET_KEY_FILE, else `key_file` in the config file's `[secrets]`
table, else `$XDG_CONFIG_HOME/trialwatch/secret.key` (`~/.config/trialwatch/secret.key`). It is
made on first use, readable by its owner only. Every machine that sends alerts from the same
database needs a copy of it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from trialwatch.config import load_config


class SecretError(ValueError):
    """The key is missing or unreadable, or does not open a sealed value."""


def key_path(environ: Mapping[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    named = env.get("TRIALWATCH_SECRET_KEY_FILE", "").strip()
    if named:
        return Path(named).expanduser()
    table = load_config(dict(env)).get("secrets")
    if isinstance(table, dict) and str(table.get("key_file") or "").strip():
        return Path(str(table["key_file"])).expanduser()
    base = env.get("XDG_CONFIG_HOME", "").strip() or str(Path("~/.config").expanduser())
    return Path(base) / "trialwatch" / "secret.key"


def _read_key(path: Path) -> bytes:
    try:
        key = path.read_bytes().strip()
        Fernet(key)
    except FileNotFoundError:
        raise SecretError(
            f"{path}: the key that seals channel URLs is missing (copy it from the machine "
            "where the watch was added, or add the watch's --notify again)"
        ) from None
    except (OSError, ValueError) as exc:
        raise SecretError(f"{path}: not a readable key ({exc})") from None
    return key


def _make_key(path: Path) -> bytes:
    """Write a new key, unless another process just did (then read that one)."""
    key = Fernet.generate_key()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SecretError(f"{path}: cannot write the key that seals channel URLs ({exc})") from None
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read_key(path)
    except OSError as exc:
        raise SecretError(f"{path}: cannot write the key that seals channel URLs ({exc})") from None
    with os.fdopen(fd, "wb") as out:
        out.write(key + b"\n")
        out.flush()
        os.fsync(out.fileno())
    return key


def seal(text: str) -> str:
    """``text`` encrypted with the key (made now if there is none yet)."""
    path = key_path()
    key = _read_key(path) if path.exists() else _make_key(path)
    return Fernet(key).encrypt(text.encode("utf-8")).decode("ascii")


def unseal(token: str) -> str:
    path = key_path()
    try:
        return Fernet(_read_key(path)).decrypt(token.encode("ascii")).decode("utf-8")
    except InvalidToken:
        raise SecretError(
            f"{path}: this key does not open the channel's URL (it was sealed with another "
            "key; copy that key here, or add the watch's --notify again)"
        ) from None
