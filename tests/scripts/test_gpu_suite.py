"""scripts/gpu_suite.py on the CPU: standard records in the result store, tables, resume, deadline, --plan.

Everything runs on a synthetic pack (tests/synthetic.py packed by data/pack.py) in tmp_path, with
tiny settings (batch 2, 1 iteration per run), so no GPU and no real data are needed.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from data.pack import pack_dataset
from tests.synthetic import make_fake_scut

torch = pytest.importorskip("torch")

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "gpu_suite.py"
ONLY = ["mobilenet_v2-imagenet-5fold-1", "mobilenet_v2-imagenet-60-40-1", "alexnet-scratch-5fold-1"]


def _load_suite():
    spec = importlib.util.spec_from_file_location("gpu_suite", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


suite = _load_suite()


@pytest.fixture(scope="module")
def pack(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("gpu_suite")
    make_fake_scut(root / "scut", n_per_subset=5)
    pack_dataset(root / "scut", root / "pack", workers=1, progress=False)
    return root / "pack"


@pytest.fixture(autouse=True)
def one_thread():
    """One intra-op thread: tiny CPU batches run several times faster than with threads fighting."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _args(pack: Path, tmp_path: Path, *extra: str) -> list[str]:
    return ["--pack", str(pack), "--torch-home", str(tmp_path / "torch_home"), "--out", str(tmp_path / "out"),
            "--device", "cpu", "--batch-size", "2", "--samples", "2", "--git-commit", "test-commit",
            "--quiet", *extra]


def _manifest(tmp_path: Path) -> dict:
    return json.loads((tmp_path / "out" / "results" / "manifest.json").read_text())


def test_cpu_smoke_writes_standard_records_tables_and_resumes(pack, tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))  # main() sets it; restored afterwards
    from models.cnn import recipes

    thr = ("--throughput-iters", "1", "--throughput-warmup", "0")
    assert suite.main(_args(pack, tmp_path, *thr, "--only", *ONLY)) == 0
    assert recipes.RECIPES["fast"] is recipes.FAST  # the registered recipe is never mutated

    results = tmp_path / "out" / "results"
    manifest = _manifest(tmp_path)
    gs = manifest["gpu_suite"]
    assert manifest["status"] == "complete" and manifest["git_commit"] == "test-commit"
    assert manifest["dataset"]["kind"] == "PackedDataset" and manifest["dataset"]["n_images"] == 20
    assert gs["plan"]["max_iters"] == 1 and gs["plan"]["samples_per_run"] == 2
    assert gs["recipe"]["batch_size"] == 2 and gs["recipe"]["name"] == "fast"
    assert {"torch", "torchvision"} <= set(gs["device"])
    assert "wall_s" in manifest["timings"] and "throughput_s" in manifest["timings"]
    # throughput of the selected runs' models, in JSON and in the manifest
    thr = json.loads((tmp_path / "out" / "throughput.json").read_text())
    assert [r["model"] for r in thr["rows"]] == ["mobilenet_v2", "alexnet"]  # plan order
    assert all({"raw_img_s", "achieved_img_s", "ratio"} <= set(r) for r in thr["rows"])
    assert gs["throughput"]["rows"] == thr["rows"]

    status = {e["run"]: e for e in gs["runs"]}
    assert list(status) == ONLY
    # the scratch run always works; the imagenet ones need the offline MobileNetV2 checkpoint
    expected = [("5fold", "alexnet__cnn__scratch-fast", "1")]
    for tag in ONLY[:2]:
        protocol = status[tag]["protocol"]
        if status[tag]["status"] == "done":
            expected.append((protocol, "mobilenet_v2__cnn__imagenet-fast", "1"))
        else:
            assert status[tag]["status"] == "unavailable" and "mobilenet_v2" in status[tag]["reason"]
    assert status["alexnet-scratch-5fold-1"]["status"] == "done"
    for protocol, row, split in expected:  # standard records of the benchmark's store
        rec = json.loads((results / "records" / protocol / row / f"split-{split}.json").read_text())
        assert rec["track"] == "cnn" and rec["predictor"] == "cnn" and rec["recipe"] == "fast"
        assert rec["config"]["max_iters"] == 1 and rec["cnn"]["iterations"] == 1
        assert rec["config"]["recipe"]["batch_size"] == 2 and rec["git_commit"] == "test-commit"
        assert len(rec["predictions"]["pred"]) == rec["n_test"] > 0
    df = pd.read_csv(results / "results.csv")
    assert len(df) == len(expected) and set(df["track"]) == {"cnn"}
    table = (results / "tables" / "5fold.md").read_text()
    assert "alexnet (CNN, init=scratch, recipe=fast)" in table
    assert "scripts/gpu_suite.py" in table.splitlines()[0] and "test-commit" in table.splitlines()[0]

    # resume: every finished (model, split) is skipped, nothing is trained again
    from models.cnn import train as train_mod

    def no_training(*a, **k):
        raise AssertionError("a stored run was trained again")

    monkeypatch.setattr(train_mod, "train_and_predict", no_training)
    assert suite.main(_args(pack, tmp_path, "--skip-throughput", "--only", *ONLY)) == 0
    gs = _manifest(tmp_path)["gpu_suite"]
    assert gs["counts"]["done"] == 0 and gs["counts"]["stored"] == len(expected)
    assert len(pd.read_csv(results / "results.csv")) == len(expected)


def test_runs_past_the_deadline_are_skipped_and_recorded(pack, tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    assert suite.main(_args(pack, tmp_path, "--skip-throughput", "--deadline-s", "0")) == 0
    gs = _manifest(tmp_path)["gpu_suite"]
    assert len(gs["runs"]) == len(suite.planned_runs())
    assert {e["status"] for e in gs["runs"]} <= {"skipped", "unavailable"}
    assert any(e["status"] == "skipped" and "deadline" in e["reason"] for e in gs["runs"])
    assert not (tmp_path / "out" / "results" / "records").exists()


def test_missing_pack_is_one_line_error(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    assert suite.main(_args(tmp_path / "nope", tmp_path)) == 1
    assert "no pack here" in capsys.readouterr().err


def test_plan_needs_no_torch():
    code = ("import runpy, sys; sys.modules['torch'] = None; "
            f"sys.argv = ['gpu_suite.py', '--plan']; runpy.run_path({str(SCRIPT)!r}, run_name='__main__')")
    res = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert "mobilenet_v2-imagenet-5fold-1" in res.stdout and "resnext50-scratch-5fold-1" in res.stdout
    assert "max_iters" in res.stdout and "total ~" in res.stdout


def test_budget_reduces_samples_uniformly():
    runs = suite.planned_runs()
    img_s = dict.fromkeys(suite.throughput_models(runs), 1000.0)
    full, reason = suite.choose_samples(runs, img_s, 1e9, 320000, 256)
    assert full == 320000 and "fit" in reason and suite.max_iters_for(full, 320000, 256) is None
    samples, reason = suite.choose_samples(runs, img_s, 1000.0, 320000, 256)
    assert samples < 320000 and samples % 256 == 0 and "reduced" in reason
    assert suite.estimate(runs, img_s, samples) <= 1000.0
    assert suite.max_iters_for(samples, 320000, 256) == samples // 256
    assert suite.planned_runs(["*-scratch-*"]) == [(m, "scratch", "5fold", "1") for m in suite.SCRATCH_MODELS]
