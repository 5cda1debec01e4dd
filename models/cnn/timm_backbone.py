"""Any timm model as a CNN of the benchmark: ``--models timm/<name>``.

``timm/<name>`` accepts every name of ``timm.list_models()`` (``timm/resnet10t``,
``timm/convnext_atto``, ...), optionally with a pretrained tag of ``timm.list_pretrained()``
(``timm/resnet10t.c3_in1k``). The names are not registered one by one: this module registers the
family ``timm/`` in :data:`models.cnn.CNNS` (:meth:`core.registry.Registry.register_family`), and
:func:`timm_architecture` builds, on first use of a name, a :class:`TimmArchitecture` subclass
for it. ``CNNS.list()`` therefore keeps listing only the built-in networks, and timm is imported
only when a ``timm/`` name is used.

The network is ``timm.create_model(name, num_classes=1)``: timm's own 1-output classifier, whose
``(N, 1)`` output a forward hook squeezes to ``(N,)`` (the parameter names stay timm's, so a
saved model is also a timm checkpoint). Input size and normalisation come from the model's
``pretrained_cfg`` (e.g. 176 px and ImageNet mean/std for ``resnet10t``); the recipes, records
and tables are those of the torchvision networks.

Weights (``init="imagenet"``): through timm's pretrained API and cache. A checkpoint already in
the Hugging Face cache (or torch hub cache, for URL-only configurations) is loaded without any
network access; otherwise ``timm.create_model(name, pretrained=True, num_classes=1)`` downloads
it. Without network that fails, and the run stops with one line naming the file to download
and ``--weights FILE``, which loads a local checkpoint (safetensors or torch state dict)
checked key by key (:func:`models.cnn.weights.load_weights_file`).
"""

from __future__ import annotations

import difflib
import functools
import os
import socket
from importlib.metadata import version
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlparse

import torch
from torch import nn

from core.errors import ConfigError
from core.hashing import sha256_file
from core.registry import UnknownComponentError
from models.cnn import CNNS
from models.cnn.architectures import IMAGENET_NORMALISATION, CnnArchitecture, check_init
from models.cnn.weights import MissingWeightsError, checkpoints_dir, load_weights_file

#: The name prefix of the family in :data:`models.cnn.CNNS`.
PREFIX = "timm/"
#: Small timm models shown by ``--list`` (and used by the tests).
EXAMPLES = ("resnet10t", "mobilenetv3_small_050", "convnext_atto", "efficientnet_b0")
DESCRIPTION = (f"any model name of timm.list_models() (timm {version('timm')}), e.g. "
               + ", ".join(PREFIX + e for e in EXAMPLES)
               + "; 1-output head, input size and mean/std from its pretrained_cfg; ImageNet weights through "
                 "timm's pretrained API and cache, or --weights FILE")


def _squeeze_scores(module: nn.Module, args: Any, output: torch.Tensor) -> torch.Tensor:
    """Forward hook: timm's ``(N, 1)`` output -> scores ``(N,)``."""
    return output.squeeze(-1) if output.ndim == 2 and output.shape[-1] == 1 else output


