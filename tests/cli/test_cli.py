"""CLI contract and bad inputs: one line naming the file and the problem, exit 1, nothing written."""

import argparse
import shutil

import pytest

from cli.main import main
from tests.synthetic import make_fake_scut, register_pixel_feature, write_pts


@pytest.fixture
def fake(tmp_path):
    register_pixel_feature()
    return make_fake_scut(tmp_path / "scut", n_per_subset=5)


def run_cli(tmp_path, root, *extra):
    out = tmp_path / "out"
    code = main(["--data-dir", str(root), "--out", str(out), "--cache-dir", str(tmp_path / "cache"),
                 "--features", "test-pixels", "--predictors", "lr", "--quiet", *extra])
    return code, out


def assert_one_line_error(capsys, code, out, *fragments):
    err = capsys.readouterr().err.strip()
    assert code == 1
    assert len(err.splitlines()) == 1, err
    for f in fragments:
        assert f in err, err
    assert not (out / "results.csv").exists() and not list(out.rglob("*.json")) if out.exists() else True


def test_list(capsys):
    assert main(["--list"]) == 0
    text = capsys.readouterr().out
    for name in ("geom86", "gabor-kp", "dlib-embed", "svr", "xgb", "5fold", "60-40", "10fold"):
        assert name in text
    (ten,) = [line for line in text.splitlines() if line.strip().startswith("10fold")]
    assert "not an official split" in ten and "seed" in ten
    (every,) = [line for line in text.splitlines() if line.strip().startswith("all ")]
    assert "not 10fold" in every


def test_success(tmp_path, fake, capsys):
    code, out = run_cli(tmp_path, fake, "--protocol", "60-40")
    assert code == 0 and (out / "results.csv").exists() and (out / "manifest.json").exists()


def test_missing_data_dir(tmp_path, capsys):
    code, out = run_cli(tmp_path, tmp_path / "nope")
    assert_one_line_error(capsys, code, out, "nope", "dataset not found", "--data-dir")


def test_unknown_names(tmp_path, fake, capsys):
    code = main(["--data-dir", str(fake), "--features", "gabr-kp", "--out", str(tmp_path / "o")])
    assert_one_line_error(capsys, code, tmp_path / "o", "unknown feature 'gabr-kp'", "gabor-kp")
    code = main(["--data-dir", str(fake), "--predictors", "svm", "--out", str(tmp_path / "o")])
    assert_one_line_error(capsys, code, tmp_path / "o", "unknown predictor 'svm'", "svr")
    code, out = run_cli(tmp_path, fake, "--protocol", "7fold")
    assert_one_line_error(capsys, code, out, "unknown protocol '7fold'")


def test_image_missing(tmp_path, fake, capsys):
    (fake / "Images" / "AM3.jpg").unlink()
    code, out = run_cli(tmp_path, fake)
    assert_one_line_error(capsys, code, out, "AM3.jpg", "missing")


def test_corrupt_jpeg(tmp_path, fake, capsys):
    path = fake / "Images" / "CF2.jpg"
    path.write_bytes(path.read_bytes()[:200])
    code, out = run_cli(tmp_path, fake)
    assert_one_line_error(capsys, code, out, "CF2.jpg", "corrupt or truncated")


def test_short_pts(tmp_path, fake, capsys):
    pts = fake / "facial landmark" / "AF2.pts"
    pts.write_bytes(pts.read_bytes()[:100])
    code, out = run_cli(tmp_path, fake)
    assert_one_line_error(capsys, code, out, "AF2.pts", "100 bytes")


def test_bad_score(tmp_path, fake, capsys):
    labels = fake / "train_test_files" / "All_labels.txt"
    lines = labels.read_text().splitlines()
    lines[4] = lines[4].split()[0] + " 7.0"
    labels.write_text("\n".join(lines) + "\n")
    code, out = run_cli(tmp_path, fake)
    assert_one_line_error(capsys, code, out, "All_labels.txt:5", "outside [1, 5]")


def test_custom_split_overlap(tmp_path, fake, capsys):
    custom = tmp_path / "custom"
    shutil.copytree(fake / "train_test_files" / "split_of_60%training and 40%testing", custom)
    with open(custom / "test.txt", "a") as fh:
        fh.write((custom / "train.txt").read_text().splitlines()[0] + "\n")
    code, out = run_cli(tmp_path, fake, "--protocol", str(custom))
    assert_one_line_error(capsys, code, out, "test.txt", "overlap")


def test_empty_pts_is_not_an_error(tmp_path, fake):
    write_pts(fake / "facial landmark" / "AF1.pts", None)
    code, _ = run_cli(tmp_path, fake, "--protocol", "60-40")
    assert code == 0


