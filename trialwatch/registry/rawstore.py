"""Where a database keeps its raw payloads, so that the store goes wherever the database goes:
a SQLite file's beside it (``<name>-data/snapshots``), a PostgreSQL database's in the
database itself (``raw_payload``, written in the same transaction as the version that names
it), so every machine and worker sharing the database shares its store. A folder given
($TRIALWATCH_DATA_DIR) overrides both.

``move_folder_in`` brings the payloads of a folder (where a PostgreSQL database's payloads
were kept before: ``./trialwatch-data/snapshots`` under the folder commands ran from) into
the database; ``trialwatch db upgrade`` runs it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, Executable, exists, select, union
from sqlmodel import Session, col

from trialwatch.registry.models import ParseFailure, RawPayload, TrialVersion, utcnow
from trialwatch.snapshots import (
    Packed,
    PayloadStore,
    SnapshotDamaged,
    SnapshotStore,
    compress,
    digest_of,
    is_digest,
    unpacked,
    verified,
)

OLD_FOLDER = Path("trialwatch-data") / "snapshots"  # a PostgreSQL database's, before 0010
MOVE_BATCH = 500  # payloads a transaction when a folder is moved in


def payload_store(engine: Engine, folder: Path | None = None) -> PayloadStore:
    """The database's store: files under ``folder`` when given, else beside a SQLite file,
    else (PostgreSQL, an in-memory SQLite) the database itself."""
    if folder is not None:
        return SnapshotStore(Path(folder) / "snapshots")
    url = engine.url
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        db = Path(url.database)
        return SnapshotStore(db.with_name(db.stem + "-data") / "snapshots")
    return DatabaseStore(engine)


class DatabaseStore:
    """Payloads in the ``raw_payload`` table, compressed as the files are."""

    where = "the database (table raw_payload)"

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @staticmethod
    def digest(body: bytes) -> str:
        return digest_of(body)

    def _insert(self, rows: list[dict[str, Any]]) -> Executable:
        from sqlalchemy.dialects import postgresql, sqlite  # here: SQLite needs no PostgreSQL's

        dialect = postgresql if self.engine.dialect.name == "postgresql" else sqlite
        insert: Any = dialect.insert(RawPayload)
        return insert.values(rows).on_conflict_do_nothing(index_elements=["digest"])

    def put(self, body: bytes, *, session: Any = None) -> str:
        """Keep ``body`` in the caller's ``session`` (committed with the row that names it),
        else in a transaction of its own."""
        digest = digest_of(body)
        self.put_packed([(digest, len(body), compress(body))], session=session)
        return digest

    def put_packed(self, payloads: Sequence[Packed], *, session: Any = None) -> None:
        """Keep payloads already compressed: (digest, size, compressed bytes) each."""
        now = utcnow()
        rows = [{"digest": d, "body": b, "size": n, "stored_at": now} for d, n, b in payloads]
        if rows:
            self.write(rows, session)

    def write(self, rows: list[dict[str, Any]], session: Session | None = None) -> None:
        """Insert ``rows`` (raw_payload's columns, the body compressed), any already held
        left as they are."""
        if session is not None:
            session.execute(self._insert(rows))
            return
        with self.engine.begin() as conn:
            conn.execute(self._insert(rows))

    def packed(self, digest: str, session: Session | None = None) -> bytes:
        """The payload's stored (compressed) bytes; FileNotFoundError when there is none."""
        query = select(col(RawPayload.body)).where(col(RawPayload.digest) == digest)
        if session is not None:
            found = session.execute(query).scalar()
        else:
            with self.engine.connect() as conn:
                found = conn.execute(query).scalar()
        if found is None:
            raise FileNotFoundError(f"raw payload {digest} is not in {self.where}")
        return bytes(found)

    def get(self, digest: str, *, session: Any = None) -> bytes:
        """The payload, checked against its name (SnapshotDamaged, an OSError, when it no
        longer matches; FileNotFoundError when it is not there). ``session``: read inside the
        caller's transaction, which may have written it."""
        return unpacked(digest, self.packed(digest, session))

    def __contains__(self, digest: str) -> bool:
        if not is_digest(digest):
            return False
        with self.engine.connect() as conn:
            return bool(
                conn.execute(select(exists().where(col(RawPayload.digest) == digest))).scalar()
            )

    def verify(self, digest: str) -> tuple[str | None, str]:
        return verified(digest, lambda: self.packed(digest))


def missing_payloads(engine: Engine) -> Iterator[str]:
    """The digests a version or a set-aside payload names that the database's own store does
    not hold, each once, in order."""
    names = union(
        select(col(TrialVersion.snapshot).label("digest")).where(
            col(TrialVersion.snapshot).is_not(None)
        ),
        select(col(ParseFailure.snapshot).label("digest")).where(
            col(ParseFailure.snapshot).is_not(None)
        ),
    ).subquery()
    query = (
        select(names.c.digest)
        .outerjoin(RawPayload, col(RawPayload.digest) == names.c.digest)
        .where(col(RawPayload.digest).is_(None))
        .order_by(names.c.digest)
    )
    with engine.connect() as conn:
        found = [str(digest) for (digest,) in conn.execute(query)]
    yield from found


def move_folder_in(
    engine: Engine, folder: Path, report: Callable[[str], None]
) -> tuple[int, list[str]]:
    """Copy into the database each payload it names that ``folder`` (a file store) holds and
    it does not; (how many were copied, the digests found in neither). Each file is checked
    against its name first: a damaged one is reported and left out. The folder is left as it
    is, for its owner to remove once `trialwatch check` passes."""
    files = SnapshotStore(folder)
    store = DatabaseStore(engine)
    moved, nowhere = 0, []
    rows: list[dict[str, Any]] = []
    for digest in missing_payloads(engine):
        try:
            packed = files.packed(digest)
            size = len(unpacked(digest, packed))
        except (FileNotFoundError, ValueError):  # ValueError: not a digest, so no file name
            nowhere.append(digest)
            continue
        except SnapshotDamaged as exc:
            report(f"{folder}: {exc}; not moved")
            continue
        rows.append({"digest": digest, "body": packed, "size": size, "stored_at": utcnow()})
        if len(rows) >= MOVE_BATCH:
            store.write(rows)
            moved, rows = moved + len(rows), []
    if rows:
        store.write(rows)
        moved += len(rows)
    return moved, nowhere
