"""Port a checkpoint between two implementations of the same network, proven by equal outputs.

The same network often exists under two sets of parameter names: the benchmark's own
EfficientNet-Lite0 (``_conv_stem``, ``_blocks.0._depthwise_conv``, ...) and timm's
``tf_efficientnet_lite0`` (``conv_stem``, ``blocks.0.0.conv_dw``, ...); torchvision's and timm's
ResNets. On a machine without network, the one ImageNet checkpoint at hand (a packaged one, see
:mod:`models.cnn.weights`) can then still initialise the other implementation through
``--weights FILE``. :func:`port_state_dict` pairs the two state dicts *by position* (both
implementations register their parameters in the order of the forward pass), checks every pair's
kind (``weight``, ``bias``, ``running_mean``, ...) and shape, loads the result into the target, and
accepts it only if both networks then give the same output on a fixed random batch (eval mode;
relative tolerance :data:`TOLERANCE`). Two networks that differ anywhere (padding, BatchNorm
epsilon, activation, block order) fail that check, so a port that passes is the same function.
The saved file (safetensors) holds the target's keys, head included; ``--weights`` ignores the head.

::

    python -m models.cnn.port --source efficientnet_lite0 --target timm/tf_efficientnet_lite0 \\
        --out weights/tf_efficientnet_lite0.safetensors
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

import torch
from torch import nn

from core.atomic import atomic_path
from core.errors import one_line_errors
from models.cnn import CNNS
from models.cnn.weights import WeightsMismatchError

#: Largest accepted ``max |out_source - out_target| / max(1, max |out_source|)`` of a port.
TOLERANCE = 1e-4
#: Images in the batch the two networks are compared on.
CHECK_BATCH = 2


def _kind(key: str) -> str:
    """The tensor's role from its last name part (``weight``, ``bias``, ``running_var``, ...)."""
    return key.rsplit(".", 1)[-1]


def port_state_dict(source: dict[str, torch.Tensor], target: dict[str, torch.Tensor], source_name: str,
                    target_name: str) -> dict[str, torch.Tensor]:
    """``source``'s tensors under ``target``'s keys, paired by position.

    Parameters
    ----------
    source, target : dict of str to Tensor
        State dicts of the two implementations (``nn.Module.state_dict()`` order).
    source_name, target_name : str
        For messages.

    Returns
    -------
    dict of str to Tensor
        ``target``'s keys, each with the source tensor at the same position.

    Raises
    ------
    WeightsMismatchError
        Different numbers of tensors, or a pair of another kind or shape (one line naming the
        first such pair).
    """
    if len(source) != len(target):
        raise WeightsMismatchError(f"{source_name} has {len(source)} tensors and {target_name} {len(target)}: "
                                   "not the same network")
    ported = {}
    for i, ((sk, sv), (tk, tv)) in enumerate(zip(source.items(), target.items(), strict=True)):
        if _kind(sk) != _kind(tk) or sv.shape != tv.shape:
            raise WeightsMismatchError(
                f"tensor {i} of {len(source)}: {source_name} {sk} {tuple(sv.shape)} does not pair with "
                f"{target_name} {tk} {tuple(tv.shape)}: not the same network in the same order")
        ported[tk] = sv.detach().clone()
    return ported


def max_relative_difference(a: nn.Module, b: nn.Module, size: int, seed: int = 0) -> float:
    """``max |a(x) - b(x)| / max(1, max |a(x)|)`` on a seeded N(0, 1) batch of (2, 3, size, size), eval mode."""
    x = torch.randn(CHECK_BATCH, 3, size, size, generator=torch.Generator().manual_seed(seed))
    a.eval()
    b.eval()
    with torch.no_grad():
        ya, yb = a(x), b(x)
    return float((ya - yb).abs().max() / max(1.0, float(ya.abs().max())))


def port(source: str, target: str, out: str | os.PathLike, weights: str | os.PathLike | None = None,
         allow_download: bool = False, size: int | None = None) -> dict[str, Any]:
    """Write ``source``'s ImageNet weights (or ``weights``) as a checkpoint of ``target``.

    Parameters
    ----------
    source, target : str
        Registered CNN names (``efficientnet_lite0``, ``timm/tf_efficientnet_lite0``, ...).
    out : path-like
        The safetensors file to write (atomically; its folder is created).
    weights : path-like, optional
        A checkpoint of ``source`` to port instead of its ImageNet weights.
    allow_download : bool
        Let ``source``'s ImageNet weights be downloaded when not found offline.
    size : int, optional
        Input side of the output check (default: ``target``'s input size).

    Returns
    -------
    dict
        ``out``, ``tensors`` (number ported), ``max_relative_difference`` and the source's
        provenance (``source_weights``).

    Raises
    ------
    WeightsMismatchError
        The two networks do not pair, or their outputs differ after the port (one line).
    """
    src_arch, dst_arch = CNNS.create(source), CNNS.create(target)
    src = src_arch.build("imagenet", allow_download=allow_download, weights=weights)
    dst = dst_arch.build("scratch")
    dst.load_state_dict(port_state_dict(src.state_dict(), dst.state_dict(), source, target), strict=True)
    side = size or dst_arch.input_size
    diff = max_relative_difference(src, dst, side)
    if not diff <= TOLERANCE:
        raise WeightsMismatchError(f"{source} -> {target}: every tensor pairs, but the outputs differ by {diff:.3g} "
                                   f"(relative, at {side} px; limit {TOLERANCE:g}): not the same computation "
                                   "(padding, normalisation layers or activations differ)")
    from safetensors.torch import save_file

    out = Path(out)
    state = {k: v.contiguous() for k, v in dst.state_dict().items()}
    with atomic_path(out) as tmp:
        save_file(state, str(tmp), metadata={"ported_from": source, "target": target,
                                             "source_weights": str(src_arch.build_info.get("weights", ""))})
    return {"out": str(out), "tensors": len(state), "max_relative_difference": diff,
            "source_weights": src_arch.build_info}


@one_line_errors
def main(argv: list[str] | None = None) -> int:
    """``python -m models.cnn.port``; returns the exit code."""
    parser = argparse.ArgumentParser(prog="python -m models.cnn.port", description=__doc__.splitlines()[0])
    parser.add_argument("--source", required=True, help="registered CNN whose weights are ported "
                                                        "(e.g. efficientnet_lite0)")
    parser.add_argument("--target", required=True, help="the other implementation (e.g. timm/tf_efficientnet_lite0)")
    parser.add_argument("--out", required=True, type=Path, help="safetensors file to write")
    parser.add_argument("--weights", type=Path, default=None,
                        help="a checkpoint of --source to port (default: its ImageNet weights, offline)")
    parser.add_argument("--size", type=int, default=None, help="input side of the output check (default: "
                                                               "the target's input size)")
    args = parser.parse_args(argv)
    info = port(args.source, args.target, args.out, weights=args.weights, size=args.size)
    print(f"ok {info['out']}: {info['tensors']} tensors of {args.source} "
          f"({info['source_weights'].get('weights', '?')}) as {args.target}; outputs agree to "
          f"{info['max_relative_difference']:.2g} (relative)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
