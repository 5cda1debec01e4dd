"""The five torchvision backbones of the benchmark, each with a 1-output regression head.

Each architecture is a small class registered in :data:`models.cnn.CNNS`: it knows its
input (crop) size, its default weight decay in the ``paper`` recipe, the torchvision builder
and ImageNet weights it uses, and where its classifier layer is. ``build(init)`` returns the
network with that layer replaced by a :class:`ScoreHead` (``Linear(in, 1)`` whose output is
squeezed to shape ``(N,)``).

ImageNet weights are torchvision's ``IMAGENET1K_V1`` checkpoints (the original ones, closest
to what the paper had); they are loaded strictly into the unmodified torchvision network
(every key matched, 1000-class head included), and the head is replaced afterwards. A local
checkpoint file (``--weights FILE``) stands in for them: it is checked key by key
(:func:`models.cnn.weights.load_weights_file`; its classifier may differ and is ignored).

Any timm model is a CNN too, as ``timm/<name>`` (:mod:`models.cnn.timm_backbone`).
"""

from __future__ import annotations

import os
from typing import Any, ClassVar

import torch
import torchvision
from torch import nn

from core.errors import ConfigError
from models.cnn import CNNS
from models.cnn.weights import load_imagenet_state_dict, load_weights_file

INITS = ("imagenet", "scratch")
#: torchvision's ImageNet RGB mean and std (0-1 scale).
IMAGENET_NORMALISATION = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))


def check_init(init: str, weights: str | os.PathLike | None = None) -> None:
    """Raise a one-line :class:`ConfigError` for an unknown ``init`` or a weights file with ``scratch``."""
    if init not in INITS:
        raise ConfigError(f"unknown init {init!r}. Valid inits: {', '.join(INITS)}")
    if weights is not None and init != "imagenet":
        raise ConfigError(f"--weights {weights} replaces the ImageNet weights: use it with --init imagenet, "
                          f"not {init}")


