"""The SHA-256 of a file, read in chunks: the one file hasher of the project.

Used by the dataset integrity check (:mod:`data.integrity`), the pack manifest
(:mod:`data.pack`), the offline CNN checkpoints (:mod:`models.cnn.weights`) and the saved
ensembles (:mod:`benchmark.model_io`).
"""

from __future__ import annotations

import hashlib
import os

#: Bytes read per chunk (1 MiB).
CHUNK = 1 << 20


def sha256_file(path: str | os.PathLike, chunk: int = CHUNK) -> str:
    """The SHA-256 hex digest of a file, read in chunks.

    Parameters
    ----------
    path : str or path-like
        The file.
    chunk : int
        Bytes read at a time.

    Returns
    -------
    str
        64 lowercase hex digits.
    """
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()
