"""Identity audit (reports.audit, ``run_benchmark.py audit``) on the synthetic dataset, with controlled
descriptors and hashes; pHash on skimage's astronaut (not SCUT data)."""

from __future__ import annotations

import csv
import json
import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest
from skimage import data as skdata

from cli.main import main
from data.protocols import load_protocols
from data.scut import ScutFBP5500
from reports import audit
from tests.synthetic import make_fake_scut


def test_phash_is_stable_under_re_encoding_and_scaling_not_across_images():
    gray = cv2.cvtColor(skdata.astronaut(), cv2.COLOR_RGB2GRAY)
    ok, jpeg = cv2.imencode(".jpg", gray, [cv2.IMWRITE_JPEG_QUALITY, 60])
    assert ok
    recoded = cv2.imdecode(jpeg, cv2.IMREAD_GRAYSCALE)
    smaller = cv2.resize(gray, (350, 350), interpolation=cv2.INTER_AREA)
    h = audit.phash(gray)
    assert h.shape == (64,) and h.dtype == bool
    for other in (recoded, smaller):
        assert (h != audit.phash(other)).sum() <= 6
    for other in (cv2.cvtColor(skdata.chelsea(), cv2.COLOR_RGB2GRAY), skdata.camera(), gray[:, ::-1]):
        assert (h != audit.phash(other)).sum() > 18


@pytest.fixture
def controlled(tmp_path, monkeypatch):
    """A synthetic dataset whose descriptors and hashes are set by hand.

    Every image gets its own far-apart descriptor and hash, except: CM5 sits at distance 0.55 from
    AF1 (same person at 0.6, not at the strict 0.25), AM2 at 0.2 from AM3 (same person at both), CF4 has
    AF7's pHash (near-duplicate) and CF9 has AF8's with 2 bits flipped (not a near-duplicate).
    """
    root = make_fake_scut(tmp_path / "scut", n_per_subset=10)
    ds = ScutFBP5500(root)
    rng = np.random.default_rng(0)
    desc = dict(zip(ds.names, np.eye(128)[:len(ds.names)] * 5, strict=True))  # pairwise distance 7.07
    offset = np.zeros(128)
    offset[-1] = 1.0
    desc["CM5.jpg"] = desc["AF1.jpg"] + 0.55 * offset
    desc["AM2.jpg"] = desc["AM3.jpg"] + 0.2 * offset
    bits = {n: rng.random(64) < 0.5 for n in ds.names}
    bits["CF4.jpg"] = bits["AF7.jpg"].copy()
    bits["CF9.jpg"] = bits["AF8.jpg"].copy()
    bits["CF9.jpg"][:2] = ~bits["CF9.jpg"][:2]
    calls = []

    def fake_descriptors(dataset, names, cache_dir, jobs=1, progress=True):
        calls.append(list(names))
        return np.array([desc[n] for n in names])

    monkeypatch.setattr(audit, "compute_descriptors", fake_descriptors)
    monkeypatch.setattr(audit, "compute_phashes", lambda dataset, names: np.array([bits[n] for n in names]))
    return ds, calls


def custom_split(tmp_path: Path, train: list[str], test: list[str]) -> Path:
    folder = tmp_path / "mysplit"
    folder.mkdir()
    (folder / "train.txt").write_text("".join(f"{n} 3.0\n" for n in train))
    (folder / "test.txt").write_text("".join(f"{n} 3.0\n" for n in test))
    return folder


def test_counts_per_split_and_thresholds(controlled, tmp_path):
    ds, calls = controlled
    test = ["CM5.jpg", "AM2.jpg", "CF4.jpg", "CF9.jpg"]
    train = [n for n in ds.names if n not in test]
    (split,) = load_protocols(str(custom_split(tmp_path, train, test)), ds)[0]
    (result,) = audit.run_audit(ds, [[split]], tmp_path / "cache", progress=False)
    assert len(calls) == 1 and len(calls[0]) == len(ds.names)  # descriptors once per image
    assert [(t, r, round(d, 4)) for t, r, d in result.same_person(audit.SAME_PERSON)] == [
        ("AM2.jpg", "AM3.jpg", 0.2), ("CM5.jpg", "AF1.jpg", 0.55)]
    assert [t for t, _, _ in result.same_person(audit.STRICT)] == ["AM2.jpg"]
    assert result.duplicates == [("CF4.jpg", "AF7.jpg", 0)]
    line = result.line()
    assert "4 test images" in line and "< 0.6): 2 (50.0%)" in line and "< 0.25: 1 (25.0%)" in line
    assert "near-duplicate images (pHash, <= 0 of 64 bits): 1" in line
    (stricter,) = audit.run_audit(ds, [[split]], tmp_path / "cache", progress=False, strict=0.1)
    assert stricter.same_person(stricter.strict) == [] and "< 0.1: 0 (0.0%)" in stricter.line()


