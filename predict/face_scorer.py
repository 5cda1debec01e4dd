"""Score faces in arbitrary photos with a CNN trained by the benchmark (``run_benchmark.py predict``).

The CNNs are trained on whole SCUT-FBP5500 images: 350x350 px, one frontal face in the middle,
the bounding box of dlib's 68 landmarks about 0.55 of the image side wide. A face in a user's photo
is therefore located by dlib's HOG detector, its 68 landmarks are found in that box, and it is cut
out as a square around the landmarks' bounding box, :data:`FRAME_SCALE` times the box side,
centred on the box centre shifted by :data:`FRAME_SHIFT`, resized to 256x256 like the benchmark's
image cache, and scored on the centre crop exactly as the test images of a split are (at the image and crop
sides of the recipe the network was trained with: 256/224 for the GPU recipes, smaller for
``cpu``). The landmarks' box is used rather than the HOG box because it moves far less with
the photo's resolution (the HOG box of one face at 1080p and at 240p differs by ~5% of its side).
Both constants are medians over 50 SCUT images (every 110th of the label file), printed by
``python -m tools.frame_constants``:

    images: 50 (every 110th of the label file)
    scale (image side / 68-point box side): median 1.828, 10th-90th percentile 1.496-2.085
    shift (image centre - box centre, box sides): median x -0.006, y -0.209
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from data.scut import FaceRecord

#: SCUT image side / side of the 68 landmarks' bounding box (median, see the module docstring).
FRAME_SCALE = 1.828
#: Offset (x, y) of the SCUT image centre from the landmarks' box centre, in box sides (median).
FRAME_SHIFT = (-0.006, -0.209)
CACHE_SIDE = 256


def photo_frame(record: FaceRecord, side: int = CACHE_SIDE) -> np.ndarray:
    """The SCUT-like frame of the face of ``record`` (a photo with a detected ``box``); uint8 RGB.

    dlib's 68 landmarks are found inside the record's box and the frame is cut around their
    bounding box by :func:`face_frame`.
    """
    from features.face import FaceContext, landmark_box

    context = FaceContext(record)
    return face_frame(context.rgb, landmark_box(context.landmarks68), side)


def face_frame(rgb: np.ndarray, box: tuple[float, float, float, float], side: int = CACHE_SIDE) -> np.ndarray:
    """A SCUT-like square frame around a landmarks' ``box``, resized to ``side`` x ``side``; uint8 RGB.

    Parts of the frame outside the photo are filled by replicating its border. A frame larger
    than ``side`` is cut out at the photo's resolution and then shrunk with area averaging
    (as the training images are antialiased when resized), so a large photo of a face and a
    small one give the same frame.
    """
    left, top, right, bottom = box
    size = max(right - left, bottom - top)
    cx = (left + right) / 2 + FRAME_SHIFT[0] * size
    cy = (top + bottom) / 2 + FRAME_SHIFT[1] * size
    half = FRAME_SCALE * size / 2
    native = max(side, int(round(2 * half)))
    scale = native / (2 * half)
    matrix = np.array([[scale, 0.0, (half - cx) * scale], [0.0, scale, (half - cy) * scale]])
    frame = cv2.warpAffine(rgb, matrix, (native, native), flags=cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_REPLICATE)
    if native != side:
        frame = cv2.resize(frame, (side, side), interpolation=cv2.INTER_AREA)
    return frame


class CnnFaceScorer:
    """``predict(records) -> scores`` for faces of user photos with a saved CNN.

    Parameters
    ----------
    path : Path
        A ``.safetensors`` file written by ``run_benchmark.py --save-model`` (CNN track).
    """

    def __init__(self, path: str | Path) -> None:
        import torch

        from benchmark.model_io import load_cnn
        from models.cnn import CNNS

        state_dict, metadata = load_cnn(path)
        self.metadata: dict[str, Any] = metadata
        self.arch = CNNS.create(metadata.get("model") or metadata["feature"])  # CNNs saved before v2: in feature
        self.model = self.arch.build("scratch")
        self.model.load_state_dict(state_dict, strict=True)
        self.model.eval()
        self._torch = torch
        run = metadata.get("cnn", {})
        #: Side of the SCUT-like frame and of its centre crop, as in training.
        self.image_size: int = int(run.get("image_size") or CACHE_SIDE)
        self.crop_size: int = int(run.get("input_size") or self.arch.input_size)

    def predict(self, records: Sequence[FaceRecord]) -> np.ndarray:
        """Scores (1-5 scale, unclipped) of the faces, shape (len(records),)."""
        from models.cnn.train import predict

        frames = np.stack([photo_frame(r, self.image_size) for r in records])
        images = self._torch.from_numpy(frames)
        return np.asarray(predict(self.model, images, self.crop_size, self._torch.device("cpu"),
                                  normalisation=self.arch.normalisation), dtype=np.float64).ravel()
