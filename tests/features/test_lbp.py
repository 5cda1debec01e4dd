"""Uniform LBP cell histograms (``lbp``)."""

from __future__ import annotations

import numpy as np
import pytest

from data.scut import FaceRecord
from features import FEATURES
from features.face import FaceContext
from features.lbp import LBPGrid, cell_edges
from tests.features.astronaut import astronaut_landmarks, astronaut_variants, write_record


#: Eye centres of ``skimage.data.astronaut()`` (means of dlib's 68-point eye contours), pixels.
@pytest.fixture(scope="module")
def faces(tmp_path_factory) -> dict[str, FaceRecord]:
    """The astronaut, a copy rotated by 12 degrees and scaled by 0.8, and a misaligned one."""
    tmp = tmp_path_factory.mktemp("lbp")
    flat = write_record(tmp, np.full((200, 200, 3), 128, np.uint8), "flat.jpg",
                        astronaut_landmarks(np.array([[70.0, 80.0], [130.0, 80.0]])))
    return {**astronaut_variants(tmp), "flat": flat}


def corr(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a, b)[0, 1])


def test_registered():
    assert FEATURES.get("lbp") is LBPGrid
    assert "LBP" in FEATURES.describe("lbp")
    assert LBPGrid.high_dimensional and not LBPGrid.uses_landmarks
    assert LBPGrid(n_points=16, radius=2).get_params()["n_points"] == 16


def test_cell_edges_partition_the_region():
    rows, cols = cell_edges(128, (8, 8), (0.125, 0.0625, 0.875, 1.0))
    assert rows.tolist() == list(range(8, 129, 15))
    assert cols.tolist() == list(range(16, 113, 12))
    with pytest.raises(ValueError, match="empty cells"):
        cell_edges(16, (20, 2), (0.0, 0.0, 1.0, 1.0))


def test_histograms_sum_to_one(faces):
    v = LBPGrid().extract(FaceContext(faces["orig"]))
    assert v.shape == (640,) and v.dtype == np.float64 and np.all(np.isfinite(v))
    hists = v.reshape(64, 10)
    assert hists.min() >= 0
    np.testing.assert_allclose(hists.sum(axis=1), 1.0)
    # a textured face uses many patterns, not one
    assert np.count_nonzero(hists.sum(axis=0)) == 10


def test_other_parameters(faces):
    e = LBPGrid(n_points=16, radius=2, grid=(4, 6))
    v = e.extract(FaceContext(faces["orig"]))
    assert v.shape == (4 * 6 * 18,)
    np.testing.assert_allclose(v.reshape(24, 18).sum(axis=1), 1.0)


def test_flat_image_is_all_one_pattern(faces):
    # every neighbour equals the centre -> all bits set -> uniform pattern with P ones (code P)
    hists = LBPGrid().extract(FaceContext(faces["flat"])).reshape(64, 10)
    np.testing.assert_allclose(hists[:, 8], 1.0)


def test_invariant_to_in_plane_rotation_and_scale(faces):
    e = LBPGrid()
    f = {k: e.extract(FaceContext(faces[k])) for k in ("orig", "moved", "misaligned")}
    same = corr(f["orig"], f["moved"])
    assert same > 0.93  # measured 0.966
    assert same > corr(f["orig"], f["misaligned"])  # 0.88


def test_invariance_with_detected_landmarks(faces):
    pytest.importorskip("dlib")
    e = LBPGrid()
    same = corr(e.extract(FaceContext(faces["orig_detect"])), e.extract(FaceContext(faces["moved_detect"])))
    assert same > 0.93  # measured 0.954


def test_real_faces(scut, faces):
    e = LBPGrid()
    feats = np.array([e.extract(FaceContext(scut.record(n))) for n in ("AF1.jpg", "CM5.jpg", "AM10.jpg")])
    assert feats.shape == (3, 640) and np.all(np.isfinite(feats))
    np.testing.assert_allclose(feats.reshape(3, 64, 10).sum(axis=2), 1.0)
    orig, moved = (e.extract(FaceContext(faces[k])) for k in ("orig", "moved"))
    assert corr(orig, moved) > max(corr(orig, v) for v in feats)  # other faces: 0.68-0.84