def test_a_pair_inside_the_test_part_is_not_overlap(controlled, tmp_path):
    ds, _ = controlled
    test = ["AM2.jpg", "AM3.jpg"]  # the same "person", both in test: no train/test overlap
    train = [n for n in ds.names if n not in test]
    (split,) = load_protocols(str(custom_split(tmp_path, train, test)), ds)[0]
    (result,) = audit.run_audit(ds, [[split]], tmp_path / "cache", progress=False)
    assert result.same_person() == []


def test_cli_writes_table_pairs_and_sheet(controlled, tmp_path, capsys):
    ds, _ = controlled
    out = tmp_path / "out"
    code = main(["audit", "--protocol", "all", "--data-dir", str(ds.root), "--out", str(out),
                 "--cache-dir", str(tmp_path / "cache"), "--quiet"])
    assert code == 0
    lines = capsys.readouterr().out.splitlines()
    assert [x.split(":")[0] for x in lines[:6]] == [f"audit 5fold/{k}" for k in range(1, 6)] + ["audit 60-40/1"]
    assert lines[-1].startswith(f"audit: {out / 'audit' / 'identity-audit.md'}")
    folder = out / "audit"
    md = (folder / "identity-audit.md").read_text()
    assert "| 5fold/1 " in md and "| 60-40/1 " in md and "0.6" in md and "0.25" in md
    summary = json.loads((folder / "identity-audit.json").read_text())
    assert summary["thresholds"] == {"same_person": 0.6, "strict": 0.25, "near_duplicate_bits": 0}
    # Over the 5 folds, each of the planted pairs is split across train/test at most once per direction.
    total = sum(s["same_person"] for s in summary["splits"] if s["protocol"] == "5fold")
    assert total <= 4
    for protocol in ("5fold", "60-40"):
        reader = csv.DictReader((folder / f"pairs-{protocol}.csv").open())
        rows = list(reader)
        assert reader.fieldnames == ["protocol", "split", "kind", "test_image", "train_image",
                                     "descriptor_distance", "phash_bits", "strict"]  # no labels
        assert all(r["test_image"] in set(ds.names) and r["train_image"] in set(ds.names) for r in rows)
    five = list(csv.DictReader((folder / "pairs-5fold.csv").open()))
    assert {(r["kind"], r["test_image"], r["train_image"]) for r in five} <= {
        ("same-person", "CM5.jpg", "AF1.jpg"), ("same-person", "AF1.jpg", "CM5.jpg"),
        ("same-person", "AM2.jpg", "AM3.jpg"), ("same-person", "AM3.jpg", "AM2.jpg"),
        ("near-duplicate", "CF4.jpg", "AF7.jpg"), ("near-duplicate", "AF7.jpg", "CF4.jpg")}
    sheets = sorted(p.name for p in folder.glob("contact-sheet-*.png"))
    assert sheets, "no contact sheet although same-person pairs exist"
    from PIL import Image

    with Image.open(folder / sheets[0]) as im:
        assert im.size[0] > 2 * audit.SHEET_THUMB


def test_cli_errors_are_one_line(tmp_path, capsys):
    code = main(["audit", "--data-dir", str(tmp_path / "nope"), "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err.strip()
    assert code == 1 and len(err.splitlines()) == 1 and "dataset not found" in err
    assert not (tmp_path / "o").exists()
    root = make_fake_scut(tmp_path / "scut", n_per_subset=5)
    code = main(["audit", "--data-dir", str(root), "--protocol", "7fold", "--out", str(tmp_path / "o")])
    assert code == 1 and "unknown protocol '7fold'" in capsys.readouterr().err
    code = main(["audit", "--data-dir", str(root), "--strict", "0.7", "--out", str(tmp_path / "o")])
    assert code == 1 and "--strict must be in (0, 0.6]" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_contact_sheets_are_git_ignored():
    root = Path(__file__).resolve().parents[2]
    result = subprocess.run(["git", "check-ignore", "-q", "reports/reference/audit/contact-sheet-5fold.png"],
                            cwd=root, check=False)
    if result.returncode == 128:
        pytest.skip("not a git checkout")
    assert result.returncode == 0
    tracked = subprocess.run(["git", "check-ignore", "-q", "reports/reference/audit/pairs-5fold.csv"], cwd=root,
                             check=False)
    assert tracked.returncode == 1  # the pair lists (names only) may be committed


def test_real_images_audit_on_a_few_faces(scut, tmp_path):
    """The real descriptor and pHash on 24 real images (a custom split), no monkeypatching."""
    names = [f"{s}{i}.jpg" for s in ("AF", "AM", "CF", "CM") for i in range(1, 7)]
    folder = tmp_path / "few"
    folder.mkdir()
    (folder / "train.txt").write_text("".join(f"{n} {scut.labels[n]}\n" for n in names[::2]))
    (folder / "test.txt").write_text("".join(f"{n} {scut.labels[n]}\n" for n in names[1::2]))
    (split,) = load_protocols(str(folder), scut)[0]
    (result,) = audit.run_audit(scut, [[split]], tmp_path / "cache", progress=False)
    assert len(result.nearest) == 12
    assert all(0.0 < d < 2.0 for _, _, d in result.nearest)
