"""The typed result record: every old kind loads, round trips keep everything, one key per row."""

from __future__ import annotations

import copy
import json

import pytest

from benchmark.record import RECORD_VERSION, Predictions, Record, RowKey, row_key
from core.errors import DataError

PRED = {"image": ["AF1.jpg", "CM2.jpg"], "true": [3.25, 2.5], "pred": [3.1, 2.75]}
METRICS = {"pc": 0.8, "mae": 0.2, "rmse": 0.25}

#: The shapes the writers produced before records had a version (synthetic values, no dataset labels).
OLD_HANDCRAFTED = {
    "track": "handcrafted", "feature": "geom86", "predictor": "gr", "init": "", "recipe": "",
    "protocol": "5fold", "split": "2", "metrics": METRICS, "n_train": 4400, "n_test": 2, "seed": 0,
    "timings": {"fit_s": 1.5, "preprocess_s": 0.1, "predict_s": 0.01},
    "config": {"feature": {"name": "geom86", "params": {}, "version": 1}, "model": {"predict": "GR"}},
    "landmark_fallback": {"train": ["AM7.jpg"], "test": []}, "predictions": PRED,
    "created": "2025-01-01T00:00:00+00:00", "git_commit": "abc123",
}
OLD_CNN = {
    "track": "cnn", "feature": "mobilenet_v2", "predictor": "cnn", "init": "imagenet", "recipe": "cpu",
    "protocol": "60-40", "split": "1", "metrics": METRICS, "n_train": 3300, "n_test": 2, "seed": 0,
    "timings": {"fit_s": 900.0, "predict_s": 3.0, "wall_s": 950.0},
    "config": {"model": "mobilenet_v2", "init": "imagenet", "recipe": {"name": "cpu"}, "max_iters": None},
    "cnn": {"device": "cpu", "loss_per_epoch": [0.4, 0.2], "peak_rss_mib": 2048.0},
    "landmark_fallback": {"train": [], "test": []}, "predictions": PRED,
    "created": "2025-01-02T00:00:00+00:00", "git_commit": "def456",
    "train_pred_stats": {"mean": 3.0, "std": 0.5},
}
OLD_ENSEMBLE = {
    "track": "ensemble", "feature": "deep", "predictor": "ensemble", "init": "", "recipe": "equal-mean",
    "protocol": "5fold", "split": "2", "metrics": METRICS, "n_train": 4400, "n_test": 2, "seed": 0,
    "timings": {"fit_s": 0.0, "oof_s": 0.0, "predict_s": 0.0},
    "config": {"ensemble": {"name": "deep", "members": ["geom86__gr", "mobilenet_v2__cnn__imagenet-cpu"],
                            "method": "equal-mean", "inner_folds": None}, "model": {}},
    "ensemble": {"method": "equal-mean", "intercept": 0.0, "weights": [0.5, 0.5],
                 "members": [{"row": "geom86__gr", "track": "handcrafted", "weight": 0.5},
                             {"row": "mobilenet_v2__cnn__imagenet-cpu", "track": "cnn", "weight": 0.5}]},
    "landmark_fallback": {"train": [], "test": []}, "predictions": PRED,
    "created": "2025-01-03T00:00:00+00:00", "git_commit": "",
}


def test_old_handcrafted_record_loads():
    rec = Record.from_dict(copy.deepcopy(OLD_HANDCRAFTED))
    assert (rec.track, rec.feature, rec.predictor, rec.model, rec.init, rec.recipe) == \
        ("handcrafted", "geom86", "gr", "", "", "")
    assert (rec.protocol, rec.split, rec.n_train, rec.n_test, rec.seed) == ("5fold", "2", 4400, 2, 0)
    assert rec.metrics == METRICS and rec.timings["preprocess_s"] == 0.1 and rec.config["model"] == {"predict": "GR"}
    assert rec.predictions == Predictions(PRED["image"], PRED["true"], PRED["pred"])
    assert rec.n_fallback == 1 and rec.git_commit == "abc123" and rec.cnn is None and rec.ensemble is None
    assert rec.key == RowKey.handcrafted("geom86", "gr") and rec.key.slug == "geom86__gr"
    assert rec.record_version == RECORD_VERSION and rec.extra == {}


