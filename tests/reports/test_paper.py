"""Tests of the paper's reported numbers (reports.paper)."""

from __future__ import annotations

import itertools

import pytest

from reports import paper
from reports.paper import ENTRIES, REFERENCE_ENTRIES, paper_entry


def paper_value(protocol: str, feature: str, predictor: str, metric: str, init: str | None = None) -> float | None:
    """The paper's value of ``metric`` for a pairing (:func:`reports.paper.paper_entry`), or None."""
    entry = paper_entry(protocol, feature, predictor, init)
    return None if entry is None else entry.metric(metric)


HANDCRAFTED = [
    # (feature, predictor, pc, mae, rmse) as printed in Liang et al. 2018
    ("geom86", "lr", 0.5948, 0.4289, 0.5531),
    ("geom86", "gr", 0.6738, 0.3914, 0.5085),
    ("geom86", "svr", 0.6668, 0.3898, 0.5132),
    ("gabor-kp", "gr", 0.7472, 0.3554, 0.4599),
    ("gabor-kp", "svr", 0.6691, 0.3891, 0.5065),
    ("gabor-grid", "gr", 0.6764, 0.4014, 0.5177),
    ("gabor-grid", "svr", 0.8065, 0.3976, 0.5126),
]
CNN = [
    ("5fold", "alexnet", 0.8634, 0.2651, 0.3481),
    ("5fold", "resnet18", 0.8900, 0.2419, 0.3166),
    ("5fold", "resnext50", 0.8997, 0.2291, 0.3017),
    ("60-40", "alexnet", 0.8298, 0.2938, 0.3819),
    ("60-40", "resnet18", 0.8513, 0.2818, 0.3703),
    ("60-40", "resnext50", 0.8777, 0.2518, 0.3325),
]


@pytest.mark.parametrize(("feature", "predictor", "pc", "mae", "rmse"), HANDCRAFTED)
def test_handcrafted_values(feature, predictor, pc, mae, rmse):
    """Geometric rows (the paper's 10-fold CV) match our 10fold only; Gabor rows (protocol not stated)
    match both 5fold and 10fold; none matches 60-40."""
    protocols = ["10fold"] if feature == "geom86" else ["5fold", "10fold"]
    for protocol in protocols:
        got = [paper_value(protocol, feature, predictor, m) for m in ("pc", "mae", "rmse")]
        assert got == [pc, mae, rmse]
    for protocol in {"5fold", "60-40", "10fold"} - set(protocols):
        assert paper_value(protocol, feature, predictor, "pc") is None
    entry = paper_entry("10fold", feature, predictor)
    assert entry.protocol == ("10fold" if feature == "geom86" else paper.UNKNOWN_PROTOCOL)
    assert entry.protocol_note


@pytest.mark.parametrize(("protocol", "model", "pc", "mae", "rmse"), CNN)
def test_cnn_values(protocol, model, pc, mae, rmse):
    got = [paper_value(protocol, model, "cnn", m) for m in ("pc", "mae", "rmse")]
    assert got == [pc, mae, rmse]
    assert paper_value(protocol, model, "cnn", "pc", init="imagenet") == pc
    assert paper_value(protocol, model, "cnn", "pc", init="scratch") is None


def test_entries_are_exactly_the_reported_rows():
    assert len(ENTRIES) == len(HANDCRAFTED) + len(CNN)
    keys = [(p, e.feature, e.predictor) for e in ENTRIES for p in e.matched_protocols]
    assert len(set(keys)) == len(keys)
    assert all(e.official and e.source for e in ENTRIES)


def test_unreported_pairings_have_no_value():
    assert paper_value("5fold", "lbp", "svr", "pc") is None
    assert paper_value("5fold", "gabor-kp", "lr", "pc") is None  # the paper has no Gabor + LR row
    assert paper_value("5fold", "geom86", "xgb", "mae") is None
    assert paper_value("my-split", "geom86", "svr", "pc") is None


def test_unknown_metric_is_an_error():
    with pytest.raises(ValueError, match=r"unknown metric 'r2'; expected one of \('pc', 'mae', 'rmse'\)"):
        paper_value("10fold", "geom86", "svr", "r2")


def test_resnet50_reference_is_not_matched_to_official_rows():
    (entry,) = REFERENCE_ENTRIES
    assert (entry.feature, entry.protocol, entry.official) == ("resnet50", "80-20", False)
    assert (entry.pc, entry.mae, entry.rmse) == (0.9013, 0.2334, 0.3018)
    for protocol in ("5fold", "60-40", "80-20"):
        assert paper_value(protocol, "resnet50", "cnn", "pc") is None
    assert entry not in ENTRIES


def test_only_the_gabor_grid_svr_row_is_flagged_and_why():
    """A row whose PC beats another by > .05 while both its MAE and RMSE are worse is suspect."""
    rows = [e for e in ENTRIES if e.predictor != "cnn"]
    suspects = {
        (a.feature, a.predictor)
        for a, b in itertools.permutations(rows, 2)
        if a.pc - b.pc > 0.05 and a.mae > b.mae and a.rmse > b.rmse
    }
    assert suspects == {("gabor-grid", "svr")}
    flagged = {(e.feature, e.predictor) for e in ENTRIES if e.note}
    assert flagged == suspects
    assert "internally inconsistent" in paper_entry("5fold", "gabor-grid", "svr").note
    assert paper_entry("10fold", "gabor-grid", "svr") is paper_entry("5fold", "gabor-grid", "svr")


def test_protocol_of_the_handcrafted_rows_is_stated():
    sentence = ("the performance of different model are measured using pearson correlation coefficient (PC), "
                "maximum absolute error (MAE) and root mean square error (RMSE) after 10 folds cross validation")
    assert paper.PAPER_PROTOCOL_SENTENCE == sentence
    assert f'"{sentence}"' in paper.GEOMETRIC_PROTOCOL_NOTE and "not an official split" in paper.GEOMETRIC_PROTOCOL_NOTE
    assert "does not state" in paper.GABOR_PROTOCOL_NOTE and "both" in paper.GABOR_PROTOCOL_NOTE
    assert sentence in paper.missing_geometric_note()
    assert "1801.06345" in paper.CITATION


def test_subset_entries_are_the_quoted_table_iv_values():
    (entry,) = paper.SUBSET_ENTRIES
    assert (entry.protocol, entry.feature, entry.predictor) == ("10fold", "geom86", "gr")
    assert entry.pc == {"AF": 0.7057, "AM": 0.6923, "CF": 0.7263, "CM": 0.63}
    assert paper.subset_entry("10fold", "geom86", "gr") is entry
    assert paper.subset_entry("5fold", "geom86", "gr") is None
