"""Score faces in arbitrary photos with a CNN trained by the benchmark (``run_benchmark.py predict``).

The CNNs are trained on whole SCUT-FBP5500 images: 350x350 px, one frontal face in the middle,
dlib's HOG face box about 0.6 of the image side wide. A face in a user's photo is therefore cut
out as a square around its detected box, :data:`FRAME_SCALE` times the box side, centred on the
box centre shifted by :data:`FRAME_SHIFT`, resized to 256x256 like the benchmark's image cache,
and scored on the centre crop exactly as the test images of a split are (at the image and crop
sides of the recipe the network was trained with: 256/224 for the GPU recipes, smaller for
``cpu``). Both constants are
medians over 50 SCUT images (every 110th of the label file) of the image side / box side and of
the image centre's offset from the box centre, with :func:`features.face.detect_faces` boxes
(10th-90th percentile of the scale: 1.36-1.96).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from data.images import load_rgb
from data.scut import FaceRecord

#: SCUT image side / HOG box side (median, see the module docstring).
FRAME_SCALE = 1.63
#: Offset (x, y) of the SCUT image centre from the HOG box centre, in box sides (median).
FRAME_SHIFT = (0.007, -0.116)
CACHE_SIDE = 256


def face_frame(rgb: np.ndarray, box: tuple[int, int, int, int], side: int = CACHE_SIDE) -> np.ndarray:
    """A SCUT-like square frame around ``box``, resized to ``side`` x ``side``; uint8 RGB.

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
        self.arch = CNNS.create(metadata["feature"])
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

        frames = np.stack([face_frame(load_rgb(r.image_path), r.box, self.image_size) for r in records])
        images = self._torch.from_numpy(frames)
        return np.asarray(predict(self.model, images, self.crop_size, self._torch.device("cpu"),
                                  normalisation=self.arch.normalisation), dtype=np.float64).ravel()