def test_console_script_is_installed():
    from importlib.metadata import entry_points

    (ep,) = [e for e in entry_points(group="console_scripts") if e.name == "fbp-benchmark"]
    assert ep.value == "cli.main:main"


def test_splits_runs_only_the_named_splits(tmp_path, fake):
    import csv
    import json

    code, out = run_cli(tmp_path, fake, "--protocol", "all", "--splits", "2,60-40/1")
    assert code == 0
    rows = list(csv.DictReader((out / "results.csv").open()))
    assert sorted((r["protocol"], r["split"]) for r in rows) == [("5fold", "2"), ("60-40", "1")]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["config"]["selected_splits"] == "2,60-40/1"
    assert [s["split"] for s in manifest["config"]["splits"]["5fold"]] == ["2"]


def test_unknown_split(tmp_path, fake, capsys):
    code, out = run_cli(tmp_path, fake, "--protocol", "5fold", "--splits", "60-40/1")
    assert_one_line_error(capsys, code, out, "--splits: no split '60-40/1'", "5fold/1, 5fold/2")


def test_ten_fold_run_writes_its_splits_and_reruns_them(tmp_path, fake):
    import csv
    import json

    code, out = run_cli(tmp_path, fake, "--protocol", "10fold")
    assert code == 0
    manifest = json.loads((out / "manifest.json").read_text())
    info = manifest["config"]["protocols"]["10fold"]
    assert info["official"] is False and info["seed"] == 0 and info["split_files"] == "splits/10fold"
    assert [s["n_test"] for s in manifest["config"]["splits"]["10fold"]] == [2] * 10
    md = (out / "tables" / "10fold.md").read_text()
    assert "# SCUT-FBP5500, 10-fold cross-validation (not an official split)" in md
    assert "10fold is not an official split of SCUT-FBP5500" in md
    assert "not an official split" in (out / "tables" / "index.md").read_text()
    splits = out / "splits" / "10fold"
    assert len(list(splits.glob("t*_*.txt"))) == 20
    again = tmp_path / "again"
    code = main(["--data-dir", str(fake), "--out", str(again), "--cache-dir", str(tmp_path / "cache"),
                 "--features", "test-pixels", "--predictors", "lr", "--quiet", "--protocol", str(splits)])
    assert code == 0

    def metrics(folder):
        return [(r["protocol"], r["split"], r["pc"], r["mae"], r["rmse"])
                for r in csv.DictReader((folder / "results.csv").open())]

    assert metrics(again) == metrics(out) and metrics(out)[0][0] == "10fold"


def test_gitignore_covers_split_files():
    import subprocess
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    for path in ("reports/reference/splits/10fold/train_1.txt", "reports/latest/splits/10fold/test_1.txt"):
        result = subprocess.run(["git", "check-ignore", "-q", path], cwd=root, check=False)
        if result.returncode == 128:
            pytest.skip("not a git checkout")
        assert result.returncode == 0, f"{path} is not git-ignored (split files hold the labels)"


def test_sub_commands_are_real_sub_parsers(capsys):
    """Every command is an argparse sub-parser with its own help; 'run' is the default."""
    from cli.main import COMMANDS, build_parser

    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    assert list(sub.choices) == list(COMMANDS)
    with pytest.raises(SystemExit) as exit_:
        main(["--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert all(name in out for name in COMMANDS)
    with pytest.raises(SystemExit) as exit_:
        main(["report", "--help"])
    assert exit_.value.code == 0 and "run_benchmark.py report" in capsys.readouterr().out


def test_list_sub_command_and_flag_agree(capsys):
    assert main(["list"]) == 0
    listed = capsys.readouterr().out
    assert main(["--list"]) == 0 and capsys.readouterr().out == listed
    assert main(["run", "--list"]) == 0 and capsys.readouterr().out == listed


def test_unknown_sub_command_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["bogus"])
    assert exit_.value.code == 2 and "invalid choice: 'bogus'" in capsys.readouterr().err


def test_explicit_run_is_the_old_form(tmp_path, fake, capsys):
    code = main(["run", "--data-dir", str(tmp_path / "nope"), "--out", str(tmp_path / "o")])
    assert code == 1 and str(tmp_path / "nope") in capsys.readouterr().err


def test_init_and_recipe_choices_come_from_the_registries():
    from cli.main import run_parser
    from models.cnn.architectures import INITS
    from models.cnn.recipes import RECIPES

    actions = {a.dest: a for a in run_parser()._actions}
    assert tuple(actions["init"].choices) == tuple(INITS)
    assert tuple(actions["recipe"].choices) == tuple(RECIPES)
