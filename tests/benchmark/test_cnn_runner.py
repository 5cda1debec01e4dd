"""The deep track inside the benchmark: records, tables, resume, and the no-CUDA skip (CPU only)."""

import json

import numpy as np
import pandas as pd
import pytest

from cli.main import main
from tests.synthetic import make_fake_scut

torch = pytest.importorskip("torch")


@pytest.fixture
def fake(tmp_path):
    return make_fake_scut(tmp_path / "scut", n_per_subset=5)


def cli(tmp_path, root, *extra):
    return main(["--data-dir", str(root), "--out", str(tmp_path / "out"), "--protocol", "60-40",
                 "--features", "none", "--quiet", *extra])


def test_cnn_record_table_and_resume(tmp_path, fake, monkeypatch):
    torch.set_num_threads(1)
    args = ("--models", "resnet18", "--init", "scratch", "--device", "cpu", "--recipe", "paper", "--max-iters", "2")
    assert cli(tmp_path, fake, *args) == 0
    rec_path = tmp_path / "out" / "records" / "60-40" / "resnet18__cnn__scratch-paper" / "split-1.json"
    rec = json.loads(rec_path.read_text())
    assert rec["track"] == "cnn" and rec["init"] == "scratch" and rec["config"]["max_iters"] == 2
    assert rec["model"] == "resnet18" and rec["feature"] == "" and rec["record_version"] == 2
    assert len(rec["predictions"]["pred"]) == rec["n_test"] == 8
    assert rec["cnn"]["iterations"] == 2 and rec["cnn"]["peak_rss_mib"] > 0
    df = pd.read_csv(tmp_path / "out" / "results.csv")
    assert list(df["track"]) == ["cnn"] and list(df["model"]) == ["resnet18"]
    assert "resnet18 (CNN, init=scratch, recipe=paper)" in (tmp_path / "out" / "tables" / "60-40.md").read_text()
    calls = []
    from models.cnn import train as train_mod

    monkeypatch.setattr(train_mod, "train_and_predict", lambda *a, **k: calls.append(a[0]))
    assert cli(tmp_path, fake, *args) == 0  # the finished (model, split) is not retrained
    assert calls == []


def test_no_cuda_skips_cnns_with_one_line(tmp_path, fake, capsys, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert cli(tmp_path, fake, "--models", "alexnet,resnet18") == 0
    err = capsys.readouterr().err
    assert err.count("skipping the CNNs (alexnet, resnet18)") == 1
    assert not (tmp_path / "out" / "records").exists()


def test_cuda_requested_but_absent(tmp_path, fake, capsys, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert cli(tmp_path, fake, "--models", "resnet18", "--device", "cuda") == 1
    assert "no CUDA device" in capsys.readouterr().err


def test_saved_cnn_scores_a_photo(tmp_path, fake, capsys):
    """--save-model writes safetensors weights that `predict` uses on a photo outside SCUT-FBP5500."""
    from PIL import Image
    from skimage import data as skdata

    from predict.face_scorer import face_frame

    torch.set_num_threads(1)
    assert cli(tmp_path, fake, "--models", "resnet18", "--init", "scratch", "--device", "cpu",
               "--recipe", "paper", "--max-iters", "2", "--save-model") == 0
    weights = tmp_path / "out" / "models" / "60-40" / "resnet18__cnn__scratch-paper" / "split-1.safetensors"
    assert weights.is_file()
    photo = tmp_path / "astronaut.jpg"
    Image.fromarray(skdata.astronaut()).save(photo)
    capsys.readouterr()
    assert main(["predict", str(photo), "--models-dir", str(tmp_path / "out" / "models")]) == 0
    out = capsys.readouterr().out
    assert "model: resnet18 + cnn" in out and "face 1 of 1" in out and "better than" in out
    frame = face_frame(skdata.astronaut(), (179, 83, 266, 170))
    assert frame.shape == (256, 256, 3) and frame.dtype == np.uint8