class TimmArchitecture(CnnArchitecture):
    """A timm model with a 1-output regression head (base of the per-name classes; not registered).

    Attributes
    ----------
    timm_name : str
        The name given to ``timm.create_model`` (``resnet10t`` or ``resnet10t.c3_in1k``).
    pretrained_cfg : dict
        timm's pretrained configuration of that name (``{}`` when timm has none).
    """

    timm_name: ClassVar[str]
    pretrained_cfg: ClassVar[dict[str, Any]] = {}
    head_path = "<timm get_classifier()>"

    def weights(self) -> str:
        """The timm pretrained tag used for ``init="imagenet"`` (``resnet10t.c3_in1k``)."""
        cfg = self.pretrained_cfg
        return f"{cfg.get('architecture', self.timm_name)}.{cfg.get('tag') or ''}".rstrip(".")

    def build(self, init: str = "scratch", allow_download: bool = False,
              weights: str | os.PathLike | None = None) -> nn.Module:
        """``timm.create_model(name, num_classes=1)`` with its output squeezed to ``(N,)``.

        Parameters
        ----------
        init : {"imagenet", "scratch"}
            ``imagenet``: timm's pretrained weights (cache first, then timm's download);
            ``scratch``: timm's random initialisation (seed it with ``torch.manual_seed``).
        allow_download : bool
            Ignored: timm's pretrained API decides (it downloads when the file is not cached).
        weights : path-like, optional
            A local checkpoint instead of timm's download (``init`` must be ``imagenet``), checked
            key by key; its classifier is ignored.

        The 1-output head is initialised as ``nn.Linear``'s default (uniform within
        ``+-1/sqrt(in_features)``), like the torchvision nets' :class:`ScoreHead`, whatever the
        init: timm's classifier init is meant for 1000 logits (EfficientNet's draws within
        ``+-1/sqrt(out_features)``, i.e. +-1 for one output: a first loss 100 times the usual).

        Returns
        -------
        nn.Module
            Input (N, 3, H, W) float normalised with :attr:`normalisation`; output (N,).

        Raises
        ------
        ConfigError
            Unknown ``init``, or ``weights`` with ``scratch``.
        MissingWeightsError
            ``imagenet`` weights neither cached nor downloadable (one line: what to download
            and ``--weights FILE``), or timm has no pretrained weights for the name.
        models.cnn.weights.WeightsMismatchError
            ``weights`` is not a checkpoint of this model (one line).
        """
        import timm

        check_init(init, weights)
        info: dict[str, Any] = {"init": init, "builder": f"timm.create_model({self.timm_name!r}, num_classes=1)",
                                "timm": version("timm")}
        if init == "imagenet" and weights is None:
            model, source = self._pretrained(timm)
            info.update(source)
        else:
            model = self._create(timm, pretrained=False)
            if weights is not None:
                info.update(load_weights_file(model, weights, self.head_prefixes(model), self.name))
        for head in self._heads(model):  # timm's init of a 1000-class classifier is too wide for 1 output
            for layer in head.modules():  # the layer itself, or the layers of a composite classifier
                if hasattr(layer, "reset_parameters"):
                    layer.reset_parameters()
        info["head_init"] = "nn.Linear default init (uniform +-1/sqrt(in_features)), as the torchvision nets' head"
        model.register_forward_hook(_squeeze_scores)
        self.build_info = info
        return model

    def _create(self, timm: Any, **kwargs: Any) -> nn.Module:
        """``timm.create_model(name, num_classes=1, **kwargs)``; a model made for one input size
        (``fixed_input_size``: ViT, DeiT, Swin, ...) is made to accept any with ``dynamic_img_size``
        where its class supports that, so the recipes' crops (128 px on the CPU) fit."""
        if self.pretrained_cfg.get("fixed_input_size"):
            try:
                return timm.create_model(self.timm_name, num_classes=1, dynamic_img_size=True, **kwargs)
            except TypeError as err:  # this model class has no dynamic_img_size
                if "dynamic_img_size" not in str(err):
                    raise
        return timm.create_model(self.timm_name, num_classes=1, **kwargs)

    def check_input_size(self, size: int) -> None:
        """Also refuse, in one line, a model made for one input size that cannot take ``size`` px.

        A model whose ``pretrained_cfg`` has ``fixed_input_size`` (BEiT, CaiT, MLP-Mixer, LeViT,
        CoAtNet, MaxViT, ...) and no ``dynamic_img_size`` in its class would otherwise fail inside
        its forward pass on the first batch (an assertion or a shape error), after the images were
        decoded. It is tried once here, from scratch, on one blank image.
        """
        super().check_input_size(size)
        if not self.pretrained_cfg.get("fixed_input_size") or size == self.input_size:
            return
        import timm

        model = self._create(timm, pretrained=False).eval()
        try:
            with torch.no_grad():
                model(torch.zeros(1, 3, size, size))
        except (AssertionError, RuntimeError) as err:
            why = (str(err).strip().splitlines() or [""])[0] or "the forward pass fails"
            raise ConfigError(f"{self.name} is made for {self.input_size}x{self.input_size} px inputs and does not "
                              f"take {size} px crops ({type(err).__name__}: {why}); use a recipe that crops "
                              f"{self.input_size} px (paper, blog, fast: the model's own size) or a model with "
                              "a dynamic input size") from None

    def _pretrained(self, timm: Any) -> tuple[nn.Module, dict[str, Any]]:
        """timm's ImageNet model and its provenance; cache first, then timm's download."""
        cfg = self.pretrained_cfg
        tag = self.weights()
        if not (cfg.get("hf_hub_id") or cfg.get("url") or cfg.get("file")):
            raise MissingWeightsError(f"timm has no pretrained weights for {self.name}: use --init scratch, "
                                      "or --weights FILE with a checkpoint of it")
        info: dict[str, Any] = {"weights": f"timm:{tag}", "hf_hub_id": cfg.get("hf_hub_id"), "url": cfg.get("url")}
        cached = cached_pretrained_file(cfg)
        if cached is not None:
            model = self._create(timm, pretrained=True, pretrained_cfg_overlay={"file": str(cached)})
            return model, {**info, "source": "cache", "path": str(cached), "file": cached.name,
                           "sha256": sha256_file(cached)}
        host = _weights_host(cfg)
        if not _resolves(host):
            raise MissingWeightsError(offline_message(self.name, cfg, f"cannot resolve {host}"))
        try:
            model = self._create(timm, pretrained=True)
        except OSError as err:  # huggingface_hub's LocalEntryNotFoundError, urllib's URLError: no network
            raise MissingWeightsError(offline_message(self.name, cfg, type(err).__name__)) from None
        downloaded = cached_pretrained_file(cfg)
        extra = ({"path": str(downloaded), "file": downloaded.name, "sha256": sha256_file(downloaded)}
                 if downloaded is not None else {})
        return model, {**info, "source": "download", **extra}

    def head(self, model: nn.Module) -> nn.Module:
        """timm's classifier (``model.get_classifier()``), the 1-output layer."""
        layer = model.get_classifier()
        if isinstance(layer, tuple | list):  # distilled models: (head, head_dist)
            layer = layer[0]
        if not isinstance(layer, nn.Module) or getattr(layer, "bias", None) is None:
            raise TypeError(f"{self.name}: timm's classifier {type(layer).__name__} has no bias")
        return layer

    @staticmethod
    def _heads(model: nn.Module) -> tuple[nn.Module, ...]:
        """timm's classifier layer(s): one, or two for distilled models (``head``, ``head_dist``)."""
        heads = model.get_classifier()
        return tuple(heads) if isinstance(heads, tuple | list) else (heads,)

    def head_prefixes(self, model: nn.Module) -> tuple[str, ...]:
        """Module paths of timm's classifier(s) in ``model`` (``("fc",)``, ``("head.fc",)``, ...)."""
        heads = self._heads(model)
        return tuple(name for name, module in model.named_modules() if any(module is h for h in heads))

    def replace_head(self, model: nn.Module) -> nn.Module:
        """timm builds the 1-output head itself (``num_classes=1``); returns it."""
        return self.head(model)

    def describe(self) -> dict[str, Any]:
        """JSON-ready description for provenance records."""
        return {"model": self.name, "builder": f"timm.create_model({self.timm_name!r}, num_classes=1)",
                "weights": f"timm:{self.weights()}", "input_size": self.input_size,
                "weight_decay": self.weight_decay, "head": "get_classifier()",
                "normalisation": {"mean": list(self.normalisation[0]), "std": list(self.normalisation[1])}}


