"""On-disk feature cache keyed by image content, extractor name, parameters and code version.

Layout::

    CACHE_DIR/features/<name>-<cache_key>/<shard-hash>.npz

Each shard holds ``hashes`` (content hash of each face: image bytes + landmark bytes),
``features`` (n, d) and ``fallback`` (n,) bool: whether that face had no manual landmarks and
so used detected ones. Shards are written atomically (temporary file + ``os.replace``) as soon
as a chunk of faces is done, so an interrupted extraction resumes where it stopped and a
killed process never leaves a torn file. Features of different extractors for one face are
computed together on one :class:`~features.face.FaceContext`, so the image is decoded and
dlib runs once per face.
"""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from joblib import Parallel, delayed
from tqdm.auto import tqdm

from core.atomic import atomic_write_bytes
from data.scut import FaceRecord
from features.base import FeatureExtractor
from features.face import FaceContext

ENV_VAR = "FBP_CACHE_DIR"
CHUNK = 64


def default_cache_dir() -> Path:
    """``$FBP_CACHE_DIR``, else ``$XDG_CACHE_HOME/fbp-bench``, else ``~/.cache/fbp-bench``."""
    if os.environ.get(ENV_VAR):
        return Path(os.environ[ENV_VAR]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "fbp-bench"


@dataclass
class FeatureMatrix:
    """Features of a list of faces, in the order of the faces.

    Attributes
    ----------
    values : ndarray of shape (n_faces, n_features), float64
    fallback : ndarray of shape (n_faces,), bool
        True where the face had no manual landmarks and the extractor used detected ones.
    widths : tuple of int
        For a fused feature (:mod:`benchmark.fusion`), the column count of each block in
        order; empty for a single feature.
    """

    values: np.ndarray
    fallback: np.ndarray
    widths: tuple[int, ...] = ()


def _extract_chunk(extractors: Sequence[FeatureExtractor], records: Sequence[FaceRecord]):
    """Features of ``records`` for each extractor: list (per extractor) of (n, d) arrays."""
    rows: list[list[np.ndarray]] = [[] for _ in extractors]
    for record in records:
        face = FaceContext(record)
        for k, extractor in enumerate(extractors):
            rows[k].append(np.asarray(extractor.extract(face), dtype=np.float64).ravel())
    return [np.vstack(r) for r in rows]


class FeatureCache:
    """Feature matrices computed once per (face content, extractor, parameters, code version).

    Parameters
    ----------
    root : Path
        Cache folder (never inside the dataset folder).
    """

    def __init__(self, root: str | os.PathLike) -> None:
        self.root = Path(root)

    def folder(self, extractor: FeatureExtractor) -> Path:
        return self.root / "features" / f"{extractor.registry_name or type(extractor).__name__}-{extractor.cache_key()}"

    def _load(self, extractor: FeatureExtractor) -> dict[str, tuple[np.ndarray, bool]]:
        found: dict[str, tuple[np.ndarray, bool]] = {}
        folder = self.folder(extractor)
        if not folder.is_dir():
            return found
        for shard in sorted(folder.glob("*.npz")):
            with np.load(shard, allow_pickle=False) as z:
                for h, row, fb in zip(z["hashes"], z["features"], z["fallback"], strict=True):
                    found[str(h)] = (row, bool(fb))
        return found

    def _store(self, extractor: FeatureExtractor, records: Sequence[FaceRecord], values: np.ndarray) -> np.ndarray:
        """Write one shard atomically; returns its ``fallback`` flags, shape (len(records),)."""
        hashes = np.array([r.content_hash for r in records])
        fallback = np.array([extractor.uses_landmarks and r.landmarks is None for r in records])
        name = hashlib.sha1("".join(hashes).encode()).hexdigest()[:16] + ".npz"
        buf = io.BytesIO()
        np.savez(buf, hashes=hashes, features=values, fallback=fallback)
        atomic_write_bytes(self.folder(extractor) / name, buf.getvalue())
        return fallback

    def matrices(self, extractors: Sequence[FeatureExtractor], records: Sequence[FaceRecord],
                 jobs: int = 1, progress: bool = True) -> list[FeatureMatrix]:
        """Feature matrices of ``records`` for each extractor, computing only what is missing.

        Parameters
        ----------
        extractors : sequence of FeatureExtractor
        records : sequence of FaceRecord
            Each with its ``content_hash`` set.
        jobs : int
            Worker processes for the extraction.
        progress : bool
            Show a tqdm progress bar.

        Returns
        -------
        list of FeatureMatrix, one per extractor, rows in the order of ``records``.
        """
        if any(not r.content_hash for r in records):
            raise ValueError("every record needs a content_hash to be cached")
        cached = [self._load(e) for e in extractors]
        missing = [r for r in records if any(r.content_hash not in c for c in cached)]
        if missing:
            chunks = [missing[i:i + CHUNK] for i in range(0, len(missing), CHUNK)]
            todo = [[k for k, c in enumerate(cached) if any(r.content_hash not in c for r in chunk)]
                    for chunk in chunks]
            names = ",".join(e.registry_name for e in extractors)
            bar = tqdm(total=len(missing), desc=f"features [{names}]", unit="img", disable=not progress)
            results = Parallel(n_jobs=jobs, return_as="generator")(
                delayed(_extract_chunk)([extractors[k] for k in ks], chunk)
                for ks, chunk in zip(todo, chunks, strict=True))
            for ks, chunk, values in zip(todo, chunks, results, strict=True):
                for k, vals in zip(ks, values, strict=True):
                    fallback = self._store(extractors[k], chunk, vals)
                    for r, row, fb in zip(chunk, vals, fallback, strict=True):
                        cached[k][r.content_hash] = (row, bool(fb))
                bar.update(len(chunk))
            bar.close()
        out = []
        for c in cached:
            rows = [c[r.content_hash] for r in records]
            out.append(FeatureMatrix(values=np.vstack([row for row, _ in rows]),
                                     fallback=np.array([fb for _, fb in rows], dtype=bool)))
        return out
