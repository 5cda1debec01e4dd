"""Test faces built from skimage's astronaut() (not SCUT data): originals, a rotated and scaled
copy with its landmarks moved along, and a deliberately misaligned one."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from skimage import data as skdata

from data.scut import FaceRecord
from features.face import apply_affine

ASTRONAUT_EYES = np.array([[203.2, 101.5], [246.8, 104.0]])
#: The in-plane transform of the "moved" copy: degrees, scale, centre (x, y) in pixels.
ROTATION, SCALE, CENTRE = 12.0, 0.8, (225.0, 130.0)


def astronaut_landmarks(eyes: np.ndarray = ASTRONAUT_EYES) -> np.ndarray:
    """86 stand-in "manual" landmarks: the eye centres at the SCUT pupil indices 58 and 59, the
    other 84 on a 12x7 grid over the astronaut's face. Shape (86, 2), pixels."""
    gx, gy = np.meshgrid(np.linspace(185, 260, 12), np.linspace(90, 175, 7))
    return np.insert(np.column_stack([gx.ravel(), gy.ravel()]), 58, eyes, axis=0)


def write_record(tmp_path: Path, rgb: np.ndarray, name: str, landmarks: np.ndarray | None) -> FaceRecord:
    """Save ``rgb`` as a JPEG (quality 95) and wrap it in a FaceRecord with ``landmarks``."""
    path = tmp_path / name
    cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 95])
    return FaceRecord(image_id=name, image_path=path, landmarks=landmarks)


def astronaut_variants(tmp_path: Path) -> dict[str, FaceRecord]:
    """``orig``, ``moved`` (rotated + scaled, landmarks moved with it), ``misaligned`` (both eye
    centres 6 px off), and ``orig_detect``/``moved_detect`` (no landmarks: dlib's are used)."""
    rgb = skdata.astronaut()
    matrix = cv2.getRotationMatrix2D(CENTRE, ROTATION, SCALE)
    moved = cv2.warpAffine(rgb, matrix, rgb.shape[1::-1], flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    lm = astronaut_landmarks()
    shifted = lm.copy()
    shifted[58:60] += 6.0  # a wrong alignment
    return {"orig": write_record(tmp_path, rgb, "orig.jpg", lm),
            "moved": write_record(tmp_path, moved, "moved.jpg", apply_affine(matrix, lm)),
            "misaligned": write_record(tmp_path, rgb, "orig.jpg", shifted),
            "orig_detect": write_record(tmp_path, rgb, "orig.jpg", None),
            "moved_detect": write_record(tmp_path, moved, "moved.jpg", None)}