def cached_pretrained_file(cfg: dict[str, Any]) -> Path | None:
    """The local copy of a pretrained configuration's checkpoint, looked up without network.

    The Hugging Face cache for ``hf_hub_id`` (``model.safetensors``, ``pytorch_model.bin`` or the
    configuration's ``hf_hub_filename``), then the torch hub cache for ``url``.
    """
    hub_id = cfg.get("hf_hub_id")
    if hub_id:
        from huggingface_hub import try_to_load_from_cache

        names = [cfg["hf_hub_filename"]] if cfg.get("hf_hub_filename") else ["model.safetensors", "pytorch_model.bin"]
        for filename in names:
            found = try_to_load_from_cache(hub_id, filename)
            if isinstance(found, str) and Path(found).is_file():
                return Path(found)
    url = cfg.get("url")
    if url:
        path = checkpoints_dir() / os.path.basename(urlparse(url).path)
        if path.is_file():
            return path
    return None


def _weights_host(cfg: dict[str, Any]) -> str:
    if cfg.get("hf_hub_id"):
        from huggingface_hub import constants

        return urlparse(constants.ENDPOINT).hostname or "huggingface.co"
    return urlparse(cfg.get("url") or "").hostname or ""


def _resolves(host: str) -> bool:
    """True if ``host``'s name resolves (a cheap no-network check before timm's slow retries)."""
    try:
        socket.getaddrinfo(host, 443)
    except (OSError, UnicodeError):
        return False
    return True


