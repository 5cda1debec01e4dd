"""The CPU deep track: the cpu recipe, its one-cycle schedule, resume inside a split after SIGKILL,
the CPU throughput command and the SCUT-like framing of photos at different resolutions."""

import dataclasses
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from models.cnn.recipes import CPU, RECIPES, Stage, default_recipe

torch = pytest.importorskip("torch")

REPO = Path(__file__).resolve().parents[2]


def test_cpu_recipe_is_registered_and_the_cpu_default():
    assert RECIPES["cpu"] is CPU
    assert default_recipe("cpu") == "cpu" and default_recipe("cuda") == "paper"
    assert CPU.crop_size < CPU.image_size < 256 and not CPU.bf16
    assert CPU.stages[0].optimizer == "adamw" and CPU.stages[0].schedule == "onecycle"


def test_choose_device_picks_a_device_name_and_resolve_device_makes_a_torch_device():
    from benchmark.cnn_runner import choose_device
    from core.errors import ConfigError
    from models.cnn.train import resolve_device

    assert choose_device("cpu") == "cpu" and resolve_device("cpu") == torch.device("cpu")
    if torch.cuda.is_available():
        assert choose_device("auto") == "cuda" and resolve_device("cuda").type == "cuda"
    else:
        assert choose_device("auto") is None  # the run skips the CNNs
        with pytest.raises(ConfigError, match="--device cuda: no CUDA device"):
            choose_device("cuda")


def test_onecycle_rises_to_the_peak_then_anneals():
    stage = Stage("s", "adamw", lr=1e-3, iterations=100, warmup=0.3, schedule="onecycle")
    lrs = [stage.lr_at(i, 100) for i in range(100)]
    assert lrs[0] == pytest.approx(1e-3 / 25)
    assert max(lrs) == pytest.approx(1e-3) and int(np.argmax(lrs)) == 30
    assert lrs[-1] == pytest.approx(1e-3 / 25e4)
    assert all(a <= b for a, b in zip(lrs[:30], lrs[1:31], strict=True))
    assert all(a >= b for a, b in zip(lrs[30:-1], lrs[31:], strict=True))


def test_cpu_recipe_reduces_the_loss_on_a_handful_of_images():
    from models.cnn.train import train_and_predict

    rng = np.random.default_rng(0)
    scores = np.linspace(1.5, 4.5, 8).astype(np.float32)
    imgs = np.clip(scores[:, None, None, None] * 50 + rng.normal(0, 10, (8, 40, 40, 3)), 0, 255).astype(np.uint8)
    recipe = dataclasses.replace(CPU, batch_size=8, stages=(dataclasses.replace(CPU.stages[0], epochs=40),))
    res = train_and_predict("mobilenet_v2", imgs, scores, imgs[:2], recipe=recipe, init="imagenet",
                            device="cpu", seed=0, progress=False, input_size=32, threads=1)
    assert res.recipe.name == "cpu" and res.iterations == 40 and res.threads == 1
    assert res.train_loss[-5:].mean() < res.train_loss[:5].mean()
    prov = res.provenance()
    assert prov["image_size"] == 40 and prov["input_size"] == 32 and prov["device_name"].startswith("cpu")


CHILD = textwrap.dedent("""
    import sys
    import numpy as np
    from models.cnn.recipes import Recipe, Stage
    from models.cnn.train import train_and_predict

    rng = np.random.default_rng(0)
    imgs = rng.integers(0, 256, (16, 40, 40, 3), dtype=np.uint8)
    scores = rng.uniform(1, 5, 16)
    recipe = Recipe("t", batch_size=4, hflip=True, channels_last=True, stages=(
        Stage("s", "adamw", lr=1e-3, epochs=10, weight_decay=0.01, warmup=0.3, schedule="onecycle"),))
    ckpt = sys.argv[1] if sys.argv[1] != "-" else None
    res = train_and_predict("mobilenet_v2", imgs, scores, imgs[:6], recipe=recipe, init="scratch",
                            device="cpu", seed=3, progress=False, input_size=32, checkpoint=ckpt, threads=1)
    np.savez(sys.argv[2], pred=res.test_pred, loss=res.train_loss, resumed=res.resumed_from,
             iterations=res.iterations)
""")


def _child(tmp_path, ckpt: str, out: str) -> subprocess.Popen:
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, str(script), ckpt, out], cwd=REPO, env=env)


