"""Bootstrap intervals, the paired permutation test and the uncertainty tables (no real data)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from benchmark.metrics import score_all
from benchmark.store import ResultStore
from reports import stats

SUBSET_SIZES = {"AF": 80, "AM": 80, "CF": 30, "CM": 30}


def image_names(sizes: dict[str, int] = SUBSET_SIZES) -> list[str]:
    return [f"{s}{i}.jpg" for s, n in sizes.items() for i in range(1, n + 1)]


def fake_records(rows: dict[tuple[str, str], float], *, protocols: tuple[str, ...] = ("5fold", "60-40"),
                 sizes: dict[str, int] = SUBSET_SIZES, seed: int = 0, bias: dict[str, float] | None = None,
                 track: str = "handcrafted") -> list[dict]:
    """Result records with stored predictions: ``pred = true + N(0, noise)`` per row.

    Parameters
    ----------
    rows : dict
        ``(feature, predictor) -> noise std``.
    bias : dict, optional
        ``subset code -> offset`` added to the predictions of that subset.
    """
    rng = np.random.default_rng(seed)
    names = image_names(sizes)
    true = dict(zip(names, np.round(rng.uniform(1.2, 4.8, len(names)), 4), strict=True))
    order = list(rng.permutation(names))
    splits = {"5fold": {str(k + 1): order[k::5] for k in range(5)},
              "60-40": {"1": order[int(0.6 * len(order)):]},
              "10fold": {str(k + 1): order[k::10] for k in range(10)}}
    records = []
    for protocol in protocols:
        for (feature, predictor), noise in rows.items():
            for split, test in splits[protocol].items():
                t = np.array([true[n] for n in test])
                p = t + rng.normal(0, noise, len(t))
                if bias:
                    p += np.array([bias.get(n[:2], 0.0) for n in test])
                records.append({
                    "track": track, "feature": feature, "predictor": predictor, "init": "", "recipe": "",
                    "protocol": protocol, "split": split, "metrics": score_all(t, p),
                    "n_train": len(names) - len(test), "n_test": len(test), "seed": 0,
                    "timings": {"fit_s": 0.1, "predict_s": 0.01}, "config": {},
                    "landmark_fallback": {"train": [], "test": []},
                    "predictions": {"image": list(test), "true": t.tolist(), "pred": p.tolist()},
                    "created": "2024-01-01T00:00:00+00:00",
                })
    return records


def write_store(out_dir: Path, records: list[dict]) -> ResultStore:
    store = ResultStore(out_dir)
    for rec in records:
        store.write(rec)
    return store


def _noisy(n: int, noise: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    true = rng.uniform(1, 5, n)
    return true, true + rng.normal(0, noise, n)


def test_batch_metrics_match_benchmark_metrics():
    true, pred = _noisy(300, 0.5, 1)
    got = {k: float(v[0]) for k, v in stats.batch_metrics(true[None], pred[None]).items()}
    assert got == pytest.approx(score_all(true, pred), abs=1e-12)


def test_bootstrap_ci_contains_estimate_and_shrinks_with_n():
    small = stats.bootstrap_ci(*_noisy(150, 0.6, 2), n_resamples=1000, seed=0)
    large = stats.bootstrap_ci(*_noisy(2400, 0.6, 3), n_resamples=1000, seed=0)
    for ci in (small, large):
        for metric, iv in ci.items():
            assert iv.low < iv.estimate < iv.high, metric
    for metric in ("pc", "mae", "rmse"):
        ratio = (small[metric].high - small[metric].low) / (large[metric].high - large[metric].low)
        assert 2.5 < ratio < 6.5, (metric, ratio)  # width ~ 1/sqrt(n): sqrt(16) = 4


def test_bootstrap_is_seeded_and_covers_the_truth():
    true, pred = _noisy(500, 0.5, 4)
    a = stats.bootstrap_ci(true, pred, n_resamples=300, seed=7)
    assert a == stats.bootstrap_ci(true, pred, n_resamples=300, seed=7)
    assert a != stats.bootstrap_ci(true, pred, n_resamples=300, seed=8)
    # coverage: the population MAE of N(0, 0.5) noise is 0.5 * sqrt(2 / pi)
    hits = 0
    for seed in range(40):
        iv = stats.bootstrap_ci(*_noisy(400, 0.5, 100 + seed), n_resamples=300, seed=seed)["mae"]
        hits += iv.low <= 0.5 * np.sqrt(2 / np.pi) <= iv.high
    assert hits >= 33  # nominal 95% of 40 = 38


def test_paired_test_detects_a_real_difference():
    rng = np.random.default_rng(5)
    true = rng.uniform(1, 5, 800)
    better = true + rng.normal(0, 0.5, 800)
    worse = true + rng.normal(0, 0.8, 800)
    res = stats.paired_pc_test(true, better, worse, n_resamples=1000, seed=0)
    assert res.delta > 0 and res.p_value < 0.01
    assert res.low > 0 and res.low < res.delta < res.high
    assert res.n == 800


def test_paired_test_is_calibrated_under_the_null():
    rejections = 0
    for seed in range(40):
        rng = np.random.default_rng(1000 + seed)
        true = rng.uniform(1, 5, 300)
        a, b = true + rng.normal(0, 0.6, 300), true + rng.normal(0, 0.6, 300)
        res = stats.paired_pc_test(true, a, b, n_resamples=300, seed=seed)
        assert 0 < res.p_value <= 1
        rejections += res.p_value < 0.05
    assert rejections <= 6  # nominal 5% of 40 = 2
    same = stats.paired_pc_test(true, a, a, n_resamples=200)
    assert same.delta == 0 and same.p_value == 1.0


def test_uncertainty_frame_marks_rows_against_the_best():
    records = fake_records({("good", "lr"): 0.40, ("twin", "lr"): 0.41, ("bad", "lr"): 0.9}, sizes={
        "AF": 300, "AM": 300, "CF": 100, "CM": 100})
    pooled = stats.pooled_predictions(records)
    frame = stats.uncertainty_frame(pooled, "5fold", n_resamples=500)
    # good and twin differ by chance only: one is the best, the other not significantly worse
    verdicts = {frame.loc["good + lr", "verdict"], frame.loc["twin + lr", "verdict"]}
    assert verdicts == {stats.BEST, stats.NOT_WORSE}
    assert frame.loc["bad + lr", "verdict"] == stats.WORSE
    assert frame.loc["bad + lr", "p_value"] < 0.05 and frame.loc["bad + lr", "delta_pc"] > 0
    assert (frame["n"] == 800).all()  # 5 folds pooled: every image once
    for label in frame.index:
        assert frame.loc[label, "pc_low"] <= frame.loc[label, "pc"] <= frame.loc[label, "pc_high"]
    sub = pooled[(pooled["protocol"] == "5fold") & (pooled["pairing"] == "bad + lr")]
    assert frame.loc["bad + lr", "pc"] == pytest.approx(score_all(sub["true"], sub["pred"])["pc"])


def test_pooled_predictions_skip_records_without_predictions():
    records = fake_records({("f", "lr"): 0.5}, protocols=("60-40",))
    records.append({**records[0], "split": "2", "predictions": {}})
    pooled = stats.pooled_predictions(records)
    assert set(pooled["split"]) == {"1"} and list(pooled.columns) == stats.POOLED_COLUMNS
    assert stats.pooled_predictions([]).empty


def test_pooled_predictions_read_a_cnn_row_named_by_model():
    """A CNN record naming its model in ``model`` (``feature`` empty) pools like one naming it in ``feature``."""
    old = fake_records({("resnet18", "cnn"): 0.3}, protocols=("60-40",), track="cnn")
    for rec in old:
        rec.update(init="imagenet", recipe="paper")
    new = [{**rec, "feature": "", "model": rec["feature"], "predictor": ""} for rec in old]
    pooled = stats.pooled_predictions(old)
    assert set(pooled["pairing"]) == {"resnet18 (CNN, init=imagenet, recipe=paper)"}
    assert stats.pooled_predictions(new).equals(pooled)


def test_render_uncertainty_tables(tmp_path):
    pooled = stats.pooled_predictions(fake_records({("good", "svr"): 0.4, ("bad", "lr"): 1.2}))
    written = stats.render_uncertainty(pooled, tmp_path, "prov", n_resamples=200)
    assert sorted(p.name for p in written) == ["uncertainty-5fold.md", "uncertainty-5fold.tex",
                                               "uncertainty-60-40.md", "uncertainty-60-40.tex"]
    md = (tmp_path / "uncertainty-5fold.md").read_text()
    assert md.startswith("<!-- provenance: prov -->")
    assert "[95% CI]" in md and "| best" in md and "worse" in md and "200 resamples" in md
    tex = (tmp_path / "uncertainty-60-40.tex").read_text()
    assert r"\toprule" in tex and r"\textbf{" in tex and r"$\Delta$PC" in tex
