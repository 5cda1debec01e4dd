"""The result store: typed records in the folders of existing stores, results.csv, name collisions."""

from __future__ import annotations

import copy
import json

import pandas as pd
import pytest

from benchmark.record import Record, RowKey
from benchmark.store import CSV_COLUMNS, ResultStore
from core.errors import DataError
from tests.benchmark.test_record import OLD_CNN, OLD_ENSEMBLE, OLD_HANDCRAFTED


def _put(store: ResultStore, folder: str, data: dict) -> None:
    """Write a record file by hand, as an earlier version stored it."""
    path = store.records_dir / str(data["protocol"]) / folder / f"split-{data['split']}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))


def test_old_stores_resolve_and_read_typed(tmp_path):
    store = ResultStore(tmp_path)
    _put(store, "geom86__gr", OLD_HANDCRAFTED)
    _put(store, "mobilenet_v2__cnn__imagenet-cpu", OLD_CNN)
    _put(store, "deep__ensemble", OLD_ENSEMBLE)
    cnn = RowKey.cnn("mobilenet_v2", "imagenet", "cpu")
    assert store.has(cnn, "60-40", "1") and store.has(RowKey.handcrafted("geom86", "gr"), "5fold", "2")
    assert store.has(RowKey.ensemble("deep"), "5fold", "2")
    rec = store.read(cnn, "60-40", "1")
    assert isinstance(rec, Record) and rec.model == "mobilenet_v2" and rec.feature == ""
    assert store.read(cnn, "60-40", "2") is None
    assert all(isinstance(r, Record) for r in store.records()) and len(store.paths()) == 3
    assert [r.key for r in store.records(cnn)] == [cnn]
    assert set(store.rows()) == {"geom86__gr", "mobilenet_v2__cnn__imagenet-cpu", "deep__ensemble"}
    # rewriting an old record keeps its file and upgrades it
    assert store.write(rec) == store.path(cnn, "60-40", "1")
    assert json.loads(store.path(cnn, "60-40", "1").read_text())["record_version"] == 2


def test_results_csv_same_columns_for_every_track(tmp_path):
    store = ResultStore(tmp_path)
    for data in (OLD_HANDCRAFTED, OLD_CNN, OLD_ENSEMBLE):
        store.write(copy.deepcopy(data))  # dicts of any version are accepted
    frame = pd.read_csv(store.write_csv(), keep_default_na=False)
    assert list(frame.columns) == CSV_COLUMNS and "model" in CSV_COLUMNS
    by_track = frame.set_index("track")
    assert by_track.loc["cnn", "model"] == "mobilenet_v2" and by_track.loc["cnn", "predictor"] == "cnn"
    assert by_track.loc["handcrafted", "model"] == "" and by_track.loc["ensemble", "model"] == ""
    assert by_track.loc["ensemble", "members"] == "geom86__gr, mobilenet_v2__cnn__imagenet-cpu"
    assert by_track.loc["handcrafted", "n_fallback"] == 1


def test_names_that_map_to_the_same_folder_are_refused(tmp_path):
    store = ResultStore(tmp_path)
    store.write({**OLD_HANDCRAFTED, "feature": "a b"})
    other = {**OLD_HANDCRAFTED, "feature": "a_b"}
    for fresh in (store, ResultStore(tmp_path)):  # remembered, and found again by a new store
        with pytest.raises(DataError, match="rows 'a b__gr' and 'a_b__gr' map to the same record folder") as info:
            fresh.write(other)
        assert "\n" not in str(info.value)
        with pytest.raises(DataError, match="same record folder"):
            fresh.has(RowKey.handcrafted("a_b", "gr"), "5fold", "1")  # another split of the same folder
    assert store.has(RowKey.handcrafted("a b", "gr"), "5fold", "3") is False  # the row itself is fine
    store.write({**OLD_HANDCRAFTED, "split": "x y"})
    with pytest.raises(DataError, match="splits 'x y' and 'x_y' map to the same record file"):
        store.write({**OLD_HANDCRAFTED, "split": "x_y"})
    store.write({**OLD_HANDCRAFTED, "protocol": "p q"})
    with pytest.raises(DataError, match="protocols 'p q' and 'p_q' map to the same record folder"):
        store.write({**OLD_HANDCRAFTED, "protocol": "p_q"})


def test_corrupt_or_foreign_record_is_one_line(tmp_path):
    store = ResultStore(tmp_path)
    path = store.records_dir / "5fold" / "geom86__gr" / "split-2.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"track": "handcrafted"}))
    with pytest.raises(DataError, match="split-2.json: result record lacks") as info:
        list(store.records())
    assert "\n" not in str(info.value) and "feature" in str(info.value)
