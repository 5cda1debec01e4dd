"""Device-resident training of a registered CNN on one train/test split (CUDA or CPU).

The whole training part is moved to the device once as a uint8 tensor ``(N, H, W, 3)``
(H = W = the recipe's ``image_size``: 256 for the GPU recipes, smaller for ``cpu``). Each
iteration draws a batch of indices (epoch-wise random permutations), and crops (and
optionally flips) all images of the batch in one gather on the device; the uint8 crop is
converted to a normalised float tensor that is already in channels_last layout. There is no
DataLoader and no host<->device traffic inside the loop (losses are kept on the device and
copied once at the end). Test predictions use the centre crop. Training length is fixed by
the recipe: nothing looks at the test images before the final predictions. On the CPU the
loop uses every core available to the process (``torch.set_num_threads``).

A run given a ``checkpoint`` path writes, at the end of every epoch, the weights, optimiser
state, RNG states and losses so far (atomically); a killed run given the same path resumes
from its last epoch and finishes with the same weights and predictions as an uninterrupted
one (same seed, same device and thread count).

Entry point: :func:`train_and_predict`.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import sys
import time
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from core.atomic import atomic_path
from core.errors import ConfigError
from core.hashing import sha256_file
from models.cnn import CNNS
from models.cnn.architectures import IMAGENET_NORMALISATION
from models.cnn.recipes import Recipe, Stage, get_recipe

#: ImageNet normalisation used by torchvision's weights, on the 0-255 scale.
MEAN_255 = tuple(m * 255 for m in IMAGENET_NORMALISATION[0])
STD_255 = tuple(s * 255 for s in IMAGENET_NORMALISATION[1])
#: Format tag of the epoch checkpoints written by :func:`train_and_predict`.
CHECKPOINT_FORMAT = "fbp-bench-cnn-checkpoint/1"


@dataclass
class CnnResult:
    """Outcome of :func:`train_and_predict` on one split.

    Attributes
    ----------
    model, init : str
        Registered model name and ``imagenet``/``scratch``.
    recipe : Recipe
        The recipe actually run (after ``max_iters`` shortening, if any).
    test_pred : ndarray of shape (N_test,), float32
        Predicted scores (1-5 scale) of the test images, centre crop, in input order.
    train_loss : ndarray of shape (iterations,), float32
        Training loss (MSE, score units squared) of every iteration, all stages in order.
    iterations, samples_seen : int
        Iterations run and training samples seen.
    train_time_s, predict_time_s, wall_time_s : float
        Seconds of the training iterations (warm-up included; model build and image upload
        excluded), of test prediction, and of the whole call.
    images_per_s : float
        Achieved training throughput, samples seen / training seconds (incl. warm-up).
    images_per_s_steady : float
        Training throughput after the first iterations of each stage (no cudnn autotuning,
        compilation or allocation), weighted over stages.
    stages : list of dict
        Per stage: name, iterations, seconds, steady images/s, final lr.
    seed : int
    device, device_name : str
    precision : str
        ``bf16-autocast`` or ``fp32``.
    channels_last, compiled : bool
    input_size : int
        Crop side in pixels.
    image_size : int
        Side of the training/test images the crops are cut from.
    threads : int
        ``torch.get_num_threads()`` during training.
    resumed_from : int
        Iterations restored from a checkpoint (0: trained from the start).
    allocator : str
        CPU allocator setting (:func:`tune_cpu_allocator`), or ``default allocator``.
    epoch_iterations : int
        Iterations per pass over the training part (``ceil(N / batch)``).
    weights : dict
        Build provenance (init, checkpoint file, source, sha256).
    state_dict : dict of str to Tensor, optional
        Final weights on the CPU (a run saves them with ``benchmark.model_io.save_cnn``).
    """

    model: str
    init: str
    recipe: Recipe
    test_pred: np.ndarray
    train_loss: np.ndarray
    iterations: int
    samples_seen: int
    train_time_s: float
    predict_time_s: float
    wall_time_s: float
    images_per_s: float
    images_per_s_steady: float
    stages: list[dict[str, Any]]
    seed: int
    device: str
    device_name: str
    precision: str
    channels_last: bool
    compiled: bool
    input_size: int
    weights: dict[str, Any]
    image_size: int = 0
    threads: int = 1
    resumed_from: int = 0
    allocator: str = "default allocator"
    epoch_iterations: int = 0
    versions: dict[str, str] = field(default_factory=dict)
    state_dict: dict[str, torch.Tensor] | None = field(default=None, repr=False)

    def loss_per_epoch(self) -> list[float]:
        """Mean training loss of each pass over the training part (the last one may be partial)."""
        step = self.epoch_iterations or max(1, len(self.train_loss))
        return [round(float(self.train_loss[i:i + step].mean()), 5)
                for i in range(0, len(self.train_loss), step)]

    def provenance(self) -> dict[str, Any]:
        """JSON-ready summary of the run (no arrays, no weights)."""
        loss = self.train_loss
        tail = loss[-max(1, len(loss) // 20):] if len(loss) else loss
        return {
            "model": self.model, "init": self.init, "recipe": self.recipe.to_dict(), "seed": self.seed,
            "iterations": self.iterations, "samples_seen": self.samples_seen,
            "train_time_s": round(self.train_time_s, 3), "predict_time_s": round(self.predict_time_s, 3),
            "wall_time_s": round(self.wall_time_s, 3), "images_per_s": round(self.images_per_s, 1),
            "images_per_s_steady": round(self.images_per_s_steady, 1), "stages": self.stages,
            "device": self.device, "device_name": self.device_name, "precision": self.precision,
            "channels_last": self.channels_last, "compiled": self.compiled, "input_size": self.input_size,
            "image_size": self.image_size, "threads": self.threads, "allocator": self.allocator,
            "resumed_from_iteration": self.resumed_from,
            "weights": self.weights, "versions": self.versions,
            "train_loss_first": float(loss[0]) if len(loss) else None,
            "epoch_iterations": self.epoch_iterations,
            "loss_per_epoch": self.loss_per_epoch(),
            "train_loss_last5pct": float(tail.mean()) if len(tail) else None,
        }


# ---------------------------------------------------------------------------------------------
# device-side augmentation


def random_crops(images: torch.Tensor, idx: torch.Tensor, size: int, generator: torch.Generator,
                 hflip: bool = False) -> torch.Tensor:
    """Random ``size`` x ``size`` crops (optionally mirrored) of a batch, in one gather.

    Parameters
    ----------
    images : Tensor (N, H, W, 3), uint8
        All training images, on the device.
    idx : Tensor (B,), int64
        Indices of the batch's images, on the same device.
    size : int
        Crop side in pixels, ``<= min(H, W)``.
    generator : torch.Generator
        On the same device; drives offsets and flips.
    hflip : bool
        Mirror each crop horizontally with probability 1/2.

    Returns
    -------
    Tensor (B, size, size, 3), uint8
    """
    b, dev = idx.shape[0], images.device
    h, w = images.shape[1], images.shape[2]
    oy = torch.randint(0, h - size + 1, (b, 1), generator=generator, device=dev)
    ox = torch.randint(0, w - size + 1, (b, 1), generator=generator, device=dev)
    ar = torch.arange(size, device=dev)
    rows = oy + ar  # (B, size)
    if hflip:
        flip = torch.rand((b, 1), generator=generator, device=dev) < 0.5
        cols = ox + torch.where(flip, size - 1 - ar, ar)
    else:
        cols = ox + ar
    return images[idx[:, None, None], rows[:, :, None], cols[:, None, :]]


def center_crops(images: torch.Tensor, size: int) -> torch.Tensor:
    """Centre ``size`` x ``size`` crops: (B, H, W, 3) uint8 -> (B, size, size, 3) uint8 view."""
    h, w = images.shape[1], images.shape[2]
    top, left = (h - size) // 2, (w - size) // 2
    return images[:, top:top + size, left:left + size]


def to_input(crops: torch.Tensor, channels_last: bool = True,
             normalisation: tuple[tuple[float, ...], tuple[float, ...]] = IMAGENET_NORMALISATION) -> torch.Tensor:
    """uint8 crops (B, S, S, 3) -> normalised float32 (B, 3, S, S).

    ``normalisation`` is the (mean, std) per RGB channel on the 0-1 scale (default
    torchvision's ImageNet statistics; an architecture's ``normalisation`` otherwise). The
    permuted NHWC tensor already has channels_last strides; with ``channels_last=False`` it is
    made contiguous (NCHW).
    """
    x = crops.permute(0, 3, 1, 2).float()
    if not channels_last:
        x = x.contiguous()
    mean, inv_std = _norm_constants(x.device, normalisation)
    return (x - mean) * inv_std


@lru_cache(maxsize=16)
def _norm_constants(device: torch.device, normalisation: tuple[tuple[float, ...], tuple[float, ...]]
                    ) -> tuple[torch.Tensor, torch.Tensor]:
    """(255 mean, 1/(255 std)), each (1, 3, 1, 1) float32 on ``device``, made once per device."""
    mean = torch.tensor(normalisation[0], dtype=torch.float32).view(1, 3, 1, 1) * 255
    inv_std = 1.0 / (torch.tensor(normalisation[1], dtype=torch.float32).view(1, 3, 1, 1) * 255)
    return mean.to(device), inv_std.to(device)


class _EpochSampler:
    """Batches of indices from successive random permutations of ``range(n)`` (on the device)."""

    def __init__(self, n: int, generator: torch.Generator, device: torch.device) -> None:
        self.n, self.generator, self.device = n, generator, device
        self._perm = torch.empty(0, dtype=torch.long, device=device)

    def state(self) -> torch.Tensor:
        """The indices drawn but not yet used (for checkpoints)."""
        return self._perm.cpu()

    def restore(self, perm: torch.Tensor) -> None:
        """Continue from :meth:`state`."""
        self._perm = perm.to(self.device)

    def next(self, batch_size: int) -> torch.Tensor:
        while self._perm.numel() < batch_size:
            fresh = torch.randperm(self.n, generator=self.generator, device=self.device)
            self._perm = torch.cat([self._perm, fresh])
        batch, self._perm = self._perm[:batch_size], self._perm[batch_size:]
        return batch


# ---------------------------------------------------------------------------------------------
# helpers


def _as_uint8_images(images: Any, what: str, min_side: int) -> torch.Tensor:
    t = torch.from_numpy(np.ascontiguousarray(images)) if isinstance(images, np.ndarray) else images
    if not isinstance(t, torch.Tensor) or t.dtype != torch.uint8 or t.ndim != 4 or t.shape[-1] != 3:
        shape = tuple(getattr(t, "shape", ()))
        raise ConfigError(f"{what}: expected a uint8 array/tensor of shape (N, H, W, 3), got "
                          f"{getattr(t, 'dtype', type(t).__name__)} {shape}")
    if min(t.shape[1], t.shape[2]) < min_side:
        raise ConfigError(f"{what}: images are {t.shape[1]}x{t.shape[2]}, smaller than the "
                          f"{min_side}px crop")
    return t


def resolve_device(device: str | torch.device) -> torch.device:
    """``torch.device(device)``; ConfigError (one line) for CUDA on a machine without it."""
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device {device!r} requested but CUDA is not available on this machine "
                          "(use device='cpu' for a small run)")
    return dev


def _sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def _make_optimizer(stage: Stage, params: list[nn.Parameter], weight_decay: float,
                    dev: torch.device) -> torch.optim.Optimizer:
    extra: dict[str, Any] = {"foreach": True} if dev.type == "cuda" else {}
    if stage.optimizer == "sgd":
        return torch.optim.SGD(params, lr=stage.lr, momentum=stage.momentum,
                               weight_decay=weight_decay, **extra)
    if stage.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=stage.lr, weight_decay=weight_decay, **extra)
    return torch.optim.Adam(params, lr=stage.lr, weight_decay=weight_decay, **extra)


#: Test-prediction batch per device type. On the CPU a batch of 256 raised the process's peak
#: RSS by about 1.5 GiB over the training steps' (efficientnet_lite0, 128 px); 64 adds ~0.1 GiB
#: and predicts no slower.
EVAL_BATCH_SIZE: dict[str, int] = {"cpu": 64, "cuda": 256}

#: glibc ``mallopt`` parameters: M_TRIM_THRESHOLD, M_MMAP_THRESHOLD.
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
#: Allocations below this size are served from the heap, not by fresh ``mmap`` calls.
CPU_MMAP_THRESHOLD = 1 << 30


@lru_cache(maxsize=1)
def tune_cpu_allocator() -> str:
    """Keep freed activation buffers in glibc's heap instead of returning them to the OS.

    PyTorch's CPU tensors come from ``malloc``; glibc serves blocks above its mmap threshold
    (at most 32 MiB by default) with a fresh ``mmap`` and unmaps them on free, so every training
    step page-faults its activations in again. Raising the mmap and trim thresholds to 1 GiB
    makes the steps reuse memory: measured here on MobileNetV2 (batch 32, 160 px, 2 threads)
    this doubled the training throughput. Called once per process; a no-op (reported) where
    the C library is not glibc.

    Returns
    -------
    str
        What was done, for the run's provenance.
    """
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    if sys.platform != "linux" or not name:
        return "default allocator"
    libc = ctypes.CDLL(name)
    if not hasattr(libc, "mallopt") or not hasattr(libc, "gnu_get_libc_version"):
        return "default allocator"
    ok = libc.mallopt(_M_MMAP_THRESHOLD, CPU_MMAP_THRESHOLD) and libc.mallopt(_M_TRIM_THRESHOLD, CPU_MMAP_THRESHOLD)
    return f"glibc mallopt mmap/trim threshold {CPU_MMAP_THRESHOLD >> 20} MiB" if ok else "default allocator"


def available_cores() -> int:
    """CPU cores this process may run on (its affinity mask where the OS has one)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def checked_input_size(model_name: str, recipe: str | Recipe, input_size: int | None = None) -> int:
    """The side (px) of the crops ``model_name`` trains on with ``recipe``, checked against the network.

    ``input_size`` if given, else the recipe's crop, else the network's own input size.

    Raises
    ------
    ConfigError
        The network cannot take that size (one line; see ``CnnArchitecture.check_input_size``).
    """
    arch = CNNS.create(model_name)
    size = input_size or get_recipe(recipe).crop_size or arch.input_size
    arch.check_input_size(size)
    return size


