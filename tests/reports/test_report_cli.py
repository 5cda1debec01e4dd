"""``run_benchmark.py report``: everything re-rendered from stored records alone; status; LaTeX compiles."""

from __future__ import annotations

import json
import re
import shutil

import pytest

from benchmark.runner import RunConfig, run
from cli.main import main
from reports import status
from reports.cli import build_report
from reports.protocol_tables import render_store
from tests.reports.latex import inputs, needs_pdflatex, pdflatex
from tests.reports.test_stats import fake_records, write_store
from tests.synthetic import make_fake_scut, register_pixel_feature


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A run of the real runner on the synthetic dataset, whose dataset is then deleted."""
    register_pixel_feature()
    tmp = tmp_path_factory.mktemp("report")
    root = make_fake_scut(tmp / "scut", n_per_subset=10)
    out = tmp / "out"
    run(RunConfig(data_dir=root, protocol="all", features=["test-pixels"], predictors=["lr", "svr"],
                  out_dir=out, cache_dir=tmp / "cache", progress=False,
                  argv=["python run_benchmark.py", "--features", "test-pixels"]), render=render_store)
    shutil.rmtree(root)  # the report must not need the dataset (nor the feature cache)
    shutil.rmtree(tmp / "cache")
    shutil.rmtree(out / "tables")
    return out


def test_report_rerenders_everything_from_records(run_dir, capsys):
    assert main(["report", "--out", str(run_dir), "--resamples", "200"]) == 0
    assert "index.md" in capsys.readouterr().out
    tables_dir = run_dir / "tables"
    for stem in ("5fold", "60-40"):
        for prefix in ("", "subsets-", "uncertainty-"):
            for ext in (".md", ".tex"):
                assert (tables_dir / f"{prefix}{stem}{ext}").is_file()
        assert (run_dir / "figures" / f"scatter-{stem}.png").is_file()
        assert (run_dir / "figures" / f"hist-{stem}.pdf").is_file()
    assert (run_dir / "figures" / "folds-5fold.png").is_file()
    assert not (run_dir / "figures" / "folds-60-40.png").exists()  # one split: no fold bars

    index = (run_dir / "index.md").read_text()
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["git_commit"] in index and "python run_benchmark.py --features test-pixels" in index
    assert str(manifest["machine"]["cpu_count"]) in index
    links = re.findall(r"\]\(([^)]+)\)", index)
    assert any(link.endswith(".png") for link in links) and any(link.endswith(".tex") for link in links)
    for link in links:
        assert not link.startswith("/") and (run_dir / link).is_file(), link  # relative and present
    assert "200 resamples" in (tables_dir / "uncertainty-5fold.md").read_text()


def test_report_is_reproducible(run_dir):
    def mine():
        files = (run_dir / "tables").glob("*")
        return {p.name: p.read_bytes() for p in files if p.name.startswith(("unc", "sub"))}

    before = mine()
    build_report(run_dir, n_resamples=200, figures=False,
                 report_command="python run_benchmark.py report --out X --resamples 200")
    after = mine()
    strip = re.compile(rb"^(<!--|%) provenance.*$", re.M)
    assert before.keys() == after.keys()
    for name in before:
        assert strip.sub(b"", before[name]) == strip.sub(b"", after[name]), name


def test_report_errors_are_one_line(tmp_path, capsys):
    assert main(["report", "--out", str(tmp_path / "empty")]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "no result records" in err and len(err.splitlines()) == 1
    store = write_store(tmp_path / "bad", fake_records({("f", "lr"): 0.5}, protocols=("60-40",)))
    next(store.records_dir.rglob("*.json")).write_text("{not json")
    assert main(["report", "--out", str(tmp_path / "bad")]) == 1
    err = capsys.readouterr().err.strip()
    assert "corrupt result record" in err and len(err.splitlines()) == 1


# --------------------------------------------------------------------------- status


@pytest.mark.parametrize(("ours", "paper", "expected"), [
    (0.80, 0.75, status.REPRODUCED), (0.745, 0.75, status.REPRODUCED), (0.74, 0.75, status.REPRODUCED),
    (0.7399, 0.75, status.CLOSE), (0.72, 0.75, status.CLOSE), (0.7199, 0.75, status.OFF),
    (float("nan"), 0.75, ""), (0.7, None, ""),
])
def test_status_thresholds(ours, paper, expected):
    assert status.status_label(ours, paper) == expected


def test_paper_comparison_table(tmp_path):
    records = fake_records({("geom86", "gr"): 0.5, ("lbp", "lr"): 0.5}, protocols=("10fold",))
    frame = write_store(tmp_path, records).dataframe()
    comparison = status.comparison_frame(frame)
    assert list(comparison["pairing"]) == ["geom86 + gr"]  # lbp is not in the paper
    row = comparison.iloc[0]
    mean_pc = frame.loc[frame["feature"] == "geom86", "pc"].mean()
    assert row["pc"] == pytest.approx(mean_pc) and row["paper_pc"] == 0.6738
    assert row["status"] == status.status_label(mean_pc, 0.6738)
    written = status.render_comparison(frame, tmp_path / "tables", "prov")
    md = written[0].read_text()
    assert "| Status" in md and row["status"] in md and "reproduced if" in md
    assert "## 10-fold cross-validation (not an official split)" in md or "# " in md
    assert "not an official split" in md and '"the performance of different model are measured' in md
    assert status.render_comparison(frame[frame["feature"] == "lbp"], tmp_path / "t2") == []


def test_paper_comparison_geometric_vs_10fold_gabor_vs_both(tmp_path):
    rows = {("geom86", "gr"): 0.5, ("gabor-kp", "gr"): 0.4}
    records = fake_records(rows, protocols=("5fold", "60-40", "10fold"))
    frame = write_store(tmp_path, records).dataframe()
    comparison = status.comparison_frame(frame)
    assert sorted(zip(comparison["protocol"], comparison["pairing"], strict=True)) == [
        ("10fold", "gabor-kp + gr"), ("10fold", "geom86 + gr"), ("5fold", "gabor-kp + gr")]
    notes = " ".join(status.comparison_notes(comparison))
    assert "does not state their protocol" in notes and "after 10 folds cross validation" in notes
    md = status.render_comparison(frame, tmp_path / "tables", "prov")[0].read_text()
    assert "## 10-fold cross-validation (not an official split)" in md and "## 5-fold cross-validation" in md
    only_5fold = status.comparison_frame(frame[frame["protocol"] == "5fold"])
    assert list(only_5fold["pairing"]) == ["gabor-kp + gr"]
    assert "these results have no 10fold rows" in " ".join(status.comparison_notes(only_5fold))


# --------------------------------------------------------------------------- LaTeX


@needs_pdflatex
def test_latex_tables_compile(tmp_path):
    records = fake_records({("geom86", "svr"): 0.45, ("gabor-kp", "gr"): 0.6, ("resnet18", "cnn"): 0.3})
    for r in records:
        if r["predictor"] == "cnn":
            r.update(track="cnn", init="imagenet", recipe="paper")
    out = tmp_path / "out"
    write_store(out, records)
    build_report(out, n_resamples=100, figures=False)
    prefixes = ("subsets-", "uncertainty-", "paper-")
    mine = sorted(p.name for p in (out / "tables").glob("*.tex") if p.name.startswith(prefixes))
    assert len(mine) == 5
    proc = pdflatex(tmp_path, inputs(out / "tables" / n for n in mine))
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert (tmp_path / "doc.pdf").stat().st_size > 1000


def test_index_names_every_earlier_run_into_the_folder(tmp_path):
    """A store filled by several commands: the index lists the earlier ones from the manifest's history."""
    register_pixel_feature()
    root = make_fake_scut(tmp_path / "scut", n_per_subset=10)
    out = tmp_path / "out"
    for predictors, argv in ((["lr"], ["first-run"]), (["svr"], ["second-run"])):
        run(RunConfig(data_dir=root, protocol="60-40", features=["test-pixels"], predictors=predictors,
                      out_dir=out, cache_dir=tmp_path / "cache", progress=False, argv=argv))
    build_report(out, n_resamples=50, figures=False)
    index = (out / "index.md").read_text()
    assert "Earlier run 1" in index and "`first-run`" in index and "`second-run`" in index
