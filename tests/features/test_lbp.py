"""Uniform LBP cell histograms (``lbp``)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from skimage import data as skdata

from data.scut import FaceRecord
from features import FEATURES
from features.face import FaceContext, apply_affine
from features.lbp import LBPGrid, cell_edges

#: Eye centres of ``skimage.data.astronaut()`` (means of dlib's 68-point eye contours), pixels.
ASTRONAUT_EYES = np.array([[203.2, 101.5], [246.8, 104.0]])


def landmarks86(eyes: np.ndarray = ASTRONAUT_EYES) -> np.ndarray:
    """86 stand-in landmarks: the eye centres at the SCUT pupil indices 58 and 59."""
    gx, gy = np.meshgrid(np.linspace(185, 260, 12), np.linspace(90, 175, 7))
    return np.insert(np.column_stack([gx.ravel(), gy.ravel()]), 58, eyes, axis=0)


def write_record(tmp_path: Path, rgb: np.ndarray, name: str,
                 landmarks: np.ndarray | None) -> FaceRecord:
    path = tmp_path / name
    cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 95])
    return FaceRecord(image_id=name, image_path=path, landmarks=landmarks)


@pytest.fixture(scope="module")
def faces(tmp_path_factory) -> dict[str, FaceRecord]:
    """The astronaut, a copy rotated by 12 degrees and scaled by 0.8, and a misaligned one."""
    tmp = tmp_path_factory.mktemp("lbp")
    rgb = skdata.astronaut()
    matrix = cv2.getRotationMatrix2D((225.0, 130.0), 12.0, 0.8)
    moved = cv2.warpAffine(rgb, matrix, rgb.shape[1::-1], flags=cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_REFLECT)
    lm = landmarks86()
    shifted = lm.copy()
    shifted[58:60] += 6.0
    return {"orig": write_record(tmp, rgb, "orig.jpg", lm),
            "moved": write_record(tmp, moved, "moved.jpg", apply_affine(matrix, lm)),
            "misaligned": write_record(tmp, rgb, "orig.jpg", shifted),
            "orig_detect": write_record(tmp, rgb, "orig.jpg", None),
            "moved_detect": write_record(tmp, moved, "moved.jpg", None),
            "flat": write_record(tmp, np.full((200, 200, 3), 128, np.uint8), "flat.jpg",
                                 landmarks86(np.array([[70.0, 80.0], [130.0, 80.0]])))}


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
