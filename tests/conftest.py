"""Shared fixtures: the real dataset (skipped when absent) and a small synthetic dataset."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from data.scut import DEFAULT_DIR, ENV_VAR


def real_data_dir() -> Path | None:
    """The real SCUT-FBP5500 root if present: $FBP_DATA_DIR, else data/SCUT-FBP5500_v2."""
    env = os.environ.get(ENV_VAR)
    root = Path(env) if env else DEFAULT_DIR
    return root if (root / "train_test_files" / "All_labels.txt").is_file() else None


@pytest.fixture(scope="session")
def scut_root() -> Path:
    """Root of the real dataset; tests using it skip when it is absent."""
    root = real_data_dir()
    if root is None:
        pytest.skip(f"real SCUT-FBP5500 not found (set {ENV_VAR} to the release folder)")
    return root


@pytest.fixture(scope="session")
def scut(scut_root):
    from data.scut import ScutFBP5500

    return ScutFBP5500(scut_root)


@pytest.fixture(scope="module")
def torch_one_thread():
    """One intra-op torch thread for a module of tiny nets (several times faster than 2 contended ones)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
