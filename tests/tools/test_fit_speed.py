"""``python -m tools.fit_speed`` on a small synthetic dataset, and its argument checks."""

import json

import pytest

from core.errors import ConfigError
from tests.synthetic import make_fake_scut, register_pixel_feature
from tools import fit_speed


def test_parse_overrides_reads_python_literals():
    assert fit_speed.parse_overrides(["xgb.max_bin=256", "svr.C_grid=(1.0, 3.0)", "xgb.refit=False"]) == {
        "xgb": {"max_bin": 256, "refit": False}, "svr": {"C_grid": (1.0, 3.0)}}


@pytest.mark.parametrize("item", ["xgb.max_bin", "xgb=3", "xgb.nope=1"])
def test_parse_overrides_rejects_bad_items(item):
    with pytest.raises(ConfigError, match="--set"):
        fit_speed.parse_overrides([item])


def test_fit_speed_runs_variants_and_writes_json(tmp_path, capsys):
    register_pixel_feature()
    root = make_fake_scut(tmp_path / "data", n_per_subset=15)
    out = tmp_path / "fit_speed.json"
    code = fit_speed.main(["--data-dir", str(root), "--cache-dir", str(tmp_path / "cache"),
                           "--features", "test-pixels", "--predictors", "lr,xgb", "--splits", "5fold/2,60-40/1",
                           "--set", "xgb.max_bin=16", "--json", str(out)])
    assert code == 0
    report = json.loads(out.read_text())
    assert [(t["predictor"], t["variant"], t["fits"]) for t in report["totals"]] == [
        ("lr", "default", 2), ("xgb", "default", 2), ("xgb", "max_bin=16", 2)]
    assert {r["split"] for r in report["rows"]} == {"5fold/2", "60-40/1"}
    assert all(-1 <= r["pc"] <= 1 and r["fit_predict_s"] >= 0 for r in report["rows"])
    assert "max_bin=16" in capsys.readouterr().out


def test_fit_speed_unknown_names_give_one_line(tmp_path, capsys):
    assert fit_speed.main(["--features", "gabor-kq"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: unknown feature 'gabor-kq'") and "\n" not in err


def test_fit_speed_unknown_split(tmp_path, capsys):
    root = make_fake_scut(tmp_path / "data", n_per_subset=5)
    assert fit_speed.main(["--data-dir", str(root), "--features", "geom86", "--predictors", "lr",
                           "--splits", "5fold/9"]) == 1
    assert "no split '5fold/9' in the chosen protocol(s); there are 5fold/1, " in capsys.readouterr().err
