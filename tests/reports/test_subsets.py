"""Per-subset (AF/AM/CF/CM) breakdown of every row."""

from __future__ import annotations

import pytest

from benchmark.metrics import score_all
from data.scut import subset_of
from reports import stats, subsets
from tests.reports.test_stats import fake_records


@pytest.fixture(scope="module")
def pooled():
    records = fake_records({("geom86", "svr"): 0.45, ("lbp", "lr"): 0.7}, bias={"CM": 0.5})
    return stats.pooled_predictions(records)


def test_four_subsets_per_row_match_a_direct_computation(pooled):
    metrics = subsets.subset_metrics(pooled)
    assert set(metrics["protocol"]) == {"5fold", "60-40"}
    for (protocol, label), group in metrics.groupby(["protocol", "pairing"]):
        assert list(group["subset"]) == ["AF", "AM", "CF", "CM", "All"]
        rows = pooled[(pooled["protocol"] == protocol) & (pooled["pairing"] == label)]
        for r in group.itertuples():
            part = rows if r.subset == "All" else rows[[subset_of(i) == r.subset for i in rows["image"]]]
            expected = score_all(part["true"], part["pred"])
            assert r.n == len(part)
            assert (r.pc, r.mae, r.rmse) == pytest.approx((expected["pc"], expected["mae"], expected["rmse"]))
    five = metrics[(metrics["protocol"] == "5fold") & (metrics["pairing"] == "geom86 + svr")]
    five = five.set_index("subset")
    assert five.loc[["AF", "AM", "CF", "CM"], "n"].tolist() == [80, 80, 30, 30]  # every image once
    assert five.loc["CM", "mae"] > five.loc["AF", "mae"] + 0.2  # the biased subset shows up


def test_subset_tables_have_a_panel_per_metric(pooled):
    panels = subsets.subset_tables(subsets.subset_metrics(pooled), "60-40")
    assert [p.title for p in panels] == ["PC", "MAE", "RMSE"]
    for panel in panels:
        assert list(panel.cells.columns) == ["AF", "AM", "CF", "CM", "All"]
        assert list(panel.cells.index) == ["geom86 + svr", "lbp + lr"]
        assert panel.bold.any().all()  # one best row per column
    assert panels[1].bold.loc["geom86 + svr", "AF"]  # lower MAE: the less noisy row


def test_render_subset_tables(pooled, tmp_path):
    written = subsets.render_subset_tables(pooled, tmp_path, provenance="`cmd`; commit abc")
    assert sorted(p.name for p in written) == ["subsets-5fold.md", "subsets-5fold.tex",
                                               "subsets-60-40.md", "subsets-60-40.tex"]
    md = (tmp_path / "subsets-5fold.md").read_text()
    assert "## PC" in md and "| AF " in md and "Asian female" in md and "commit abc" in md
    tex = (tmp_path / "subsets-5fold.tex").read_text()
    assert tex.count(r"\midrule") == 3 and r"\textit{MAE}" in tex and r"\bottomrule" in tex