def _run_id(model_name: str, init: str, recipe: Recipe, seed: int, n: int, size: int,
            scores: torch.Tensor, weights: str | Path | None = None) -> str:
    """Identity of a training run, stored in its checkpoints (a mismatching checkpoint is not used).

    A ``weights`` file enters by content (sha256): the same file under another name resumes.
    """
    payload = json.dumps({"model": model_name, "init": init, "recipe": recipe.to_dict(), "seed": seed,
                          "n": n, "size": size, "scores": hashlib.sha1(scores.numpy().tobytes()).hexdigest(),
                          **({"weights": sha256_file(weights)} if weights is not None else {})},
                         sort_keys=True, default=str)
    return hashlib.sha1(payload.encode()).hexdigest()


def _save_checkpoint(path: Path, payload: dict[str, Any]) -> None:
    """``torch.save`` to a temporary file beside ``path``, then rename (atomic)."""
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)


def _load_checkpoint(path: Path | None, run_id: str) -> dict[str, Any] | None:
    """The checkpoint at ``path`` if it belongs to ``run_id``, else None.

    Temporary files left beside it by a run killed while saving are removed.
    """
    if path is None:
        return None
    for stale in path.parent.glob(f".{path.name}.*.tmp*"):
        stale.unlink(missing_ok=True)
    if not path.is_file():
        return None
    state = torch.load(path, map_location="cpu", weights_only=True)
    if state.get("format") != CHECKPOINT_FORMAT or state.get("run_id") != run_id:
        print(f"note: {path} is from another run configuration; training from the start",
              file=sys.stderr, flush=True)
        return None
    return state


