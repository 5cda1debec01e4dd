"""dlib's 128-D face descriptor (``dlib-embed``)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from skimage import data as skdata

from data.scut import FaceRecord
from features import FEATURES
from features.dlib_embed import DlibEmbedding
from features.face import FaceContext

pytest.importorskip("dlib")
pytest.importorskip("face_recognition_models")

#: dlib's "same person" distance threshold.
SAME_PERSON = 0.6


def write_record(tmp_path: Path, rgb: np.ndarray, name: str,
                 box: tuple[int, int, int, int] | None = None) -> FaceRecord:
    path = tmp_path / name
    cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 95])
    return FaceRecord(image_id=name, image_path=path, landmarks=None, box=box)


@pytest.fixture(scope="module")
def embeddings(tmp_path_factory) -> dict[str, np.ndarray]:
    """Descriptors of the astronaut, a shifted + rescaled copy of her, and her mirror image."""
    tmp = tmp_path_factory.mktemp("dlib")
    rgb = skdata.astronaut()
    shifted = cv2.copyMakeBorder(rgb, 60, 0, 90, 0, cv2.BORDER_REFLECT)  # face moves right/down
    shifted = cv2.resize(shifted, None, fx=0.7, fy=0.7, interpolation=cv2.INTER_AREA)
    e = DlibEmbedding()
    return {"orig": e.extract(FaceContext(write_record(tmp, rgb, "orig.jpg"))),
            "orig_again": e.extract(FaceContext(write_record(tmp, rgb, "orig.jpg"))),
            "shifted": e.extract(FaceContext(write_record(tmp, shifted, "shifted.jpg"))),
            # the face box is given: in this JPEG the HOG detector's largest box is a false positive
            "mirror": e.extract(FaceContext(write_record(tmp, rgb[:, ::-1].copy(), "mirror.jpg",
                                                         box=(246, 83, 333, 170))))}


def dist(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b))


def test_registered():
    assert FEATURES.get("dlib-embed") is DlibEmbedding
    assert "128-D" in FEATURES.describe("dlib-embed")
    assert not DlibEmbedding.high_dimensional and not DlibEmbedding.uses_landmarks
    assert DlibEmbedding().get_params() == {"num_jitters": 0, "padding": 0.25}


def test_descriptor_shape_and_scale(embeddings):
    v = embeddings["orig"]
    assert v.shape == (128,) and v.dtype == np.float64 and np.all(np.isfinite(v))
    assert 1.0 < np.linalg.norm(v) < 2.0  # dlib descriptors have norm ~1.4


def test_deterministic(embeddings):
    np.testing.assert_array_equal(embeddings["orig"], embeddings["orig_again"])


def test_same_face_is_close(embeddings):
    assert dist(embeddings["orig"], embeddings["shifted"]) < SAME_PERSON / 2  # measured 0.13
    assert dist(embeddings["orig"], embeddings["mirror"]) < SAME_PERSON  # measured 0.20


def test_one_jitter_equals_none(tmp_path):
    # dlib treats num_jitters 0 and 1 alike: one pass on the unjittered chip
    face = FaceContext(write_record(tmp_path, skdata.astronaut(), "a.jpg"))
    np.testing.assert_array_equal(DlibEmbedding(num_jitters=1).extract(face),
                                  DlibEmbedding(num_jitters=0).extract(face))


def test_different_faces_are_farther(scut, embeddings):
    e = DlibEmbedding()
    others = [e.extract(FaceContext(scut.record(n))) for n in ("AF1.jpg", "CF3.jpg", "CM5.jpg")]
    same = dist(embeddings["orig"], embeddings["shifted"])
    assert all(np.isfinite(v).all() and v.shape == (128,) for v in others)
    assert same < min(dist(embeddings["orig"], v) for v in others)  # measured 0.13 vs 0.77-0.81
    # three different people: all beyond dlib's same-person threshold (measured 0.82-0.87)
    assert min(dist(a, b) for i, a in enumerate(others) for b in others[i + 1:]) > SAME_PERSON
