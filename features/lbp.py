"""Uniform local binary pattern (LBP) histograms over a grid of cells of the aligned face."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from skimage.feature import local_binary_pattern

from features import FEATURES
from features.base import FeatureExtractor
from features.face import ALIGNED_SIZE, FaceContext
from features.gabor import FACE_REGION


def cell_edges(size: int, grid: tuple[int, int],
               region: tuple[float, float, float, float]) -> tuple[np.ndarray, np.ndarray]:
    """Integer pixel edges of a ``grid = (rows, cols)`` partition of ``region`` of the crop.

    Returns
    -------
    row_edges : ndarray of shape (rows + 1,), int
    col_edges : ndarray of shape (cols + 1,), int
        Cell ``(i, j)`` is ``[row_edges[i], row_edges[i + 1]) x [col_edges[j], col_edges[j + 1])``.

    Raises
    ------
    ValueError
        If a cell would be empty.
    """
    rows, cols = grid
    x0, y0, x1, y1 = (min(max(v, 0.0), 1.0) * size for v in region)
    row_edges = np.rint(np.linspace(y0, y1, rows + 1)).astype(int)
    col_edges = np.rint(np.linspace(x0, x1, cols + 1)).astype(int)
    if np.any(np.diff(row_edges) < 1) or np.any(np.diff(col_edges) < 1):
        raise ValueError(f"grid {grid} over region {region} of a {size} px crop has empty cells")
    return row_edges, col_edges


@FEATURES.register("lbp")
class LBPGrid(FeatureExtractor):
    """Uniform LBP (P=8, R=1) histograms in 8x8 cells of the aligned face, each normalised (640-D).

    Parameters
    ----------
    size : int
        Side of the aligned grayscale face, pixels.
    n_points : int
        Number of circular neighbours ``P``.
    radius : float
        Radius ``R`` of the neighbour circle, pixels of the aligned face.
    grid : (int, int)
        Cell rows and columns.
    region : (float, float, float, float)
        (left, top, right, bottom) of the gridded region, fractions of the crop's side (the same
        face region as ``gabor-grid``).

    Notes
    -----
    Codes are ``skimage.feature.local_binary_pattern(..., method="uniform")`` of the aligned face
    quantised to uint8, computed on the whole crop (so cells at the region's edge see their true
    neighbours; the crop's own border is extended by replication): ``P + 1`` rotation-invariant
    uniform patterns plus one bin for all non-uniform ones, ``P + 2`` bins in all. Each cell's
    histogram is divided by the cell's pixel count, so it sums to 1. Output:
    ``rows * cols * (P + 2)`` values (8 * 8 * 10 = 640 by default), cell-major (row-major cells,
    bins within a cell contiguous), float64.
    """

    high_dimensional: ClassVar[bool] = True

    def __init__(self, size: int = ALIGNED_SIZE, n_points: int = 8, radius: float = 1.0,
                 grid: tuple[int, int] = (8, 8),
                 region: tuple[float, float, float, float] = FACE_REGION) -> None:
        self.size = size
        self.n_points = n_points
        self.radius = radius
        self.grid = grid
        self.region = region

    @property
    def n_bins(self) -> int:
        """Histogram bins per cell, ``P + 2``."""
        return int(self.n_points) + 2

    def codes(self, face: FaceContext) -> np.ndarray:
        """Uniform LBP code of every pixel of the aligned face, shape (size, size), int64 in
        ``[0, P + 1]``."""
        gray = np.rint(face.aligned_gray(self.size) * 255.0).astype(np.uint8)
        # skimage reads neighbours outside the image as 0: replicate the border instead (as the
        # alignment warp does), so the crop's edge pixels get true codes
        pad = int(np.ceil(self.radius)) + 1
        codes = local_binary_pattern(np.pad(gray, pad, mode="edge"), int(self.n_points),
                                     float(self.radius), method="uniform")
        return codes[pad:-pad, pad:-pad].astype(np.int64)

    def extract(self, face: FaceContext) -> np.ndarray:
        """Normalised per-cell histograms, shape ``(rows * cols * (P + 2),)``, float64."""
        rows, cols = self.grid
        row_edges, col_edges = cell_edges(self.size, (rows, cols), tuple(self.region))
        codes = self.codes(face)[row_edges[0]:row_edges[-1], col_edges[0]:col_edges[-1]]
        # cell index of every pixel of the region, then one bincount for all cells at once
        r_idx = np.searchsorted(row_edges[1:-1], np.arange(row_edges[0], row_edges[-1]), side="right")
        c_idx = np.searchsorted(col_edges[1:-1], np.arange(col_edges[0], col_edges[-1]), side="right")
        cell = r_idx[:, None] * cols + c_idx[None, :]
        nb = self.n_bins
        hist = np.bincount((cell * nb + codes).ravel(), minlength=rows * cols * nb)
        hist = hist.reshape(rows * cols, nb).astype(np.float64)
        hist /= hist.sum(axis=1, keepdims=True)
        return hist.ravel()
