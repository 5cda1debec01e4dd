"""Training recipes of the CNN benchmark as frozen dataclasses: ``paper``, ``blog``, ``fast``, ``cpu``.

A :class:`Recipe` is a batch size, augmentation/precision switches and one or more
:class:`Stage` s (optimizer, learning rate schedule, length, frozen backbone or not). Every
recipe trains for a fixed length and keeps the final weights: no model selection ever looks
at the test part of a split (there is no early stopping).

``paper`` (Liang et al., ICPR 2018, Sec. 5.2)
    256x256 images, random 224 crop (227 for AlexNet), L2 loss, SGD momentum 0.9, lr 1e-3
    divided by 10 every 5000 iterations, 20000 iterations of batch 16, weight decay 5e-4
    (AlexNet) / 1e-4 (ResNets; the architecture's default), fp32; test on the centre crop.
``blog``
    The two-stage ResNet-50 recipe of a popular blog post: backbone frozen (BatchNorm in eval
    mode), only the 1-unit head trained with Adam for 30 epochs; then everything unfrozen and
    trained 30 more epochs with Adam at a 10x smaller lr; horizontal flips.
``fast``
    ``paper`` with the same number of samples seen (320k) at batch 256: lr scaled linearly
    (1e-3 x 256/16), iterations and step milestones scaled (1250 iterations, steps at 25/50/75%),
    a 5% linear warm-up (Goyal et al.'s advice for linear scaling), bf16 autocast and
    channels_last.
``cpu``
    For machines without a GPU: ImageNet-initialised lightweight backbone (``mobilenet_v2``,
    ``efficientnet_lite0``), images decoded once at a small side and random crops of a smaller
    one (see :data:`CPU` for the values and ``reports/recipe_cpu/`` for the held-out validation
    that chose them), horizontal flips, AdamW with a one-cycle schedule, fixed number of
    epochs, fp32, channels_last, batch 32. The default when the CNNs run on the CPU.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, Literal

from core.errors import ConfigError

#: Samples seen by the paper recipe: 20000 iterations x batch 16.
PAPER_SAMPLES = 20000 * 16
OPTIMIZERS = ("sgd", "adam", "adamw")
SCHEDULES = ("step", "onecycle")
#: OneCycleLR's defaults: start at lr / 25, end at lr / (25 x 1e4).
ONECYCLE_DIV = 25.0
ONECYCLE_FINAL_DIV = 1e4


@dataclass(frozen=True)
class Stage:
    """One training stage.

    Attributes
    ----------
    name : str
        Label in logs and provenance.
    optimizer : {"sgd", "adam", "adamw"}
        SGD (with ``momentum``), Adam or AdamW (default betas; AdamW's decay is decoupled).
    lr : float
        Peak learning rate.
    iterations : int, optional
        Length in iterations; exactly one of ``iterations`` and ``epochs`` is set.
    epochs : float, optional
        Length in passes over the training part (converted with the training-set size).
    momentum : float
        SGD momentum.
    weight_decay : float, optional
        L2 weight decay; None = the architecture's default (5e-4 AlexNet, 1e-4 others).
    milestones : tuple of float
        Fractions of the stage's iterations where the lr is multiplied by ``gamma``.
    gamma : float
        Step factor of the schedule.
    warmup : float
        Fraction of the stage's iterations with a linear lr warm-up from ~0 (``step``
        schedule), or the rising part of the ``onecycle`` schedule.
    schedule : {"step", "onecycle"}
        ``step``: ``lr`` times ``gamma`` at each milestone (after the warm-up). ``onecycle``
        (Smith & Topin 2019, as ``torch.optim.lr_scheduler.OneCycleLR`` with cosine annealing):
        cosine rise from ``lr / 25`` to ``lr`` over the first ``warmup`` fraction, then cosine
        decay to ``lr / 25e4``.
    freeze_backbone : bool
        Train only the score head; the backbone stays in eval mode (BatchNorm statistics frozen).
    """

    name: str
    optimizer: Literal["sgd", "adam", "adamw"]
    lr: float
    iterations: int | None = None
    epochs: float | None = None
    momentum: float = 0.9
    weight_decay: float | None = None
    milestones: tuple[float, ...] = ()
    gamma: float = 0.1
    warmup: float = 0.0
    schedule: Literal["step", "onecycle"] = "step"
    freeze_backbone: bool = False

    def __post_init__(self) -> None:
        if (self.iterations is None) == (self.epochs is None):
            raise ConfigError(f"stage {self.name!r}: set exactly one of iterations and epochs")
        if self.optimizer not in OPTIMIZERS:
            raise ConfigError(f"stage {self.name!r}: unknown optimizer {self.optimizer!r} "
                              f"({', '.join(OPTIMIZERS)})")
        if self.schedule not in SCHEDULES:
            raise ConfigError(f"stage {self.name!r}: unknown schedule {self.schedule!r} "
                              f"({', '.join(SCHEDULES)})")

    def n_iterations(self, n_train: int, batch_size: int) -> int:
        """Length in iterations for ``n_train`` training images at ``batch_size``."""
        if self.iterations is not None:
            return self.iterations
        return max(1, math.ceil(self.epochs * n_train / batch_size))  # type: ignore[operator]

    def lr_at(self, it: int, total: int) -> float:
        """Learning rate of iteration ``it`` (0-based) of a stage of ``total`` iterations."""
        if self.schedule == "onecycle":
            return self._onecycle_lr(it, total)
        lr = self.lr * self.gamma ** sum(it >= round(m * total) for m in self.milestones)
        warm = round(self.warmup * total)
        if warm > 0 and it < warm:
            lr *= (it + 1) / warm
        return lr

    def _onecycle_lr(self, it: int, total: int) -> float:
        start, end = self.lr / ONECYCLE_DIV, self.lr / (ONECYCLE_DIV * ONECYCLE_FINAL_DIV)
        rise = max(1, round(self.warmup * total))
        if it < rise:
            frac, lo, hi = it / rise, start, self.lr
        else:
            frac, lo, hi = (it - rise) / max(1, total - 1 - rise), self.lr, end
        return hi + (lo - hi) * (1 + math.cos(math.pi * min(frac, 1.0))) / 2


@dataclass(frozen=True)
class Recipe:
    """A complete training recipe (see the module docstring for the built-in ones).

    Attributes
    ----------
    name : str
        Registered name (``paper``, ``blog``, ``fast``) or a derived label.
    batch_size : int
        Images per iteration.
    stages : tuple of Stage
        Run in order on the same network.
    hflip : bool
        Random horizontal flips (besides the random crop, always on).
    bf16 : bool
        bf16 autocast on CUDA (fp32 otherwise, and always on the CPU).
    channels_last : bool
        NHWC memory format for network and inputs.
    compile : bool
        ``torch.compile`` the network for training.
    head_bias : {"mean", "default"}
        Initialise the score head's bias to the mean training score (``mean``; start at the
        best constant predictor) or keep PyTorch's default initialisation.
    loss : {"mse"}
        L2 loss: mean squared error over the batch.
    image_size : int
        Side in pixels to which every image is resized once, before training (256: the
        benchmark's image cache); random crops are cut from it, the test uses its centre crop.
    crop_size : int, optional
        Side of the crops fed to the network; None = the architecture's ``input_size`` (224,
        227 for AlexNet).
    note : str
        Free text recorded with the results (e.g. why iterations were reduced).
    """

    name: str
    batch_size: int
    stages: tuple[Stage, ...]
    hflip: bool = False
    bf16: bool = False
    channels_last: bool = False
    compile: bool = False
    head_bias: Literal["mean", "default"] = "mean"
    loss: Literal["mse"] = "mse"
    image_size: int = 256
    crop_size: int | None = None
    note: str = ""
    description: str = field(default="", compare=False)

    def iterations(self, n_train: int) -> int:
        """Total iterations over all stages for ``n_train`` training images."""
        return sum(s.n_iterations(n_train, self.batch_size) for s in self.stages)

    def samples(self, n_train: int) -> int:
        """Total training samples seen (iterations x batch size)."""
        return self.iterations(n_train) * self.batch_size

    def limited(self, max_iters: int, n_train: int) -> Recipe:
        """This recipe shortened to at most ``max_iters`` iterations in total.

        Each stage is scaled by the same factor (at least 1 iteration each); milestones and
        warm-up are fractions, so the schedule keeps its shape. A recipe already short enough
        is returned unchanged.
        """
        if max_iters < 1:
            raise ConfigError(f"max_iters must be >= 1, got {max_iters}")
        total = self.iterations(n_train)
        if total <= max_iters:
            return self
        factor = max_iters / total
        stages = tuple(dataclasses.replace(s, epochs=None, iterations=max(
            1, math.floor(s.n_iterations(n_train, self.batch_size) * factor))) for s in self.stages)
        note = f"{self.note}; " if self.note else ""
        return dataclasses.replace(self, stages=stages,
                                   note=f"{note}limited to {max_iters} of {total} iterations")

    def with_batch_size(self, batch_size: int) -> Recipe:
        """The same samples seen at another batch size, learning rates scaled linearly.

        Iteration counts are divided by the batch-size ratio (epochs are unchanged).
        """
        ratio = batch_size / self.batch_size
        stages = tuple(dataclasses.replace(
            s, lr=s.lr * ratio,
            iterations=None if s.iterations is None else max(1, round(s.iterations / ratio)))
            for s in self.stages)
        return dataclasses.replace(self, batch_size=batch_size, stages=stages)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict of every field."""
        return dataclasses.asdict(self)