class ScoreHead(nn.Linear):
    """``Linear(in_features, 1)`` returning shape ``(N,)`` instead of ``(N, 1)``.

    Keeps torchvision's parameter names (``fc.weight``, ``fc.bias``, ...) for the head.
    """

    def __init__(self, in_features: int) -> None:
        super().__init__(in_features, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x``: (N, in_features) -> scores (N,)."""
        return super().forward(x).squeeze(-1)


class CnnArchitecture:
    """Base class of a registered backbone (not registered itself).

    Attributes
    ----------
    input_size : int
        Side of the square crop fed to the network, in pixels (224; 227 for AlexNet).
    min_input_size : int
        Smallest side the network accepts (for quick CPU tests on small crops).
    weight_decay : float
        Default weight decay of the ``paper`` recipe for this network.
    builder : str
        Name of the ``torchvision.models`` builder function.
    weights_enum : str
        Name of the torchvision ``WeightsEnum`` class; ``weights_tag`` is the member used.
    head_path : str
        Dotted path of the classifier ``nn.Linear`` replaced by the score head.
    normalisation : (mean, std)
        Per-channel RGB mean and std on the 0-1 scale that the ImageNet weights expect
        (torchvision's ImageNet statistics by default).
    """

    input_size: ClassVar[int] = 224
    min_input_size: ClassVar[int] = 32
    weight_decay: ClassVar[float] = 1e-4
    builder: ClassVar[str]
    weights_enum: ClassVar[str]
    weights_tag: ClassVar[str] = "IMAGENET1K_V1"
    head_path: ClassVar[str]
    normalisation: ClassVar[tuple[tuple[float, ...], tuple[float, ...]]] = IMAGENET_NORMALISATION
    registry_name: ClassVar[str]

    def __init__(self) -> None:
        #: Provenance of the last :meth:`build` (init, weights file, source, sha256).
        self.build_info: dict[str, Any] = {}

    @property
    def name(self) -> str:
        """The registered name."""
        return self.registry_name

    def weights(self) -> Any:
        """The torchvision ``WeightsEnum`` member used for ``init="imagenet"``."""
        return getattr(torchvision.models, self.weights_enum)[self.weights_tag]

    def build(self, init: str = "scratch", allow_download: bool = False,
              weights: str | os.PathLike | None = None) -> nn.Module:
        """The network with a 1-output regression head.

        Parameters
        ----------
        init : {"imagenet", "scratch"}
            ``imagenet``: torchvision's ImageNet weights, strictly loaded, found offline (torch hub
            cache or a known package) or downloaded only if ``allow_download``; ``scratch``:
            torchvision's random initialisation (seed it with ``torch.manual_seed``).
        allow_download : bool
            Let torchvision download a missing checkpoint (needs network).
        weights : path-like, optional
            A local checkpoint used instead of torchvision's (``init`` must be ``imagenet``),
            checked key by key; its classifier is ignored. Recorded with its sha256.

        Returns
        -------
        nn.Module
            Input (N, 3, input_size, input_size) float, ImageNet-normalised; output (N,).

        Raises
        ------
        ConfigError
            Unknown ``init``, or ``weights`` with ``scratch``.
        models.cnn.weights.WeightsMismatchError
            ``weights`` is not a checkpoint of this architecture (one line).
        models.cnn.weights.MissingWeightsError
            ``imagenet`` weights absent offline and downloading not allowed (one line naming
            the file and folder).
        models.cnn.weights.WeightsHashError
            The checkpoint's sha256 does not match its name.
        """
        check_init(init, weights)
        model = getattr(torchvision.models, self.builder)(weights=None)
        info: dict[str, Any] = {"init": init}
        if weights is not None:
            info.update(load_weights_file(model, weights, (self.head_path,), self.name))
        elif init == "imagenet":
            weights = self.weights()
            state, file_info = load_imagenet_state_dict(self.name, weights, allow_download)
            model.load_state_dict(state, strict=True)
            info.update(file_info, weights=f"{type(weights).__name__}.{weights.name}")
        self.replace_head(model)
        self.build_info = info
        return model

    def head(self, model: nn.Module) -> nn.Linear:
        """The classifier layer at :attr:`head_path` (the score head once replaced)."""
        layer = model.get_submodule(self.head_path)
        if not isinstance(layer, nn.Linear):
            raise TypeError(f"{self.name}: {self.head_path} is {type(layer).__name__}, not nn.Linear")
        return layer

    def check_input_size(self, size: int) -> None:
        """Raise a one-line :class:`ConfigError` if the network cannot take ``size`` x ``size`` inputs.

        Called before any image is decoded (:func:`models.cnn.train.checked_input_size`).
        """
        if size < self.min_input_size:
            raise ConfigError(f"{self.name}: input size {size} below its minimum {self.min_input_size}")

    def head_prefixes(self, model: nn.Module) -> tuple[str, ...]:
        """Module paths of the classifier in ``model``: ``(head_path,)``."""
        return (self.head_path,)

    def replace_head(self, model: nn.Module) -> ScoreHead:
        """Replace the classifier layer by a fresh :class:`ScoreHead` (in place); returns it."""
        old = self.head(model)
        parent_path, _, attr = self.head_path.rpartition(".")
        parent = model.get_submodule(parent_path) if parent_path else model
        head = ScoreHead(old.in_features)
        setattr(parent, attr, head)
        return head

    def describe(self) -> dict[str, Any]:
        """JSON-ready description for provenance records."""
        return {"model": self.name, "builder": f"torchvision.models.{self.builder}",
                "weights": f"{self.weights_enum}.{self.weights_tag}", "input_size": self.input_size,
                "weight_decay": self.weight_decay, "head": self.head_path}


@CNNS.register("alexnet")
class AlexNet(CnnArchitecture):
    """AlexNet (torchvision, 227x227 input, weight decay 5e-4), 1-output regression head."""

    input_size = 227
    min_input_size = 63
    weight_decay = 5e-4
    builder = "alexnet"
    weights_enum = "AlexNet_Weights"
    head_path = "classifier.6"


@CNNS.register("resnet18")
class ResNet18(CnnArchitecture):
    """ResNet-18 (torchvision, 224x224 input, weight decay 1e-4), 1-output regression head."""

    builder = "resnet18"
    weights_enum = "ResNet18_Weights"
    head_path = "fc"


@CNNS.register("resnet50")
class ResNet50(CnnArchitecture):
    """ResNet-50 (torchvision, 224x224 input, weight decay 1e-4), 1-output regression head."""

    builder = "resnet50"
    weights_enum = "ResNet50_Weights"
    head_path = "fc"


@CNNS.register("resnext50")
class ResNeXt50(CnnArchitecture):
    """ResNeXt-50 32x4d (torchvision, 224x224 input, weight decay 1e-4), 1-output regression head."""

    builder = "resnext50_32x4d"
    weights_enum = "ResNeXt50_32X4D_Weights"
    head_path = "fc"


@CNNS.register("mobilenet_v2")
class MobileNetV2(CnnArchitecture):
    """MobileNetV2 (torchvision, 224x224 input, weight decay 1e-4), 1-output regression head."""

    builder = "mobilenet_v2"
    weights_enum = "MobileNet_V2_Weights"
    head_path = "classifier.1"
