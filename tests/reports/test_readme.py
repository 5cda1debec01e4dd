"""README figures are rendered from the committed output files (``python -m reports.readme``)."""

import json

import pytest

from benchmark.errors import DataError
from reports import readme

MACHINE = {"machine": "x86_64", "cpu_count": 2, "memory_gib": 23.5}


def fit_speed_json(root, seconds=12.5):
    path = root / "reports/perf/fit_speed.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({
        "command": "python -m benchmark.fit_speed --predictors gr", "date": "2026-11-27T03:00:00+00:00",
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
    assert new.startswith("intro\n<!-- generated: fit-speed -->\n\n`python -m benchmark.fit_speed --predictors gr` "
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
        "command": "python -m benchmark.feature_speed --n 5", "date": "2026-11-27T04:00:00+00:00",
        "git_commit": "fedcba9876543210", "machine": MACHINE, "n_faces": 5,
        "dlib": {"version": "20.0.0", "blas": True, "lapack": True, "avx": True},
        "rows": [{"what": "dlib-embed", "median_ms": 57.14, "p90_ms": 65.0}]}))
    text, _ = readme.render("<!-- generated: feature-speed-dlib-blas -->\n<!-- end generated -->\n", tmp_path)
    assert "23.5 GiB, dlib 20.0.0 with BLAS), 5 faces, one core:" in text
    assert "| dlib-embed | 57.1 ms | 65.0 ms |" in text
