"""A small fake dataset in the SCUT-FBP5500 release layout, built in a temp dir for tests.

No real SCUT data is involved. Images are 64x64 JPEGs whose brightness pattern depends on the
score, so predictors can learn something; landmark files are valid 86-point ``.pts`` files of
random points (``CM1.pts`` is empty, like the release's ``CM152.pts``).
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
from PIL import Image

from data.protocols import FIVE_FOLD_DIR, SIXTY_FORTY_DIR
from features import FEATURES
from features.base import FeatureExtractor
from features.face import FaceContext


def write_pts(path: Path, points: np.ndarray | None) -> None:
    """Write a binary ``.pts`` (int32 count, then float32 x,y pairs); None writes an empty one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if points is None:
        path.write_bytes(struct.pack("<i", 0))
    else:
        path.write_bytes(struct.pack("<i", len(points)) + np.asarray(points, "<f4").tobytes())


def make_fake_scut(root: Path, n_per_subset: int = 10, seed: int = 0, old_names: bool = False) -> Path:
    """Build a fake release tree under ``root`` and return ``root``.

    Parameters
    ----------
    n_per_subset : int
        Images per subset (AF, AM, CF, CM); total ``4 * n_per_subset`` (use a multiple of 5).
    old_names : bool
        Write split files with the older ``fty/mty/ftw/mtw`` spelling.
    """
    rng = np.random.default_rng(seed)
    names = [f"{s}{i}.jpg" for s in ("AF", "AM", "CF", "CM") for i in range(1, n_per_subset + 1)]
    scores = {n: float(np.round(rng.uniform(1.2, 4.8), 6)) for n in names}
    (root / "Images").mkdir(parents=True)
    for n in names:
        s = scores[n]
        base = np.full((64, 64), 40 + 40 * s, dtype=np.float64)
        base[16:48, 16:48] += 10 * (5 - s)  # a score-dependent "face" patch
        img = np.clip(base + rng.normal(0, 4, base.shape), 0, 255).astype(np.uint8)
        Image.fromarray(np.stack([img] * 3, axis=-1)).save(root / "Images" / n, quality=95)
        pts = None if n == "CM1.jpg" else rng.uniform(10, 54, size=(86, 2))
        write_pts(root / "facial landmark" / n.replace(".jpg", ".pts"), pts)
    tt = root / "train_test_files"
    tt.mkdir()
    spell = (lambda n: n.replace("AF", "fty").replace("AM", "mty").replace("CF", "ftw").replace("CM", "mtw")) \
        if old_names else (lambda n: n)

    def write_list(path: Path, items: list[str]) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(f"{spell(n)} {scores[n]}\n" for n in items))

    write_list(tt / "All_labels.txt", names)
    order = list(rng.permutation(names))
    folds = [order[k::5] for k in range(5)]
    for k in range(5):
        d = root / FIVE_FOLD_DIR / f"cross_validation_{k + 1}"
        write_list(d / f"test_{k + 1}.txt", folds[k])
        write_list(d / f"train_{k + 1}.txt", [n for j, f in enumerate(folds) if j != k for n in f])
    cut = int(0.6 * len(order))
    write_list(root / SIXTY_FORTY_DIR / "train.txt", order[:cut])
    write_list(root / SIXTY_FORTY_DIR / "test.txt", order[cut:])
    return root


class PixelGridFeature(FeatureExtractor):
    """Test feature: mean gray level in a ``cells x cells`` grid of the whole image (no dlib)."""

    def __init__(self, cells: int = 4) -> None:
        self.cells = cells

    def extract(self, face: FaceContext) -> np.ndarray:
        g = face.gray.astype(np.float64) / 255.0
        h, w = g.shape
        c = self.cells
        return np.array([g[i * h // c:(i + 1) * h // c, j * w // c:(j + 1) * w // c].mean()
                         for i in range(c) for j in range(c)])


def register_pixel_feature(name: str = "test-pixels") -> type[FeatureExtractor]:
    """Register :class:`PixelGridFeature` under ``name`` (idempotent); returns the class."""
    if name not in FEATURES:
        FEATURES.register(name)(PixelGridFeature)
    return PixelGridFeature


class LandmarkPixelFeature(PixelGridFeature):
    """Test feature: a finer pixel grid flagged as high-dimensional and as reading the manual landmarks.

    It reads no landmark (the synthetic faces have none worth reading), but ``uses_landmarks``
    makes the cache flag the images without a ``.pts`` (``CM1``) as fallbacks, and
    ``high_dimensional`` puts a PCA in its preprocessing.
    """

    uses_landmarks = True
    high_dimensional = True

    def __init__(self, cells: int = 6) -> None:
        super().__init__(cells)


def register_fusion_features(pixels: str = "test-pixels", landmark: str = "test-lm") -> tuple[str, str]:
    """Register :class:`PixelGridFeature` and :class:`LandmarkPixelFeature` (idempotent) for fusion tests."""
    register_pixel_feature(pixels)
    if landmark not in FEATURES:
        FEATURES.register(landmark)(LandmarkPixelFeature)
    return pixels, landmark
