"""The one file hasher: equal to hashlib's digest of the whole file, whatever the chunk size."""

from __future__ import annotations

import hashlib

import pytest

from core.hashing import CHUNK, sha256_file


@pytest.mark.parametrize("size", [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK + 7])
def test_sha256_file_matches_hashlib(tmp_path, size):
    data = bytes(range(256)) * (size // 256) + bytes(size % 256)
    path = tmp_path / "f.bin"
    path.write_bytes(data)
    expected = hashlib.sha256(data).hexdigest()
    assert sha256_file(path) == expected
    assert sha256_file(str(path), chunk=1000) == expected


def test_sha256_file_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        sha256_file(tmp_path / "none")