PAPER = Recipe(
    name="paper", batch_size=16,
    stages=(Stage("sgd", "sgd", lr=1e-3, iterations=20000, momentum=0.9,
                  milestones=(0.25, 0.5, 0.75), gamma=0.1),),
    description="Liang et al. 2018: SGD m0.9, lr 1e-3 /10 every 5000 it, 20000 it x 16, fp32")

BLOG = Recipe(
    name="blog", batch_size=32, hflip=True,
    stages=(Stage("head", "adam", lr=1e-3, epochs=30, weight_decay=0.0, freeze_backbone=True),
            Stage("all", "adam", lr=1e-4, epochs=30, weight_decay=0.0)),
    description="ResNet-50 two stages: frozen backbone, Adam 30 epochs on the head; "
                "then all, 30 epochs at lr/10")


def fast_recipe(batch_size: int = 256) -> Recipe:
    """``paper``'s 320k samples at ``batch_size`` with linear lr scaling, warm-up, bf16, channels_last."""
    base = PAPER.with_batch_size(batch_size)
    stages = tuple(dataclasses.replace(s, warmup=0.05) for s in base.stages)
    return dataclasses.replace(
        base, name="fast", stages=stages, bf16=True, channels_last=True,
        description=f"paper's {PAPER_SAMPLES // 1000}k samples at batch {batch_size}, "
                    f"lr x{batch_size / 16:g}, 5% warm-up, bf16 autocast, channels_last")


