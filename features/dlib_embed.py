"""dlib's pretrained 128-D face descriptor (the ResNet of ``dlib_face_recognition_resnet_model_v1``).

The network was trained for face identity (LFW accuracy 99.38%), not beauty, but its embedding
also encodes age, sex, ethnicity and face shape, which makes it a strong generic baseline.

Speed (measured on 40 SCUT-FBP5500 images, one core, dlib-bin 20.0 with AVX): about 100-110 ms
per face, all of it the network's forward pass. Cropping the 150x150 chip first
(``dlib.get_face_chip``, 0.4 ms) and passing the chip gives bit-identical descriptors and no
speed-up, and dlib's batched calls (a list of chips, or of images with their shapes) were no
faster on CPU either, so :meth:`DlibEmbedding.extract` passes the image and its 68-point shape
directly, one face at a time.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from features import FEATURES
from features.base import FeatureExtractor
from features.face import FaceContext, dlib_models

#: Dimension of the descriptor.
N_DIMS = 128


@FEATURES.register("dlib-embed")
class DlibEmbedding(FeatureExtractor):
    """dlib's pretrained ResNet face-identity descriptor of the detected face (128-D).

    Parameters
    ----------
    num_jitters : int
        0 or 1 (the same in dlib): one deterministic forward pass on the aligned 150x150 chip.
        ``n > 1``: the mean descriptor of ``n`` randomly jittered (shifted, rotated, scaled,
        mirrored) copies of the chip, ``n`` times slower and *not reproducible* (dlib draws the
        jitter from a per-thread random generator, so the result depends on what ran before).
        The benchmark uses 0 so that cached features are deterministic.
    padding : float
        Context around the face in the chip, as a fraction of the face size (dlib's default,
        the value the network was trained with, is 0.25).

    Notes
    -----
    The 68-point shape is dlib's own (``FaceContext.dlib_shape``: predictor run in the HOG
    detection box, or in the manual landmarks' hull when the detector misses the face), which is
    the input the network was trained on; the manual 86 landmarks are not used. Output: shape
    (128,), float64, unit-free; the descriptor's Euclidean norm is about 1.4 and distances below
    0.6 mean "same person" in dlib's calibration.
    """

    uses_landmarks: ClassVar[bool] = False
    high_dimensional: ClassVar[bool] = False

    def __init__(self, num_jitters: int = 0, padding: float = 0.25) -> None:
        self.num_jitters = num_jitters
        self.padding = padding

    def extract(self, face: FaceContext) -> np.ndarray:
        """The face's descriptor, shape (128,), float64."""
        net = dlib_models()["descriptor"]
        desc = net.compute_face_descriptor(face.rgb, face.dlib_shape, int(self.num_jitters),
                                           float(self.padding))
        return np.asarray(desc, dtype=np.float64).reshape(N_DIMS)
