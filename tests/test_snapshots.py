import gzip
import hashlib

import pytest

from trialwatch.snapshots import SnapshotStore


def test_put_is_content_addressed_compressed_and_written_once(tmp_path):
    store = SnapshotStore(tmp_path)
    body = b'{"protocolSection": {}}' * 100
    digest = store.put(body)
    assert digest == hashlib.sha256(body).hexdigest()
    path = store.path_for(digest)
    assert path.exists() and path.stat().st_size < len(body)
    assert gzip.decompress(path.read_bytes()) == body
    mtime = path.stat().st_mtime_ns
    assert store.put(body) == digest
    assert path.stat().st_mtime_ns == mtime  # not rewritten
    assert store.get(digest) == body
    assert digest in store
    # nothing half-written is left behind
    assert [p.name for p in path.parent.iterdir()] == [path.name]


def test_digest_is_never_used_as_an_arbitrary_path(tmp_path):
    store = SnapshotStore(tmp_path)
    with pytest.raises(ValueError):
        store.path_for("../../etc/passwd")
    with pytest.raises(ValueError):
        store.get("a" * 63 + "/")
