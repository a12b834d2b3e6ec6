import gzip
import hashlib

import pytest
import zstandard

from trialwatch.snapshots import SnapshotDamaged, SnapshotStore


def test_put_is_content_addressed_compressed_and_written_once(tmp_path):
    store = SnapshotStore(tmp_path)
    body = b'{"protocolSection": {}}' * 100
    digest = store.put(body)
    assert digest == hashlib.sha256(body).hexdigest()
    path = store.path_for(digest)
    assert path.exists() and path.stat().st_size < len(body)
    assert path.name == f"{digest}.zst"
    assert zstandard.ZstdDecompressor().decompress(path.read_bytes()) == body
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


def test_payloads_stored_as_gzip_before_are_read_and_never_rewritten(tmp_path):
    store = SnapshotStore(tmp_path)
    body = b'{"protocolSection": {"identificationModule": {}}}' * 50
    digest = hashlib.sha256(body).hexdigest()
    old = tmp_path / digest[:2] / digest[2:4] / f"{digest}.gz"
    old.parent.mkdir(parents=True)
    old.write_bytes(gzip.compress(body, mtime=0))
    assert digest in store
    assert store.path_for(digest) == old
    assert store.get(digest) == body
    assert store.put(body) == digest  # already held: no second copy
    assert [p.name for p in old.parent.iterdir()] == [old.name]
    assert store.verify(digest) == (None, "")


@pytest.mark.parametrize("packed", [b"neither", b"\x28\xb5\x2f\xfd cut", b"\x1f\x8b cut"])
def test_damaged_payloads_say_so_in_one_line(tmp_path, packed):
    store = SnapshotStore(tmp_path)
    digest = store.put(b"{}")
    store.path_for(digest).write_bytes(packed)
    with pytest.raises(SnapshotDamaged) as caught:
        store.get(digest)
    assert "\n" not in str(caught.value) and digest in str(caught.value)