def _versions() -> dict[str, str]:
    import torchvision

    out = {"torch": torch.__version__, "torchvision": torchvision.__version__}
    if torch.version.cuda:
        out["cuda"] = torch.version.cuda
    if torch.backends.cudnn.is_available():
        out["cudnn"] = str(torch.backends.cudnn.version())
    return out


@torch.inference_mode()
def predict(model: nn.Module, images: torch.Tensor, size: int, device: torch.device,
            batch_size: int = 256, bf16: bool = False, channels_last: bool = True,
            normalisation: tuple[tuple[float, ...], tuple[float, ...]] = IMAGENET_NORMALISATION) -> np.ndarray:
    """Centre-crop predictions of ``model`` (put in eval mode) for uint8 images.

    Parameters
    ----------
    images : Tensor (N, H, W, 3), uint8
        On any device; moved batch by batch.

    Returns
    -------
    ndarray (N,), float32
    """
    model.eval()
    out = []
    use_amp = bf16 and device.type == "cuda"
    for start in range(0, images.shape[0], batch_size):
        crops = center_crops(images[start:start + batch_size], size).to(device, non_blocking=True)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_amp):
            out.append(model(to_input(crops, channels_last, normalisation)).float())
    return torch.cat(out).cpu().numpy().astype(np.float32) if out else np.zeros(0, np.float32)


