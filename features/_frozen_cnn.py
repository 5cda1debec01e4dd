"""Shared base of the frozen ImageNet CNN features (not an extractor itself: the leading ``_``
keeps the registry from importing this module as a component).

A :class:`FrozenCnnFeature` is the global-average-pooled penultimate activation of a registered
CNN (:data:`models.cnn.CNNS`) with its ImageNet weights, never trained on SCUT-FBP5500: the
network's classifier layer is replaced by the identity, so its output is the pooled feature
vector. The face is framed as in the CNN track: the whole image resized to 256x256 (Pillow
bilinear, :func:`data.pack.resize_rgb`), its centre 224x224 crop, normalised as the weights
expect (the architecture's ``normalisation`` attribute where it has one, else torchvision's
ImageNet mean/std).

The network is loaded once per process and backbone, lazily, on the first :meth:`extract`
(:func:`frozen_backbone`, cached like :func:`features.face.dlib_models`): extractors hold no
network, so they pickle to joblib workers as their parameters only, and a worker that receives
a fresh copy of the extractor with every chunk of faces reuses the network it loaded first.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from data.pack import resize_rgb
from features.base import FeatureExtractor
from features.face import FaceContext

if TYPE_CHECKING:  # torch is imported on first use, so listing or pickling extractors does not load it
    import torch
    from torch import nn

#: The CNN track's framing: images resized to RESIZE x RESIZE, centre CROP x CROP crop.
RESIZE = 256
CROP = 224


def normalisation(cnn: str) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """(mean, std) per RGB channel, 0-1 scale, that the ImageNet weights of CNN ``cnn`` expect."""
    from models.cnn import CNNS

    return CNNS.get(cnn).normalisation


@lru_cache(maxsize=4)
def frozen_backbone(cnn: str) -> nn.Module:
    """CNN ``cnn`` with its ImageNet weights, classifier replaced by the identity, in eval mode.

    Loaded once per process and name (offline: see :mod:`models.cnn.weights`); the random
    initialisation done while building does not advance the global torch random generator.

    Returns
    -------
    nn.Module
        Input (N, 3, H, W) float32, normalised with :func:`normalisation`; output (N, D) float32,
        the global-average-pooled penultimate features (D = 1280 for ``mobilenet_v2`` and
        ``efficientnet_lite0``), without gradients.

    Raises
    ------
    models.cnn.weights.MissingWeightsError
        The ImageNet weights are not available offline (one line).
    """
    import torch
    from torch import nn

    from models.cnn import CNNS

    arch = CNNS.create(cnn)
    with torch.random.fork_rng(devices=[]):
        model = arch.build("imagenet")
    parent_path, _, attr = arch.head_path.rpartition(".")
    setattr(model.get_submodule(parent_path) if parent_path else model, attr, nn.Identity())
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model


class FrozenCnnFeature(FeatureExtractor):
    """Pooled penultimate features of a frozen ImageNet CNN on the centre crop (base class).

    Subclasses set :attr:`cnn` (a registered CNN name) and :attr:`n_features`, and register.

    Class attributes
    ----------------
    cnn : str
        Registered name in :data:`models.cnn.CNNS`.
    n_features : int
        Length of the pooled feature vector.

    Notes
    -----
    One forward pass per face, batch 1, on the CPU with torch's current number of threads (one
    in each joblib worker of the feature cache, which limits its workers' threads).
    """

    high_dimensional: ClassVar[bool] = True
    cnn: ClassVar[str]
    n_features: ClassVar[int]

    def input_tensor(self, face: FaceContext) -> torch.Tensor:
        """The network input of ``face``, shape (1, 3, 224, 224), float32, normalised."""
        import torch

        small = face.memo(("rgb", RESIZE), lambda: resize_rgb(face.rgb, RESIZE))
        top = (RESIZE - CROP) // 2
        crop = small[top:top + CROP, top:top + CROP]
        mean, std = (np.asarray(v, dtype=np.float32) * 255.0 for v in normalisation(self.cnn))
        x = (crop.astype(np.float32) - mean) / std
        return torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1)))[None]

    def extract(self, face: FaceContext) -> np.ndarray:
        """The face's pooled features, shape (n_features,), float64, unit-free (post-ReLU6, >= 0)."""
        import torch

        net = frozen_backbone(self.cnn)
        with torch.inference_mode():
            out = net(self.input_tensor(face))
        return out.numpy().astype(np.float64).reshape(self.n_features)