def test_sigkill_mid_split_resumes_from_the_last_epoch_with_identical_results(tmp_path):
    ckpt = tmp_path / "ckpt" / "split-1.pt"
    reference = _child(tmp_path, "-", str(tmp_path / "ref.npz"))
    assert reference.wait(timeout=300) == 0
    killed = _child(tmp_path, str(ckpt), str(tmp_path / "killed.npz"))
    deadline = time.monotonic() + 300
    while not ckpt.exists() and killed.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    killed.send_signal(signal.SIGKILL)
    assert killed.wait(timeout=60) == -signal.SIGKILL, "the run finished before it could be killed"
    assert ckpt.is_file() and not (tmp_path / "killed.npz").exists()
    resumed = _child(tmp_path, str(ckpt), str(tmp_path / "resumed.npz"))
    assert resumed.wait(timeout=300) == 0
    ref, res = np.load(tmp_path / "ref.npz"), np.load(tmp_path / "resumed.npz")
    assert 0 < int(res["resumed"]) < int(res["iterations"]) == int(ref["iterations"])
    assert int(ref["resumed"]) == 0
    np.testing.assert_array_equal(res["pred"], ref["pred"])
    np.testing.assert_array_equal(res["loss"], ref["loss"])


def test_a_checkpoint_of_another_configuration_is_not_used(tmp_path, capsys):
    from models.cnn.train import train_and_predict

    rng = np.random.default_rng(0)
    imgs = rng.integers(0, 256, (8, 40, 40, 3), dtype=np.uint8)
    ckpt = tmp_path / "c.pt"
    kwargs = dict(recipe="cpu", init="scratch", device="cpu", max_iters=4, progress=False, input_size=32,
                  threads=1, checkpoint=ckpt)
    train_and_predict("mobilenet_v2", imgs, rng.uniform(1, 5, 8), imgs[:2], seed=0, **kwargs)
    assert ckpt.is_file()
    res = train_and_predict("mobilenet_v2", imgs, rng.uniform(1, 5, 8), imgs[:2], seed=1, **kwargs)
    assert res.resumed_from == 0 and "another run configuration" in capsys.readouterr().err


def test_throughput_command_on_the_cpu(tmp_path):
    from tools.throughput import main

    out = tmp_path / "t.json"
    assert main(["--device", "cpu", "--models", "mobilenet_v2", "--batch-size", "2", "--input-size", "32",
                 "--iters", "2", "--warmup", "1", "--json", str(out)]) == 0
    payload = json.loads(out.read_text())
    (row,) = payload["rows"]
    assert row["recipe"] == "cpu" and row["batch_size"] == 2 and row["input_size"] == 32
    assert row["raw_img_s"] > 0 and row["achieved_img_s"] > 0 and row["threads"] >= 1
    assert payload["device"]["cpu"].startswith("cpu") and payload["command"].startswith("python -m")


def test_face_frame_is_the_same_at_240p_and_1080p(tmp_path):
    """One photo at 1920x1080 and shrunk to 426x240: the SCUT-like frames cut around the same
    face agree (so a CNN scores both alike), about as well as two cuts around one fixed box."""
    import cv2
    from skimage import data as skdata

    from data.scut import FaceRecord
    from features.face import detect_faces
    from predict.face_scorer import face_frame, photo_frame

    face = skdata.astronaut()  # 512x512, face about 90 px
    big = np.zeros((1080, 1920, 3), np.uint8) + 90
    big[140:140 + 1024, 448:448 + 1024][:940] = cv2.resize(face, (1024, 1024), interpolation=cv2.INTER_CUBIC)[:940]
    small = cv2.resize(big, (426, 240), interpolation=cv2.INTER_AREA)
    frames, fixed = [], []
    for name, photo in (("big.png", big), ("small.png", small)):
        path = tmp_path / name
        cv2.imwrite(str(path), cv2.cvtColor(photo, cv2.COLOR_RGB2BGR))
        boxes = detect_faces(photo, upsample=2, min_score=0.3)
        assert boxes, "no face found"
        frames.append(photo_frame(FaceRecord(image_id=name, image_path=path, box=boxes[0]),
                                  CPU.image_size).astype(np.float32))
        scale = photo.shape[1] / 1920  # one box, the same place in both photos
        fixed.append(face_frame(photo, tuple(v * scale for v in (800, 300, 1000, 500)),
                                CPU.image_size).astype(np.float32))
    diff = np.abs(frames[0] - frames[1]).mean()
    floor = np.abs(fixed[0] - fixed[1]).mean()  # resampling alone
    assert diff < 1.5 * floor + 2, f"frames differ by {diff:.1f} grey levels on average (fixed box: {floor:.1f})"
