"""The 256x256 WebP pack: round trip, integrity check, protocols, on fake and real data."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.errors import ConfigError, DataError
from data.pack import MANIFEST, PackedDataset, decode_release_images, main, pack_dataset
from data.protocols import load_protocols
from data.scut import ScutFBP5500

NAMES = ["AF1.jpg", "AF2.jpg", "AM1.jpg", "CF1.jpg", "CM1.jpg", "CM2.jpg"]


def _write(path: Path, rows: list[tuple[str, float]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{n} {s}\n" for n, s in rows))


@pytest.fixture()
def fake_release(tmp_path) -> Path:
    """Six 350x350 JPEGs in the release layout with labels, one 5-fold fold and a 60/40 split."""
    root = tmp_path / "release"
    (root / "Images").mkdir(parents=True)
    yy, xx = np.mgrid[0:350, 0:350]
    for i, name in enumerate(NAMES):
        img = np.stack([(xx + 40 * i) % 256, yy % 256, (xx + yy) // 3 % 256], -1).astype(np.uint8)
        Image.fromarray(img).save(root / "Images" / name, quality=95)
    scores = [(n, 1.5 + 0.5 * i) for i, n in enumerate(NAMES)]
    tt = root / "train_test_files"
    _write(tt / "All_labels.txt", scores)
    cv = tt / "5_folders_cross_validations_files" / "cross_validation_1"
    _write(cv / "train_1.txt", scores[:4])
    _write(cv / "test_1.txt", scores[4:])
    sixty = tt / "split_of_60%training and 40%testing"
    _write(sixty / "train.txt", [(n.replace("AF", "fty"), s) for n, s in scores[1:]])  # old spelling
    _write(sixty / "test.txt", scores[:1])
    return root


def test_round_trip_on_a_fake_release(fake_release, tmp_path):
    out = tmp_path / "packed"
    manifest = pack_dataset(fake_release, out, workers=1, progress=False)
    assert manifest == out / MANIFEST
    pack = PackedDataset(out)
    ds = ScutFBP5500(fake_release)
    assert pack.names == ds.names and pack.labels == ds.labels
    assert pack.fingerprint() == ds.fingerprint()
    imgs = pack.decode_all()
    assert imgs.shape == (6, 256, 256, 3) and imgs.dtype == np.uint8
    direct = decode_release_images(ds, ds.names)
    assert np.abs(imgs.astype(int) - direct.astype(int)).mean() < 6  # WebP q85 vs lossless resize
    sub = pack.images(["CM1.jpg", "AF1.jpg"])
    assert np.array_equal(sub[1], imgs[0])
    np.testing.assert_allclose(pack.scores(["AF2.jpg"]), [2.0])
    for spec in ("5fold", "60-40"):
        assert pack.protocols(spec) == load_protocols(spec, ds)
    assert [p[0].protocol for p in pack.protocols("all")] == ["5fold", "60-40"]
    with pytest.raises(DataError, match="10fold: the dataset has 6 labelled image"):  # generated from the labels
        pack.protocols("10fold")
    with pytest.raises(DataError, match="not in the pack"):
        pack.indices(["AF9.jpg"])
    assert main(["--check", str(out)]) == 0


def test_opencv_fallback_decodes_like_pillow(fake_release, tmp_path):
    cv2 = pytest.importorskip("cv2")
    from data.pack import _decode_cv2, decode_webp

    out = tmp_path / "packed"
    pack_dataset(fake_release, out, workers=1, progress=False)
    index = PackedDataset(out).manifest["images"]
    blob = (out / "images.bin").read_bytes()[index["offsets"][0]:index["offsets"][0] + index["lengths"][0]]
    assert cv2 is not None and np.array_equal(_decode_cv2(blob), decode_webp(blob, 256))
    with pytest.raises(DataError, match="cannot decode"):
        decode_webp(b"RIFF0000WEBPjunk", 256, "x")


def test_integrity_check_names_the_corrupt_file(fake_release, tmp_path):
    out = tmp_path / "packed"
    pack_dataset(fake_release, out, workers=1, progress=False)
    blob = bytearray((out / "images.bin").read_bytes())
    blob[100] ^= 0xFF
    (out / "images.bin").write_bytes(bytes(blob))
    with pytest.raises(DataError, match=r"images\.bin: sha256 does not match"):
        PackedDataset(out)
    blob[100] ^= 0xFF
    (out / "images.bin").write_bytes(bytes(blob))
    PackedDataset(out)
    (out / "labels.txt").unlink()
    with pytest.raises(DataError, match="missing"):
        PackedDataset(out, verify=True)
    with pytest.raises(DataError, match="no pack here"):
        PackedDataset(tmp_path / "nowhere")


def test_pack_refuses_foreign_folders_and_bad_manifests(fake_release, tmp_path):
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "notes.txt").write_text("mine")
    with pytest.raises(ConfigError, match="not empty"):
        pack_dataset(fake_release, busy, workers=1, progress=False)
    out = tmp_path / "packed"
    pack_dataset(fake_release, out, workers=1, progress=False)
    pack_dataset(fake_release, out, workers=1, progress=False, limit=4)  # re-pack in place
    m = json.loads((out / MANIFEST).read_text())
    assert m["count"] == 4 and m["subset"] and m["protocols"] == ["60-40"]
    assert PackedDataset(out).protocols("60-40")[0][0].test == ("AF1.jpg",)
    with pytest.raises(DataError, match="no complete 5fold"):
        PackedDataset(out).protocols("5fold")
    m["version"] = 99
    (out / MANIFEST).write_text(json.dumps(m))
    with pytest.raises(DataError, match="manifest"):
        PackedDataset(out)


def test_a_failed_re_pack_leaves_the_old_pack_intact(fake_release, tmp_path, capsys):
    out = tmp_path / "packed"
    pack_dataset(fake_release, out, workers=1, progress=False)
    (out / "notes.txt").write_text("mine")  # not part of the pack: kept by a re-pack
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    (fake_release / "Images" / "CF1.jpg").write_bytes(b"\xff\xd8 not really a JPEG")
    assert main(["--data-dir", str(fake_release), "--out", str(out), "--workers", "1"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and "CF1.jpg" in err[0]
    assert {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["packed", "release"]  # no temporary folder left
    pack = PackedDataset(out)
    assert pack.names == NAMES and pack.decode_all().shape == (6, 256, 256, 3)
    (fake_release / "Images" / "CF1.jpg").unlink()
    Image.fromarray(np.full((350, 350, 3), 90, np.uint8)).save(fake_release / "Images" / "CF1.jpg")
    assert main(["--data-dir", str(fake_release), "--out", str(out), "--workers", "1"]) == 0
    assert (out / "notes.txt").read_text() == "mine" and not (out / ".gitignore").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["packed", "release"]
    assert PackedDataset(out).images(["CF1.jpg"])[0].mean() == pytest.approx(90, abs=2)
    assert (out / "images.bin").read_bytes() != before[Path("images.bin")]


def test_pack_refuses_a_non_ignored_folder_inside_the_repository(fake_release):
    repo_dir = Path(__file__).resolve().parent / "not_ignored_pack"
    with pytest.raises(ConfigError, match="not git-ignored"):
        pack_dataset(fake_release, repo_dir, workers=1, progress=False)
    assert not repo_dir.exists()


def test_round_trip_on_real_images(scut_root, tmp_path):
    out = tmp_path / "packed"
    pack_dataset(scut_root, out, limit=20, workers=2, progress=False)
    pack = PackedDataset(out)
    ds = ScutFBP5500(scut_root)
    assert pack.names == ds.names[:20]
    imgs = pack.decode_all()
    assert imgs.shape == (20, 256, 256, 3)
    direct = decode_release_images(ds, pack.names)
    assert np.abs(imgs.astype(int) - direct.astype(int)).mean() < 4
    assert (out / "images.bin").stat().st_size < 20 * 12_000  # ~6 KB per face at q85
    for protocol in pack.protocols("all"):
        for split in protocol:
            assert set(split.train) | set(split.test) <= set(pack.names)