# ---------------------------------------------------------------------------------------------
# the training loop



def train_and_predict(model_name: str, train_images: Any, train_scores: Any, test_images: Any,
                      recipe: str | Recipe = "paper", init: str = "imagenet",
                      device: str | torch.device = "cuda", seed: int = 0, max_iters: int | None = None,
                      progress: bool = True, *, input_size: int | None = None,
                      allow_download: bool = False, compile: bool | None = None,
                      eval_batch_size: int | None = None, keep_state_dict: bool = True,
                      checkpoint: str | Path | None = None, threads: int | None = None,
                      weights: str | Path | None = None) -> CnnResult:
    """Fine-tune (or train from scratch) a registered CNN on one split; predict the test part.

    Parameters
    ----------
    model_name : str
        A name of :data:`models.cnn.CNNS` (``alexnet``, ``resnet18``, ``resnext50``, ``resnet50``,
        ``mobilenet_v2``, ``efficientnet_lite0``, or ``timm/<name>``).
    train_images : uint8 Tensor or ndarray (N, H, W, 3)
        Training images (``recipe.image_size`` square in the benchmark), RGB. Moved to
        ``device`` once.
    train_scores : array-like (N,)
        Mean attractiveness scores (1-5) of the training images.
    test_images : uint8 Tensor or ndarray (M, H, W, 3)
        Test images; only seen after training, centre-cropped.
    recipe : str or Recipe
        ``paper`` (default), ``blog``, ``fast``, ``cpu`` or a :class:`Recipe`.
    init : {"imagenet", "scratch"}
        ImageNet weights (offline; see :mod:`models.cnn.weights`) or random initialisation.
    device : str or torch.device
        ``cuda`` or ``cpu``.
    seed : int
        Seeds the head/scratch initialisation, batch order, crops, flips and dropout.
    max_iters : int, optional
        Cap on the total iterations; the recipe is scaled down (schedule shape kept) and the
        shortened recipe is recorded in the result.
    progress : bool
        Print a loss line to stderr about every 10% of each stage.
    input_size : int, optional
        Crop side overriding the recipe's ``crop_size`` and the architecture's ``input_size``
        (for quick CPU tests on small images).
    allow_download : bool
        Allow torchvision to download missing ImageNet weights (default: offline only).
    compile : bool, optional
        ``torch.compile`` the training network; default: the recipe's setting.
    eval_batch_size : int, optional
        Batch size for test prediction; default :data:`EVAL_BATCH_SIZE` of the device type
        (64 on the CPU keeps inference below the training step's memory peak).
    keep_state_dict : bool
        Copy the final weights to the CPU into ``result.state_dict``.
    checkpoint : str or Path, optional
        Epoch checkpoint file: resumed from when it exists and belongs to this configuration
        (model, init, recipe, seed, training labels), rewritten atomically at the end of every
        epoch and stage. The caller deletes it once the result is stored.
    threads : int, optional
        Intra-op threads on the CPU (default: every core available to the process); the
        previous setting is restored on return.
    weights : str or Path, optional
        A local checkpoint file used instead of the downloaded/packaged ImageNet weights
        (``init`` must be ``imagenet``), checked key by key against the architecture
        (:func:`models.cnn.weights.load_weights_file`); its sha256 is recorded.

    Returns
    -------
    CnnResult

    Raises
    ------
    ConfigError
        Unknown model/recipe/init, bad array shapes, CUDA unavailable.
    models.cnn.weights.MissingWeightsError
        ImageNet weights not available offline (one line naming file and folder).
    """
    t_start = time.perf_counter()
    arch = CNNS.create(model_name)
    recipe = get_recipe(recipe)
    dev = resolve_device(device)
    size = checked_input_size(model_name, recipe, input_size)
    train_u8 = _as_uint8_images(train_images, "train_images", size)
    test_u8 = _as_uint8_images(test_images, "test_images", size)
    scores = torch.as_tensor(np.asarray(train_scores, dtype=np.float32).ravel())
    n = train_u8.shape[0]
    if scores.shape[0] != n or n < 2:
        raise ConfigError(f"train_scores: {scores.shape[0]} scores for {n} training images "
                          "(need >= 2, equal)")
    if not torch.isfinite(scores).all():
        raise ConfigError("train_scores: contains NaN or inf")
    if max_iters is not None:
        recipe = recipe.limited(max_iters, n)
    previous_threads = torch.get_num_threads()
    if dev.type == "cpu":
        torch.set_num_threads(threads or available_cores())
        tune_cpu_allocator()
    try:
        return _train(arch, model_name, recipe, init, dev, seed, size, train_u8, scores, test_u8,
                      progress=progress, allow_download=allow_download, compile=compile,
                      eval_batch_size=eval_batch_size or EVAL_BATCH_SIZE.get(dev.type, 256),
                      keep_state_dict=keep_state_dict,
                      checkpoint=Path(checkpoint) if checkpoint is not None else None, t_start=t_start,
                      weights=weights)
    finally:
        torch.set_num_threads(previous_threads)


