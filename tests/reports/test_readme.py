"""README figures are rendered from the committed output files (``python -m reports.readme``)."""

import json

import pytest

from core.errors import DataError
from reports import readme

MACHINE = {"machine": "x86_64", "cpu_count": 2, "memory_gib": 23.5}


def fit_speed_json(root, seconds=12.5):
    path = root / "reports/perf/fit_speed.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({
        "command": "python -m tools.fit_speed --predictors gr", "date": "2026-11-27T03:00:00+00:00",
        "git_commit": "0123456789abcdef", "machine": MACHINE, "threads": 1,
        "totals": [{"predictor": "gr", "variant": "default", "fits": 2, "seconds": seconds, "mean_pc": 0.81234}],
        "preprocessing": [{"feature": "lbp", "split": "5fold/1", "seconds": 1.25}],
        "rows": [{"split": "5fold/1"}, {"split": "60-40/1"}]}))


def test_committed_readme_quotes_the_committed_outputs():
    assert readme.main(["--check"]) == 0, "run 'python -m reports.readme' and commit README.md"


def test_render_fills_a_block_from_its_file_then_is_stable(tmp_path):
    fit_speed_json(tmp_path)
    text = "intro\n<!-- generated: fit-speed -->\nold figures\n<!-- end generated -->\nrest\n"
    new, changed = readme.render(text, tmp_path)
    assert changed == ["fit-speed"]
    assert new.startswith("intro\n<!-- generated: fit-speed -->\n\n`python -m tools.fit_speed --predictors gr` "
                          "(commit `0123456789`, 2026-11-27, x86_64, 2 CPUs, 23.5 GiB), one thread, "
                          "splits 5fold/1, 60-40/1:\n")
    assert "| gr | default | 2 | 12.5 s | 0.8123 |\n" in new
    assert "once per (feature, split): 1.2 s in all.\n\n<!-- end generated -->\nrest\n" in new
    assert readme.render(new, tmp_path) == (new, [])


def test_check_reports_a_stale_block_and_writes_nothing(tmp_path, capsys):
    fit_speed_json(tmp_path)
    path = tmp_path / "README.md"
    path.write_text("<!-- generated: fit-speed -->\n<!-- end generated -->\n")
    assert readme.main(["--readme", str(path)]) == 0
    fresh = path.read_text()
    fit_speed_json(tmp_path, seconds=99.0)  # the command was rerun: the README is now stale
    assert readme.main(["--readme", str(path), "--check"]) == 1
    assert "stale generated block(s): fit-speed" in capsys.readouterr().err
    assert path.read_text() == fresh


def test_unknown_block_and_missing_file_are_one_line_errors(tmp_path, capsys):
    with pytest.raises(DataError, match="unknown generated block 'nope'"):
        readme.render("<!-- generated: nope -->\n<!-- end generated -->\n", tmp_path)
    path = tmp_path / "README.md"
    path.write_text("<!-- generated: gp-speed -->\n<!-- end generated -->\n")
    assert readme.main(["--readme", str(path)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.endswith("gp_speed.json: not found; run the command that writes it (see README.md)")
    assert "\n" not in err


def test_speed_figures_name_the_dlib_build(tmp_path):
    path = tmp_path / "reports/perf/feature_speed_dlib_blas.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({
        "command": "python -m tools.feature_speed --n 5", "date": "2026-11-27T04:00:00+00:00",
        "git_commit": "fedcba9876543210", "machine": MACHINE, "n_faces": 5,
        "dlib": {"version": "20.0.0", "blas": True, "lapack": True, "avx": True},
        "rows": [{"what": "dlib-embed", "median_ms": 57.14, "p90_ms": 65.0}]}))
    text, _ = readme.render("<!-- generated: feature-speed-dlib-blas -->\n<!-- end generated -->\n", tmp_path)
    assert "23.5 GiB, dlib 20.0.0 with BLAS), 5 faces, one core:" in text
    assert "| dlib-embed | 57.1 ms | 65.0 ms |" in text


def test_strongest_rows_rank_by_five_fold_pc_and_name_every_run(tmp_path):
    folder = tmp_path / "reports/reference"
    folder.mkdir(parents=True)
    lines = ["track,feature,predictor,init,recipe,protocol,split,pc,mae,rmse"]
    for split, (a, b) in enumerate([(0.80, 0.90), (0.82, 0.92)], start=1):
        lines += [f"handcrafted,lbp,gr,,,5fold,{split},{a},0.3,0.4",
                  f"cnn,mobilenet_v2,cnn,imagenet,cpu,5fold,{split},{b},0.2,0.3"]
    lines += ["handcrafted,lbp,gr,,,60-40,1,0.79,0.31,0.41"]
    (folder / "results.csv").write_text("\n".join(lines) + "\n")
    run = {"command": "python run_benchmark.py --features none", "git_commit": "aaaaaaaaaaaa", "status": "complete",
           "finished": "2026-12-03T08:00:00+00:00"}
    (folder / "manifest.json").write_text(json.dumps({
        **run, "command": "python run_benchmark.py --models none", "git_commit": "bbbbbbbbbbbb", "machine": MACHINE,
        "history": [run, {**run, "status": "running", "command": "killed"}]}))
    text = readme.strongest_rows(tmp_path, n=5)
    assert "`python run_benchmark.py --features none` (commit `aaaaaaaaaa`, 2026-12-03)" in text
    assert "`python run_benchmark.py --models none` (commit `bbbbbbbbbb`" in text and "killed" not in text
    rows = [line for line in text.splitlines() if line.startswith("| ") and "PC" not in line and "---" not in line]
    assert rows[0].startswith("| mobilenet_v2 (CNN, init=imagenet, recipe=cpu) | 0.9100 |")
    assert rows[0].endswith("| — | — | — |")  # no 60/40 record
    assert rows[1] == "| lbp + gr | 0.8100 | 0.3000 | 0.4000 | 0.7900 | 0.3100 | 0.4100 |"


def test_throughput_block(tmp_path):
    path = tmp_path / "reports/perf/throughput_cpu.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({
        "command": "python -m tools.throughput --device cpu", "date": "2026-12-03T09:00:00+00:00",
        "git_commit": "0123456789abcdef", "machine": MACHINE, "iters": 30,
        "device": {"device": "cpu", "cpu": "AMD EPYC", "threads": 2},
        "rows": [{"model": "mobilenet_v2", "recipe": "cpu", "batch_size": 32, "image_size": 146, "input_size": 128,
                  "raw_img_s": 80.04, "achieved_img_s": 72.0, "ratio": 0.9}]}))
    text, _ = readme.render("<!-- generated: throughput-cpu -->\n<!-- end generated -->\n", tmp_path)
    assert "AMD EPYC, 2 threads, 30 timed steps:" in text
    assert "| mobilenet_v2 | cpu | 32 | 146/128 | 80.0 | 72.0 | 0.90 |" in text
