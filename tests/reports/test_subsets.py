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


def test_paper_table_iv_subset_pc_beside_our_10fold(tmp_path):
    records = fake_records({("geom86", "gr"): 0.45, ("lbp", "lr"): 0.7}, protocols=("5fold", "10fold"))
    pooled = stats.pooled_predictions(records)
    metrics = subsets.subset_metrics(pooled)
    panels, notes = subsets.with_paper_rows(subsets.subset_tables(metrics, "10fold"), metrics, "10fold")
    pc = panels[0].cells
    assert pc.loc["geom86 + gr: paper"].tolist() == ["0.7057", "0.6923", "0.7263", "0.63", ""]
    ours = metrics[(metrics["protocol"] == "10fold") & (metrics["pairing"] == "geom86 + gr")].set_index("subset")
    assert pc.loc["geom86 + gr: Δ", "AF"] == f"{ours.loc['AF', 'pc'] - 0.7057:+.4f}"
    assert not panels[0].bold.loc[["geom86 + gr: paper", "geom86 + gr: Δ"]].to_numpy().any()
    assert "Table IV" in notes[0] and any("after 10 folds cross validation" in n for n in notes)
    assert len(panels[1].cells) == 2  # MAE/RMSE panels: our rows only
    # Only the 10fold tables carry them (the paper's geometric rows are 10-fold CV).
    five, five_notes = subsets.with_paper_rows(subsets.subset_tables(metrics, "5fold"), metrics, "5fold")
    assert len(five[0].cells) == 2 and five_notes == []
    written = subsets.render_subset_tables(pooled, tmp_path)
    md = (tmp_path / "subsets-10fold.md").read_text()
    assert "| geom86 + gr: paper" in md and "not an official split" in md
    assert tmp_path / "subsets-10fold.md" in written