FAST = fast_recipe(256)

#: Chosen on a held-out 10% of the training part of official fold 1 (never a test fold):
#: ``python -m tools.recipe_search`` and its output in ``reports/recipe_cpu/summary.md``
#: (mobilenet_v2, validation PC: peak lr 5e-4 .8925, 1e-3 .8980; at 1e-3, 6 epochs .8942 and
#: images 146/crops 128 .9009, i.e. the smaller, ~1.6x cheaper resolution lost nothing).
CPU = Recipe(
    name="cpu", batch_size=32, hflip=True, channels_last=True, image_size=146, crop_size=128,
    stages=(Stage("onecycle", "adamw", lr=1e-3, epochs=8, weight_decay=0.01, warmup=0.3,
                  schedule="onecycle"),),
    description="CPU: ImageNet init, images 146 px, random 128 crops + flips, AdamW one-cycle "
                "peak 1e-3, 8 epochs of batch 32, fp32, channels_last")

#: Built-in recipes by name.
RECIPES: dict[str, Recipe] = {"paper": PAPER, "blog": BLOG, "fast": FAST, "cpu": CPU}


def default_recipe(device: str) -> str:
    """The recipe used when none is named: ``cpu`` on the CPU, ``paper`` on CUDA."""
    return "cpu" if device == "cpu" else "paper"


def get_recipe(recipe: str | Recipe) -> Recipe:
    """A :class:`Recipe` by name (or the recipe itself); unknown names list the valid ones."""
    if isinstance(recipe, Recipe):
        return recipe
    try:
        return RECIPES[recipe]
    except KeyError:
        raise ConfigError(f"unknown recipe {recipe!r}. Valid recipes: {', '.join(RECIPES)}") from None
