"""Release integrity (data.integrity, ``run_benchmark.py check-data``) on a synthetic tree, and the real copy."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from cli.main import main
from core.errors import DataError
from data import integrity
from data.integrity import (
    EXIT_DIFFERS,
    MATCHES,
    REFERENCE_SUMS,
    REFERENCE_TEXT_SUMS,
    check_integrity,
    read_sums,
    write_sums,
    write_text_sums,
)
from tests.synthetic import make_fake_scut, register_pixel_feature

LABELS = "train_test_files/All_labels.txt"


@pytest.fixture
def tree(tmp_path):
    """A synthetic release and its reference hash lists (byte and normalised-content), kept outside it."""
    root = make_fake_scut(tmp_path / "scut", n_per_subset=5)
    ref = tmp_path / "ref" / "sums.txt"
    write_sums(root, ref)
    write_text_sums(root, ref)
    return root, ref


def snapshot(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_matching_copy(tree):
    root, ref = tree
    before = snapshot(root)
    report = check_integrity(root, ref)
    assert report.matches and report.verdict == MATCHES
    assert report.identical == report.n_reference == len(before) == 20 * 2 + 1 + 10 + 2
    assert report.listing() == [] and MATCHES in report.summary()
    assert snapshot(root) == before  # nothing written or cached into the data folder


def test_changed_missing_extra(tree):
    root, ref = tree
    (root / "Images" / "AF2.jpg").write_bytes((root / "Images" / "AF2.jpg").read_bytes()[:-1] + b"\0")
    (root / "facial landmark" / "CM3.pts").unlink()
    (root / "Images" / "AF99.jpg").write_bytes(b"not in the release")
    report = check_integrity(root, ref)
    assert not report.matches
    assert (report.different, report.missing, report.extra) == (
        ["Images/AF2.jpg"], ["facial landmark/CM3.pts"], ["Images/AF99.jpg"])
    assert report.verdict == "differs from the reference copy: 3 files"
    summary = report.summary()
    assert "1 missing (facial landmark/CM3.pts)" in summary and "1 extra (Images/AF99.jpg)" in summary
    assert "1 different (Images/AF2.jpg)" in summary and f"{report.n_reference - 2} of {report.n_reference}" in summary
    assert report.listing() == ["different: Images/AF2.jpg", "extra: Images/AF99.jpg",
                                "missing: facial landmark/CM3.pts"]
    entry = report.manifest_entry()
    assert (entry["n_missing"], entry["n_extra"], entry["n_different"]) == (1, 1, 1)


def test_files_outside_the_release_folders_are_ignored(tree):
    root, ref = tree
    (root / "README.txt").write_text("the release's readme")
    assert check_integrity(root, ref).matches


def test_old_names_and_line_endings_count_as_matching(tree, tmp_path):
    root, ref = tree
    old = make_fake_scut(tmp_path / "old", n_per_subset=5, old_names=True)  # same seed: same images and scores
    assert "fty1.jpg" in (old / LABELS).read_text()
    report = check_integrity(old, ref)
    assert report.matches, report.summary()
    assert len(report.normalised) == 13 and report.identical == report.n_reference - 13
    assert "13 label/split files match after normalising" in report.summary()
    crlf = root / LABELS
    crlf.write_bytes(crlf.read_bytes().replace(b"\n", b"\r\n"))
    assert check_integrity(root, ref).normalised == [LABELS]


def test_a_changed_score_or_line_differs(tree):
    root, ref = tree
    labels = root / LABELS
    lines = labels.read_text().splitlines()
    name, score = lines[3].split()
    lines[3] = f"{name} {float(score) + 0.01}"
    labels.write_text("\n".join(lines) + "\n")
    assert check_integrity(root, ref).different == [LABELS]
    labels.write_text("\n".join(lines[:-1]) + "\n")  # a line dropped
    assert check_integrity(root, ref).different == [LABELS]


def test_no_normalised_list_means_bytes_only(tree, tmp_path):
    root, ref = tree
    bytes_only = tmp_path / "bytes.txt"
    shutil.copy(ref, bytes_only)
    old = make_fake_scut(tmp_path / "old", n_per_subset=5, old_names=True)
    assert len(check_integrity(old, bytes_only).different) == 13


# --------------------------------------------------------------------------- command line


def test_cli_match_and_differ(tree, capsys):
    root, ref = tree
    assert main(["check-data", "--data-dir", str(root), "--reference", str(ref)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 1 and out[0].startswith(f"check-data: {root}: {MATCHES} (53 files, SHA-256")
    (root / "Images" / "AM1.jpg").unlink()
    assert main(["check-data", "--data-dir", str(root), "--reference", str(ref)]) == EXIT_DIFFERS
    captured = capsys.readouterr()
    (line,) = captured.out.splitlines()
    assert line.startswith(f"check-data: {root}: differs from the reference copy: 1 file: 1 missing (Images/AM1.jpg); "
                           "52 of 53 reference files match (")
    assert "--full" in captured.err
    assert main(["check-data", "--data-dir", str(root), "--reference", str(ref), "--full"]) == EXIT_DIFFERS
    assert capsys.readouterr().out.splitlines()[1:] == ["  missing: Images/AM1.jpg"]


def test_cli_one_line_errors(tree, tmp_path, capsys):
    root, ref = tree
    assert main(["check-data", "--data-dir", str(tmp_path / "nope"), "--reference", str(ref)]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "nope: data folder not found" in err
    assert main(["check-data", "--data-dir", str(tmp_path / "ref"), "--reference", str(ref)]) == 1
    assert "not a SCUT-FBP5500 release folder" in capsys.readouterr().err
    bad = tmp_path / "bad.txt"
    bad.write_text(ref.read_text().splitlines()[0] + "\nnot-a-hash  ./Images/AF1.jpg\n")
    assert main(["check-data", "--data-dir", str(root), "--reference", str(bad)]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "bad.txt:2: expected '<sha256>  <path>'" in err
    assert main(["check-data", "--data-dir", str(root), "--reference", str(tmp_path / "none.txt")]) == 1
    assert "none.txt: reference hash list not found" in capsys.readouterr().err


def test_read_sums_rejects_duplicates(tmp_path):
    path = tmp_path / "dup.txt"
    path.write_text(f"{'a' * 64}  ./Images/AF1.jpg\n{'b' * 64}  Images/AF1.jpg\n")
    with pytest.raises(DataError, match=r"dup.txt:2: Images/AF1.jpg listed twice"):
        read_sums(path)


# --------------------------------------------------------------------------- a run records it


def test_run_records_the_verdict_in_manifest_and_tables(tree, tmp_path, monkeypatch):
    root, ref = tree
    register_pixel_feature()
    monkeypatch.setattr(integrity, "REFERENCE_SUMS", ref)
    out = tmp_path / "out"
    args = ["--data-dir", str(root), "--out", str(out), "--cache-dir", str(tmp_path / "cache"),
            "--features", "test-pixels", "--predictors", "lr", "--quiet", "--protocol", "60-40"]
    assert main(args) == 0
    dataset = json.loads((out / "manifest.json").read_text())["dataset"]
    assert dataset["integrity"] == MATCHES and dataset["integrity_check"]["n_reference"] == 53
    assert f"data {MATCHES}" in (out / "tables" / "60-40.md").read_text().splitlines()[0]
    (root / "Images" / "ZZ.txt").write_text("extra")
    assert main([*args, "--out", str(tmp_path / "out2")]) == 0
    manifest = json.loads((tmp_path / "out2" / "manifest.json").read_text())
    assert manifest["dataset"]["integrity"] == "differs from the reference copy: 1 file"
    assert main(["report", "--out", str(tmp_path / "out2"), "--no-figures", "--resamples", "10"]) == 0
    for table in (tmp_path / "out2" / "tables").glob("*.md"):
        assert "data differs from the reference copy: 1 file" in table.read_text().splitlines()[0], table


# --------------------------------------------------------------------------- the committed lists, the real copy


def test_committed_lists_hold_only_hashes_and_names():
    sums = read_sums(REFERENCE_SUMS)
    assert len(sums) == 11013
    assert sum(p.startswith("Images/") for p in sums) == sum(p.startswith("facial landmark/") for p in sums) == 5500
    text = read_sums(REFERENCE_TEXT_SUMS)
    assert sorted(text) == sorted(p for p in sums if p.startswith("train_test_files/")) and len(text) == 13


def test_real_copy_matches_the_reference_copy(scut_root):
    report = check_integrity(scut_root)
    assert report.matches, report.summary()
    assert report.identical == 11013 and report.normalised == []
