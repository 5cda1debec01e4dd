"""tools.fusion_search: greedy block selection on a held-out part of a training part only."""

from __future__ import annotations

import json

import pytest

from benchmark.feature_cache import FeatureCache
from data.protocols import load_protocols
from data.scut import ScutFBP5500
from tests.synthetic import make_fake_scut, register_fusion_features
from tools import fusion_search

PIXELS, LANDMARK = register_fusion_features()


def test_greedy_path_adds_the_best_block_each_step_and_select_takes_the_shortest_good_prefix():
    gains = {"a": 0.5, "b": 0.3, "c": 0.001}

    def score(blocks):
        return {"blocks": list(blocks), "pc": sum(gains[b] for b in blocks) - 0.01 * len(blocks)}

    fits = fusion_search.greedy_path(["c", "b", "a"], score)
    path = [f["blocks"] for f in fits if f["chosen"]]
    assert path == [["a"], ["a", "b"], ["a", "b", "c"]]
    assert [f["step"] for f in fits] == [1, 1, 1, 2, 2, 3]
    assert fusion_search.select(fits, tolerance=0.002)["blocks"] == ["a", "b"]
    assert fusion_search.select(fits, tolerance=0.5)["blocks"] == ["a"]


def test_search_reads_only_the_training_part_and_writes_its_choice(tmp_path, monkeypatch, capsys):
    root = make_fake_scut(tmp_path / "scut", n_per_subset=20)
    seen: list[str] = []
    original = FeatureCache.matrices

    def spy(self, extractors, records, **kw):
        seen.extend(r.image_id for r in records)
        return original(self, extractors, records, **kw)

    monkeypatch.setattr(FeatureCache, "matrices", spy)
    out = tmp_path / "search"
    code = fusion_search.main(["--data-dir", str(root), "--cache-dir", str(tmp_path / "cache"),
                               "--candidates", f"{PIXELS},{LANDMARK}", "--pca", "4", "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    split = load_protocols("5fold", ScutFBP5500(root))[0][0]
    assert seen and set(seen) <= set(split.train) and not set(seen) & set(split.test)

    result = json.loads((out / "search.json").read_text())
    assert result["n_fit"] + result["n_holdout"] == len(split.train)
    assert [f["step"] for f in result["fits"]] == [1, 1, 2]
    assert result["selected"]["feature"] in (PIXELS, LANDMARK, f"{PIXELS}+{LANDMARK}", f"{LANDMARK}+{PIXELS}")
    assert {f["predictor"] for f in result["predictor_choice"]["fits"]} == {"gr", "lr", "svr", "xgb"}
    assert "image" not in json.dumps(result)  # no per-image names or labels
    summary = (out / "summary.md").read_text()
    assert "no test image was loaded" in summary and result["selected"]["feature"] in summary

    capsys.readouterr()
    assert fusion_search.main(["--out", str(out), "--print-run-args"]) == 0
    args = capsys.readouterr().out.split()
    feature = result["selected"]["feature"]
    ranked = sorted(result["predictor_choice"]["fits"], key=lambda f: -f["pc"])
    top = [ranked[0]["predictor"], ranked[1]["predictor"]]
    assert args == ["--features", feature, "--predictors", ",".join(top), "--ensemble",
                    f"hc-stack={feature}__{top[0]},{feature}__{top[1]}"]
    assert fusion_search.main(["--out", str(out), "--print-deep-ensemble"]) == 0
    best = result["predictor_choice"]["best"]
    assert capsys.readouterr().out.strip() == f"deep=mobilenet_v2,efficientnet_lite0,{feature}__{best}"


@pytest.mark.parametrize("argv, message", [
    (["--candidates", "nope,lbp"], "nope"),
    (["--candidates", "lbp"], "at least two"),
    (["--print-run-args"], "search.json: not found"),
])
def test_bad_input_is_one_line(tmp_path, capsys, argv, message):
    root = make_fake_scut(tmp_path / "scut", n_per_subset=5)
    code = fusion_search.main(["--data-dir", str(root), "--out", str(tmp_path / "o"), *argv])
    err = capsys.readouterr().err
    assert code == 1 and message in err and len(err.strip().splitlines()) == 1
