"""``run_benchmark.py predict``: scoring photos with a saved model, JSON output, bad inputs, model choice."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from skimage import data as skdata

from benchmark import model_io
from benchmark.pipeline import build_model
from cli.main import main
from data.scut import FaceRecord
from features import FEATURES
from predict import cli as predict_cli
from tests.benchmark.test_model_io import Untrusted, project_feature

#: dlib's HOG box of the astronaut's face in ``skimage.data.astronaut()`` (left, top, right, bottom).
ASTRONAUT_FACE = (179, 83, 266, 170)


def has_box_near(boxes, expected, tol: float = 12) -> bool:
    return any(all(abs(a - b) <= tol for a, b in zip(box, expected, strict=True)) for box in boxes)


def face_lines(out: str) -> list[str]:
    return [line for line in out.splitlines() if ": face " in line]


def boxes_of(lines: list[str]) -> list[tuple[int, ...]]:
    import re

    found = [re.search(r"left (-?\d+), top (-?\d+), right (-?\d+), bottom (-?\d+)", line) for line in lines]
    return [tuple(int(v) for v in m.groups()) for m in found if m]


@pytest.fixture(scope="module")
def astronaut(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("photos") / "astronaut.jpg"
    Image.fromarray(skdata.astronaut()).save(path, quality=92)
    return path


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory, astronaut) -> Path:
    """A model trained in the test: a project feature + lr on brightness variants of the astronaut."""
    name = project_feature()
    tmp = tmp_path_factory.mktemp("train")
    rng = np.random.default_rng(0)
    base = skdata.astronaut().astype(np.float64)
    records, labels = [], []
    for k in range(10):
        gain = 0.6 + 0.08 * k
        path = tmp / f"variant{k}.jpg"
        pixels = np.clip(base * gain + rng.normal(0, 3, base.shape), 0, 255).astype(np.uint8)
        Image.fromarray(pixels).save(path)
        records.append(FaceRecord(image_id=f"v{k}", image_path=path))
        labels.append(1.5 + 0.3 * k)
    extractor = FEATURES.create(name)
    X = extractor.transform(records)
    model = build_model(extractor, "lr", pca_components=3).fit(X, np.array(labels))
    record = {"track": "handcrafted", "feature": name, "predictor": "lr", "protocol": "60-40", "split": "1",
              "metrics": {"pc": 0.8, "mae": 0.3, "rmse": 0.4}, "n_train": 10, "n_test": 0}
    out = tmp / "run"
    model_io.save_run_model(out, record, extractor, model, rng.normal(3, 0.7, 5500).clip(1, 5))
    return out / "models"


def predict(capsys, *args: str) -> tuple[int, str, str]:
    rc = main(["predict", *args])
    captured = capsys.readouterr()
    return rc, captured.out, captured.err


def test_scores_the_astronaut(astronaut, models_dir, capsys):
    rc, out, err = predict(capsys, str(astronaut), "--models-dir", str(models_dir))
    assert rc == 0, err
    assert out.splitlines()[0].startswith("model: ")
    lines = face_lines(out)
    assert lines and all(str(astronaut) in line for line in lines)
    assert all("on the 1-5 scale, better than" in line and "% of SCUT-FBP5500" in line for line in lines)
    assert has_box_near(boxes_of(lines), ASTRONAUT_FACE)


def test_json_output(astronaut, models_dir, capsys):
    rc, out, _ = predict(capsys, str(astronaut), "--json", "--models-dir", str(models_dir))
    assert rc == 0
    payload = json.loads(out)
    assert payload["model"]["path"].endswith("split-1.skops") and payload["n_errors"] == 0
    assert payload["percentile_reference"] == "SCUT-FBP5500 labels (n=5500)"
    (photo,) = payload["photos"]
    assert photo["path"] == str(astronaut) and photo["size"] == [512, 512] and photo["error"] is None
    for face in photo["faces"]:
        assert 1 <= face["score"] <= 5 and 0 <= face["percentile"] <= 100
        assert set(face["box"]) == {"left", "top", "right", "bottom"}
    boxes = [tuple(f["box"][k] for k in ("left", "top", "right", "bottom")) for f in photo["faces"]]
    assert has_box_near(boxes, ASTRONAUT_FACE)


def test_several_faces_one_line_each(tmp_path, models_dir, capsys):
    img = skdata.astronaut()
    path = tmp_path / "pair.png"
    Image.fromarray(np.concatenate([img, img[:, ::-1]], axis=1)).save(path)
    rc, out, _ = predict(capsys, str(path), "--models-dir", str(models_dir))
    assert rc == 0
    boxes = boxes_of(face_lines(out))
    mirrored = (1024 - ASTRONAUT_FACE[2], ASTRONAUT_FACE[1], 1024 - ASTRONAUT_FACE[0], ASTRONAUT_FACE[3])
    assert has_box_near(boxes, ASTRONAUT_FACE) and has_box_near(boxes, mirrored)
    assert len(set(boxes)) == len(boxes) >= 2
    assert all(f"of {len(boxes)}, box" in line for line in face_lines(out))


def test_bad_inputs_each_one_line_others_still_scored(tmp_path, astronaut, models_dir, capsys):
    (tmp_path / "notes.jpg").write_text("not an image")
    (tmp_path / "truncated.jpg").write_bytes(astronaut.read_bytes()[:600])
    Image.fromarray(skdata.astronaut()).resize((60, 40)).save(tmp_path / "tiny.png")
    Image.new("RGB", (256, 256), (128, 128, 128)).save(tmp_path / "noface.png")
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "readme.txt").write_text("no images here")
    bad = {"notes.jpg": "not an image file", "truncated.jpg": "corrupt or truncated", "tiny.png": "too small",
           "noface.png": "no face found", "empty": "folder has no images", "missing.jpg": "file not found"}
    rc, out, err = predict(capsys, str(astronaut), *(str(tmp_path / n) for n in bad),
                           "--models-dir", str(models_dir))
    assert rc == 1
    assert has_box_near(boxes_of(face_lines(out)), ASTRONAUT_FACE)  # the good photo is still scored
    errors = err.strip().splitlines()
    assert len(errors) == len(bad)
    for line, (name, phrase) in zip(errors, bad.items(), strict=True):
        assert line.startswith(f"error: {tmp_path / name}") and phrase in line, line


def test_folder_of_photos(tmp_path, astronaut, models_dir, capsys):
    folder = tmp_path / "album"
    folder.mkdir()
    (folder / "a.jpg").write_bytes(astronaut.read_bytes())
    Image.open(astronaut).save(folder / "b.PNG")
    (folder / "notes.txt").write_text("skipped: not an image suffix")
    rc, out, _ = predict(capsys, str(folder), "--models-dir", str(models_dir))
    assert rc == 0
    scored = {line.split(": face")[0] for line in face_lines(out)}
    assert scored == {str(folder / "a.jpg"), str(folder / "b.PNG")}


def test_colour_modes_and_exif_rotation(tmp_path, models_dir, capsys):
    upright = Image.fromarray(skdata.astronaut())
    upright.convert("L").save(tmp_path / "gray.jpg", quality=92)
    rgba = upright.convert("RGBA")
    alpha = np.full((512, 512), 255, np.uint8)
    alpha[400:] = 0  # a transparent band (composited on white)
    rgba.putalpha(Image.fromarray(alpha))
    rgba.save(tmp_path / "rgba.png")
    upright.convert("CMYK").save(tmp_path / "cmyk.jpg", quality=92)
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    stored = upright.transpose(Image.Transpose.ROTATE_90)  # what the camera wrote, sideways
    stored.save(tmp_path / "rotated.jpg", quality=92, exif=exif.tobytes())
    names = ["gray.jpg", "rgba.png", "cmyk.jpg", "rotated.jpg"]
    with Image.open(tmp_path / "cmyk.jpg") as im:
        assert im.mode == "CMYK"
    rc, out, err = predict(capsys, *(str(tmp_path / n) for n in names), "--json",
                           "--models-dir", str(models_dir))
    assert rc == 0, err
    photos = json.loads(out)["photos"]
    for name, photo in zip(names, photos, strict=True):
        assert photo["error"] is None and photo["size"] == [512, 512], name
        boxes = [tuple(f["box"][k] for k in ("left", "top", "right", "bottom")) for f in photo["faces"]]
        assert has_box_near(boxes, ASTRONAUT_FACE), (name, boxes)  # upright coordinates


def test_very_large_photo_is_downscaled(tmp_path, models_dir, capsys, monkeypatch):
    import features.face

    canvas = Image.new("RGB", (6000, 4000), (90, 110, 100))
    face = Image.fromarray(skdata.astronaut()).resize((2048, 2048), Image.Resampling.BILINEAR)
    canvas.paste(face, (1000, 800))
    path = tmp_path / "huge.jpg"
    canvas.save(path, quality=85)
    del canvas
    shapes = []
    real = features.face.detect_faces
    monkeypatch.setattr(features.face, "detect_faces",
                        lambda rgb, *a, **k: shapes.append(rgb.shape) or real(rgb))
    rc, out, err = predict(capsys, str(path), "--json", "--models-dir", str(models_dir))
    assert rc == 0, err
    assert shapes and max(shapes[0][:2]) <= 2048  # detection (and features) ran on the downscaled image
    (photo,) = json.loads(out)["photos"]
    assert photo["size"] == [6000, 4000]
    expected = (1000 + 4 * ASTRONAUT_FACE[0], 800 + 4 * ASTRONAUT_FACE[1],
                1000 + 4 * ASTRONAUT_FACE[2], 800 + 4 * ASTRONAUT_FACE[3])
    boxes = [tuple(f["box"][k] for k in ("left", "top", "right", "bottom")) for f in photo["faces"]]
    assert has_box_near(boxes, expected, tol=60), boxes  # reported in original pixels


def test_no_saved_model_says_how_to_train_one(tmp_path, astronaut, capsys):
    rc, out, err = predict(capsys, str(astronaut), "--models-dir", str(tmp_path / "nothing"))
    assert rc == 1 and not out
    assert err.strip() == f"error: no saved model in {tmp_path / 'nothing'}; train and save one with: " \
                          f"{predict_cli.TRAIN_HINT}"


def test_untrusted_model_file_is_refused(tmp_path, astronaut, capsys):
    import skops.io as sio
    from sklearn.pipeline import Pipeline

    path = tmp_path / "evil.skops"
    sio.dump(Pipeline([("features", Untrusted())]), path)
    (tmp_path / "evil.json").write_text(json.dumps({"format": model_io.FORMAT, "kind": model_io.KIND_PIPELINE,
                                                    "feature": project_feature(), "predictor": "lr"}))
    rc, _, err = predict(capsys, str(astronaut), "--model", str(path))
    assert rc == 1 and "refusing to load" in err and "Untrusted" in err and len(err.strip().splitlines()) == 1


# --------------------------------------------------------------------------- model choice


def fake_model(root: Path, protocol: str, feature: str, predictor: str, split: str, pc: float,
               kind: str = model_io.KIND_PIPELINE, uses_landmarks: bool = False) -> Path:
    path = root / protocol / f"{feature}__{predictor}" / f"split-{split}.skops"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")
    meta = {"format": model_io.FORMAT, "kind": kind, "feature": feature, "predictor": predictor,
            "protocol": protocol, "split": split, "metrics": {"pc": pc}, "row": f"{feature}__{predictor}",
            "feature_config": {"uses_landmarks": uses_landmarks}}
    path.with_suffix(".json").write_text(json.dumps(meta))
    return path


def test_default_model_prefers_best_pc_that_works_on_any_photo(tmp_path):
    native = project_feature()
    root = tmp_path / "models"
    fake_model(root, "60-40", native, "lr", "1", 0.70)
    best = fake_model(root, "5fold", native, "svr", "2", 0.80)
    fake_model(root, "5fold", native, "svr", "1", 0.78)
    fake_model(root, "5fold", "geom86-like", "gr", "1", 0.95)  # feature not installed
    fake_model(root, "5fold", "vgg-like", "cnn", "1", 0.99, kind=model_io.KIND_CNN)  # CNN not registered
    landmark = fake_model(root, "5fold", native, "gr", "1", 0.90, uses_landmarks=True)
    (root / "5fold" / "orphan.skops").write_bytes(b"")  # no metadata: skipped with a warning
    models, warnings = predict_cli.discover_models(root)
    assert len(models) == 6 and len(warnings) == 1 and "orphan" in warnings[0]
    assert predict_cli.default_model(models, root).path == best
    only_landmarks = [m for m in models if m.path == landmark]
    assert predict_cli.default_model(only_landmarks, root).path == landmark  # used, with a warning
    assert predict_cli.find_model(f"{native}__svr", root).path == best
    cnn = predict_cli.SavedModel(root / "x.safetensors", {"kind": model_io.KIND_CNN, "feature": "resnet18"})
    assert cnn.runnable and not cnn.uses_landmarks  # a registered CNN scores photos too
    assert predict_cli.find_model(f"{native} + svr", root).path == best
    assert predict_cli.find_model(f"5fold/{native}__svr/split-1", root).path.name == "split-1.skops"
    assert predict_cli.find_model(f"60-40/{native}__lr", root).metadata["metrics"]["pc"] == 0.70
    with pytest.raises(predict_cli.NoModelError, match="no saved model named 'nope'.*saved: 5fold/"):
        predict_cli.find_model("nope", root)
    cnn_only = [m for m in models if m.metadata["kind"] == model_io.KIND_CNN]
    with pytest.raises(predict_cli.NoModelError, match="can score photos"):
        predict_cli.default_model(cnn_only, root)


# --------------------------------------------------------------------------- real data


def test_real_model_scores_the_astronaut(scut, tmp_path, astronaut, capsys):
    """dlib-embed + lr trained on 60 real images; percentiles against the real label distribution."""
    if "dlib-embed" not in FEATURES:
        pytest.skip("dlib-embed not registered")
    extractor = FEATURES.create("dlib-embed")
    names = scut.names[::92][:60]
    X = extractor.transform(scut.records(names))
    y = np.array([scut.labels[n] for n in names])
    model = build_model(extractor, "lr").fit(X, y)
    record = {"track": "handcrafted", "feature": "dlib-embed", "predictor": "lr", "protocol": "custom",
              "split": "1", "metrics": {"pc": 0.5}, "n_train": len(names), "n_test": 0}
    labels = list(scut.labels.values())
    path = model_io.save_run_model(tmp_path, record, extractor, model, labels)
    rc, out, err = predict(capsys, str(astronaut), "--json", "--model", str(path))
    assert rc == 0, err
    faces = json.loads(out)["photos"][0]["faces"]
    face = next(f for f in faces if has_box_near([tuple(f["box"].values())], ASTRONAUT_FACE))
    assert 1 <= face["score"] <= 5
    assert face["percentile"] == pytest.approx(100 * np.mean(np.array(labels) < face["score"]), abs=0.5)


def test_weak_detections_are_not_faces(tmp_path):
    """dlib also fires (score 0.07) on the suit of the JPEG astronaut; a photo reports only the real face."""
    from PIL import Image
    from skimage import data as skdata

    from data.images import load_rgb
    from features.face import PHOTO_MIN_SCORE, detect_faces

    Image.fromarray(skdata.astronaut()).save(tmp_path / "a.jpg")
    img = load_rgb(tmp_path / "a.jpg")
    assert len(detect_faces(img)) == 2
    (box,) = detect_faces(img, min_score=PHOTO_MIN_SCORE)
    assert box[1] < 200  # the head, not the suit