def _train(arch: Any, model_name: str, recipe: Recipe, init: str, dev: torch.device, seed: int, size: int,
           train_u8: torch.Tensor, scores: torch.Tensor, test_u8: torch.Tensor, *, progress: bool,
           allow_download: bool, compile: bool | None, eval_batch_size: int, keep_state_dict: bool,
           checkpoint: Path | None, t_start: float, weights: str | Path | None = None) -> CnnResult:
    """The body of :func:`train_and_predict` once inputs are checked and threads are set."""
    n = train_u8.shape[0]
    use_compile = recipe.compile if compile is None else compile
    use_amp = recipe.bf16 and dev.type == "cuda"
    norm = arch.normalisation
    run_id = _run_id(model_name, init, recipe, seed, n, size, scores, weights)
    saved = _load_checkpoint(checkpoint, run_id)

    torch.manual_seed(seed)
    model = (arch.build(init, allow_download=allow_download) if weights is None
             else arch.build(init, allow_download=allow_download, weights=weights))
    head = arch.head(model)
    if recipe.head_bias == "mean":
        with torch.no_grad():
            head.bias.fill_(float(scores.mean()))
    if saved is not None:
        model.load_state_dict(saved["model"], strict=True)
    memory_format = torch.channels_last if recipe.channels_last else torch.contiguous_format
    model = model.to(dev, memory_format=memory_format)
    if dev.type == "cuda":
        torch.backends.cudnn.benchmark = True
    net = torch.compile(model) if use_compile else model
    weight_decay_default = arch.weight_decay

    images = train_u8.to(dev, non_blocking=True)
    targets = scores.to(dev)
    gen = torch.Generator(device=dev)
    gen.manual_seed(seed)
    sampler = _EpochSampler(n, gen, dev)
    bs = recipe.batch_size
    stage_iters = [s.n_iterations(n, bs) for s in recipe.stages]
    epoch_iters = max(1, math.ceil(n / bs))
    losses = torch.zeros(sum(stage_iters), device=dev)
    stage_stats: list[dict[str, Any]] = []
    k, resume_stage, resume_it, prior_train_s = 0, 0, 0, 0.0
    if saved is not None:
        k, resume_stage, resume_it = int(saved["k"]), int(saved["stage"]), int(saved["it"])
        losses[:k] = saved["losses"].to(dev)
        stage_stats = list(saved["stage_stats"])
        prior_train_s = float(saved["train_s"])
        gen.set_state(saved["generator"].to(gen.get_state().device))
        sampler.restore(saved["perm"])
        torch.set_rng_state(saved["torch_rng"])
        if dev.type == "cuda" and "cuda_rng" in saved:
            torch.cuda.set_rng_state(saved["cuda_rng"], dev)
        if progress:
            print(f"[{model_name} {recipe.name}] resumed from {checkpoint} at iteration {k}",
                  file=sys.stderr, flush=True)
    resumed_from = k
    _sync(dev)
    t_train = time.perf_counter()

    def save(si: int, it: int, opt: torch.optim.Optimizer) -> None:
        if checkpoint is None:
            return
        _sync(dev)
        payload = {"format": CHECKPOINT_FORMAT, "run_id": run_id, "stage": si, "it": it, "k": k,
                   "model": model.state_dict(), "optimizer": opt.state_dict(),
                   "generator": gen.get_state(), "perm": sampler.state(), "torch_rng": torch.get_rng_state(),
                   "losses": losses[:k].cpu(), "stage_stats": stage_stats,
                   "train_s": prior_train_s + time.perf_counter() - t_train}
        if dev.type == "cuda":
            payload["cuda_rng"] = torch.cuda.get_rng_state(dev)
        _save_checkpoint(checkpoint, payload)

    for si, (stage, iters) in enumerate(zip(recipe.stages, stage_iters, strict=True)):
        if si < resume_stage:
            continue
        start_it = resume_it if si == resume_stage else 0
        head_params = set(head.parameters())
        for p in model.parameters():
            p.requires_grad_(not stage.freeze_backbone or p in head_params)
        params = [p for p in model.parameters() if p.requires_grad]
        wd = weight_decay_default if stage.weight_decay is None else stage.weight_decay
        opt = _make_optimizer(stage, params, wd, dev)
        if saved is not None and si == resume_stage and start_it > 0:
            opt.load_state_dict(saved["optimizer"])
        model.train()
        if stage.freeze_backbone:
            model.eval()
            head.train()
        remaining = iters - start_it
        warm = start_it + (min(10, max(1, remaining // 5)) if remaining > 1 else 0)
        report_every = max(1, math.ceil(iters / 10))
        t_stage = time.perf_counter()
        t_warm = t_stage
        lr = stage.lr_at(max(0, start_it - 1), iters)
        for it in range(start_it, iters):
            if it == warm:
                _sync(dev)
                t_warm = time.perf_counter()
            lr = stage.lr_at(it, iters)
            for group in opt.param_groups:
                group["lr"] = lr
            idx = sampler.next(bs)
            x = to_input(random_crops(images, idx, size, gen, recipe.hflip), recipe.channels_last, norm)
            with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=use_amp):
                out = net(x)
            loss = F.mse_loss(out.float(), targets[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            losses[k] = loss.detach()
            k += 1
            if progress and ((it + 1) % report_every == 0 or it + 1 == iters):
                recent = losses[max(0, k - report_every):k].mean().item()
                print(f"[{model_name} {recipe.name}/{stage.name}] it {it + 1}/{iters} lr {lr:.2e} "
                      f"loss {recent:.4f}", file=sys.stderr, flush=True)
            if k % epoch_iters == 0 and it + 1 < iters:
                save(si, it + 1, opt)
        _sync(dev)
        t_end = time.perf_counter()
        steady_iters = iters - warm
        steady = steady_iters * bs / (t_end - t_warm) if steady_iters > 0 and t_end > t_warm else float("nan")
        stage_stats.append({"name": stage.name, "iterations": iters, "seconds": round(t_end - t_stage, 3),
                            "images_per_s_steady": round(steady, 1), "final_lr": lr,
                            "weight_decay": wd, "frozen_backbone": stage.freeze_backbone})
        save(si, iters, opt)
    train_time = prior_train_s + time.perf_counter() - t_train
    for p in model.parameters():
        p.requires_grad_(True)
    del images

    t_pred = time.perf_counter()
    test_pred = predict(model, test_u8, size, dev, eval_batch_size, bf16=recipe.bf16,
                        channels_last=recipe.channels_last, normalisation=norm)
    predict_time = time.perf_counter() - t_pred
    samples = k * bs
    steady_w = [(s["iterations"], s["images_per_s_steady"]) for s in stage_stats
                if math.isfinite(s["images_per_s_steady"])]
    steady_all = (sum(i for i, _ in steady_w) / sum(i / v for i, v in steady_w)) if steady_w else float("nan")
    state = ({key: v.detach().to("cpu", copy=True) for key, v in model.state_dict().items()}
             if keep_state_dict else None)
    return CnnResult(
        model=model_name, init=init, recipe=recipe, test_pred=test_pred,
        train_loss=losses.cpu().numpy().astype(np.float32), iterations=k, samples_seen=samples,
        train_time_s=train_time, predict_time_s=predict_time,
        wall_time_s=time.perf_counter() - t_start,
        images_per_s=samples / train_time if train_time > 0 else float("nan"),
        images_per_s_steady=steady_all, stages=stage_stats, seed=seed, device=str(dev),
        device_name=torch.cuda.get_device_name(dev) if dev.type == "cuda" else _cpu_name(),
        precision="bf16-autocast" if use_amp else "fp32", channels_last=recipe.channels_last,
        compiled=use_compile, input_size=size, weights=dict(arch.build_info), versions=_versions(),
        image_size=int(train_u8.shape[1]), threads=torch.get_num_threads(), resumed_from=resumed_from,
        allocator=tune_cpu_allocator() if dev.type == "cpu" else "default allocator", epoch_iterations=epoch_iters,
        state_dict=state)


def _cpu_name() -> str:
    """The CPU model name (``/proc/cpuinfo``), else ``platform.processor()``, else ``cpu``."""
    import platform

    info = Path("/proc/cpuinfo")
    if info.is_file():
        for line in info.read_text().splitlines():
            if line.startswith("model name"):
                return f"cpu: {line.split(':', 1)[1].strip()}"
    return f"cpu: {platform.processor()}" if platform.processor() else "cpu"
