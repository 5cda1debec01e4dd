import pytest

from core.errors import DataError
from data.scut import ScutFBP5500, canonical_image_name, resolve_data_dir, subset_of
from tests.synthetic import make_fake_scut


def test_canonical_names():
    assert canonical_image_name("fty12.jpg") == "AF12.jpg"
    assert canonical_image_name("mtw3.jpg") == "CM3.jpg"
    assert canonical_image_name("AM1384.jpg") == "AM1384.jpg"
    assert subset_of("ftw9.jpg") == "CF"
    with pytest.raises(ValueError):
        canonical_image_name("XX1.jpg")


def test_resolve_data_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("FBP_DATA_DIR", str(tmp_path))
    assert resolve_data_dir(None) == tmp_path
    assert resolve_data_dir("/x").as_posix() == "/x"
    monkeypatch.delenv("FBP_DATA_DIR")
    assert resolve_data_dir(None).name == "SCUT-FBP5500_v2"


def test_real_labels(scut):
    labels = scut.labels
    assert len(labels) == 5500
    assert all(1 <= v <= 5 for v in labels.values())
    assert {n[:2] for n in labels} == {"AF", "AM", "CF", "CM"}


def test_missing_dataset_message(tmp_path):
    with pytest.raises(DataError, match="dataset not found; download SCUT-FBP5500_v2.zip"):
        ScutFBP5500(tmp_path / "nowhere")


@pytest.mark.parametrize("line, problem", [
    ("AF1.jpg", r"All_labels.txt:3: expected '<image> <score>'"),
    ("AF1.jpg 5.5", r"All_labels.txt:3: score 5.5 outside \[1, 5\]"),
    ("AF1.jpg abc", r"All_labels.txt:3: score is not a number"),
    ("photo.png 3.0", r"All_labels.txt:3: not a SCUT-FBP5500 image name"),
])
def test_bad_label_lines(tmp_path, line, problem):
    root = make_fake_scut(tmp_path / "d")
    labels = root / "train_test_files" / "All_labels.txt"
    lines = labels.read_text().splitlines()
    lines[2] = line
    labels.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=problem):
        _ = ScutFBP5500(root).labels


def test_misordered_release_landmarks_fall_back(scut):
    # AF1183 swaps eye and pupil points, AM1320 is scrambled across the face (see data/landmark_map.py)
    for name in ("AF1183.jpg", "AM1320.jpg", "CF434.jpg"):
        rec = scut.record(name)
        assert rec.landmarks is None and rec.landmark_status == "misordered"
    assert scut.record("CM152.jpg").landmark_status == "empty"
    assert scut.record("AF1.jpg").landmark_status == "ok"