def test_old_cnn_record_loads_with_its_model_in_model():
    rec = Record.from_dict(copy.deepcopy(OLD_CNN))
    assert (rec.track, rec.feature, rec.predictor, rec.model) == ("cnn", "", "cnn", "mobilenet_v2")
    assert (rec.init, rec.recipe) == ("imagenet", "cpu") and rec.name == "mobilenet_v2"
    assert rec.cnn["loss_per_epoch"] == [0.4, 0.2] and rec.train_pred_stats == {"mean": 3.0, "std": 0.5}
    assert rec.key == RowKey.cnn("mobilenet_v2", "imagenet", "cpu")
    assert rec.key.slug == "mobilenet_v2__cnn__imagenet-cpu"  # the folder of existing stores
    stored = rec.to_dict()
    assert stored["model"] == "mobilenet_v2" and stored["feature"] == "" and stored["record_version"] == 2
    row = rec.csv_row()
    assert row["model"] == "mobilenet_v2" and row["predictor"] == "cnn" and row["fit_seconds"] == 900.0


def test_old_ensemble_record_loads():
    rec = Record.from_dict(copy.deepcopy(OLD_ENSEMBLE))
    assert (rec.track, rec.feature, rec.predictor, rec.model, rec.recipe) == \
        ("ensemble", "deep", "ensemble", "", "equal-mean")
    assert rec.ensemble["weights"] == [0.5, 0.5]
    assert rec.key == RowKey.ensemble("deep") and rec.key.slug == "deep__ensemble"  # method not in the key
    assert rec.csv_row()["members"] == "geom86__gr, mobilenet_v2__cnn__imagenet-cpu"


@pytest.mark.parametrize("old", [OLD_HANDCRAFTED, OLD_CNN, OLD_ENSEMBLE], ids=["handcrafted", "cnn", "ensemble"])
def test_round_trip_keeps_everything(old):
    data = {**copy.deepcopy(old), "future_key": {"kept": [1, 2]}}
    rec = Record.from_dict(data)
    assert rec.extra == {"future_key": {"kept": [1, 2]}}
    stored = json.loads(json.dumps(rec.to_dict()))
    again = Record.from_dict(stored)
    assert again == rec and again.to_dict() == stored
    expected = {k: v for k, v in data.items() if k not in ("feature", "model")}
    assert {k: v for k, v in stored.items() if k not in ("feature", "model", "record_version")} == expected
    assert row_key(stored) == row_key(data) == rec.key


def test_sections_absent_stay_absent():
    minimal = {"track": "handcrafted", "feature": "lbp", "predictor": "lr", "protocol": "60-40", "split": 1,
               "metrics": METRICS}
    rec = Record.from_dict(minimal)
    assert rec.split == "1" and rec.predictions is None and rec.created is None
    stored = rec.to_dict()
    assert not {"predictions", "created", "git_commit", "cnn", "ensemble", "train_pred_stats", "seed"} & set(stored)


@pytest.mark.parametrize("data, fragment", [
    ({"track": "handcrafted", "feature": "lbp", "predictor": "lr", "protocol": "60-40", "split": "1"}, "lacks metrics"),
    ({**OLD_HANDCRAFTED, "record_version": RECORD_VERSION + 1}, "record_version"),
    ({**OLD_HANDCRAFTED, "predictions": {"image": ["a"], "true": [1.0, 2.0], "pred": [1.0]}}, "predictions of 1"),
    ({**OLD_CNN, "feature": ""}, "names no model"),
    ([1, 2], "JSON object"),
])
def test_not_a_record_is_one_line(data, fragment):
    with pytest.raises(DataError, match=fragment) as info:
        Record.from_dict(data)
    assert "\n" not in str(info.value)


def test_a_cnn_key_names_its_model():
    with pytest.raises(ValueError, match="named by its model"):
        RowKey("cnn", "resnet18", "cnn", "imagenet", "paper")