def offline_message(model: str, cfg: dict[str, Any], reason: str) -> str:
    """The one-line error for timm weights neither cached nor downloadable."""
    from huggingface_hub import constants

    tag = f"{cfg.get('architecture')}.{cfg.get('tag')}"
    hub_id = cfg.get("hf_hub_id")
    if hub_id:
        what = (f"download model.safetensors of https://huggingface.co/{hub_id} (timm pretrained_cfg "
                f"hf_hub_id {hub_id!r}, tag {tag})")
        cache = constants.HF_HUB_CACHE
    else:
        what = f"download {cfg.get('url')} (timm pretrained_cfg url of {tag})"
        cache = f"{checkpoints_dir()}/"
    return (f"ImageNet weights for {model} are not cached and cannot be downloaded ({reason}): {what} on a "
            f"machine with network and pass --weights FILE (or run once with network: timm caches it in {cache}), "
            "or use --init scratch")


@functools.cache
def timm_architecture(name: str) -> type[TimmArchitecture]:
    """The architecture class of ``timm/<name>`` (one class per name, made on first use).

    Parameters
    ----------
    name : str
        A name of ``timm.list_models()``, optionally ``.tag`` of ``timm.list_pretrained()``.

    Raises
    ------
    UnknownComponentError
        Not a timm name: one line with the closest names of ``timm.list_models()``.
    """
    import timm
    from timm.models import get_pretrained_cfg

    known = timm.list_models()
    base, _, tag = name.partition(".")
    if base not in known:
        close = difflib.get_close_matches(base, known, n=3, cutoff=0.6)
        hint = f" Did you mean {', '.join(PREFIX + c for c in close)}?" if close else ""
        raise UnknownComponentError(f"unknown model {PREFIX + name!r}: not a model name of timm {version('timm')}."
                                    f"{hint} (timm.list_models() has all {len(known)})")
    if tag and name not in timm.list_pretrained(f"{base}.*"):
        tags = timm.list_pretrained(f"{base}.*")
        raise UnknownComponentError(f"unknown model {PREFIX + name!r}: timm has no pretrained tag {tag!r} for "
                                    f"{base}; its tags: {', '.join(tags) or 'none'}")
    found = get_pretrained_cfg(name)
    cfg = found.to_dict() if found is not None else {}
    side = int(cfg.get("input_size", (3, 224, 224))[-1])
    mean = tuple(float(v) for v in cfg.get("mean", IMAGENET_NORMALISATION[0]))
    std = tuple(float(v) for v in cfg.get("std", IMAGENET_NORMALISATION[1]))
    doc = (f"timm {name} ({side}x{side} input, mean/std and weights from its pretrained_cfg), "
           "1-output regression head.")
    return type(f"Timm_{name.replace('.', '_')}", (TimmArchitecture,),
                {"__doc__": doc, "__module__": __name__, "timm_name": name, "pretrained_cfg": cfg,
                 "input_size": side, "normalisation": (mean, std), "registry_name": PREFIX + name})


CNNS.register_family(PREFIX, timm_architecture, DESCRIPTION)
