"""Late fusion: --ensemble syntax, the weightings, and ensembles through the CLI (run, resume, report)."""

from __future__ import annotations

import csv
import json
import re

import numpy as np
import pytest

from benchmark import ensemble
from benchmark.store import ResultStore
from cli.main import main
from core.errors import ConfigError
from tests.synthetic import make_fake_scut, register_fusion_features

PIXELS, LANDMARK = register_fusion_features()
FUSED = f"{PIXELS}+{LANDMARK}"
DUO = f"duo={PIXELS}__lr,{FUSED}__svr"


# --------------------------------------------------------------------------- syntax


def test_parse_members():
    spec = ensemble.parse_ensemble(f" best = {FUSED}__svr , mobilenet_v2__cnn__imagenet-cpu, resnet18 ")
    assert spec.name == "best"
    hand, cnn, short = spec.members
    assert (hand.track, hand.feature, hand.predictor, hand.slug) == ("handcrafted", FUSED, "svr", f"{FUSED}__svr")
    assert (cnn.track, cnn.init, cnn.recipe, cnn.slug) == ("cnn", "imagenet", "cpu", "mobilenet_v2__cnn__imagenet-cpu")
    assert short.track == "cnn" and not short.resolved
    assert spec.key.slug == "best__ensemble"


@pytest.mark.parametrize("value, fragment", [
    ("duo", "no '='"),
    (f"du o={PIXELS}__lr,{PIXELS}__svr", "ensemble name"),
    (f"a__b={PIXELS}__lr,{PIXELS}__svr", "no '__'"),
    (f"duo={PIXELS}__lr", "at least two rows"),
    (f"duo={PIXELS}__lr,,{PIXELS}__svr", "empty row"),
    (f"duo={PIXELS}__lr,{PIXELS}__lr", "appears more than once"),
    (f"duo={PIXELS}__lr,other__ensemble", "is an ensemble"),
    (f"duo={PIXELS}__lr,resnet18__cnn__imagenet", "__INIT-RECIPE"),
    (f"duo={PIXELS}__lr,a__b__c", "bad row"),
])
def test_bad_syntax_is_one_line(value, fragment):
    with pytest.raises(ConfigError, match=fragment) as info:
        ensemble.parse_ensembles([value])
    assert "\n" not in str(info.value) and "expected NAME=ROW,ROW" in str(info.value)


def test_names_must_be_distinct():
    with pytest.raises(ConfigError, match="given more than once"):
        ensemble.parse_ensembles([DUO, DUO])


# --------------------------------------------------------------------------- weightings


def test_nnls_learns_non_negative_weights_with_an_intercept():
    rng = np.random.default_rng(0)
    y = rng.uniform(1, 5, 200)
    good, noisy, anti = y + rng.normal(0, 0.1, 200), y + rng.normal(0, 1.0, 200), 6 - y
    combiner = ensemble.NNLSStacking().fit(np.column_stack([good, noisy, anti]), y)
    assert combiner.weights_[0] > 0.8 and combiner.weights_[2] == 0 and (combiner.weights_ >= 0).all()
    assert not combiner.fallback_
    np.testing.assert_allclose(combiner.predict(np.column_stack([good, noisy, anti])).mean(), y.mean())
    flat = ensemble.NNLSStacking().fit(np.column_stack([6 - y, 7 - y]), y)  # nothing correlates positively
    assert flat.fallback_ and np.allclose(flat.weights_, 0.5)


def test_equal_weightings():
    P = np.array([[1.0, 10.0], [3.0, 30.0], [2.0, 20.0]])
    np.testing.assert_allclose(ensemble.EqualMean().fit_summary(2).predict(P), P.mean(axis=1))
    std = ensemble.StandardisedMean().fit_summary(2, means=[2.0, 20.0], stds=[1.0, 10.0])
    z = (P - [2.0, 20.0]) / [1.0, 10.0]
    np.testing.assert_allclose(std.predict(P), 11.0 + 5.5 * z.mean(axis=1))
    with pytest.raises(ValueError, match="positive stds"):
        ensemble.StandardisedMean().fit_summary(2, means=[1.0, 2.0], stds=[1.0, 0.0])


def test_choice_of_weighting():
    assert ensemble.choose_combiner(has_oof=True, has_stats=True) == "nnls-oof"
    assert ensemble.choose_combiner(has_oof=False, has_stats=True) == "equal-std"
    assert ensemble.choose_combiner(has_oof=False, has_stats=False) == "equal-mean"


# --------------------------------------------------------------------------- through the CLI


@pytest.fixture
def fake(tmp_path):
    return make_fake_scut(tmp_path / "scut", n_per_subset=10)


def run_cli(tmp_path, root, *extra):
    out = tmp_path / "out"
    code = main(["--data-dir", str(root), "--out", str(out), "--cache-dir", str(tmp_path / "cache"), "--quiet",
                 "--features", f"{PIXELS},{FUSED}", "--predictors", "lr,svr", "--pca", "4", "--models", "none",
                 *extra])
    return code, out


def rows(out):
    return list(csv.DictReader((out / "results.csv").open()))


def snapshot(folder):
    return {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()} if folder.exists() else {}


def test_fused_and_ensemble_rows_run_resume_and_report(tmp_path, fake, monkeypatch, capsys):
    code, out = run_cli(tmp_path, fake, "--protocol", "all", "--ensemble", DUO)
    assert code == 0, capsys.readouterr().err
    found = rows(out)
    assert {r["feature"] for r in found if r["track"] == "handcrafted"} == {PIXELS, FUSED}
    duo = [r for r in found if r["track"] == "ensemble"]
    assert len(duo) == 6 and {r["recipe"] for r in duo} == {"nnls-oof"}
    assert {r["members"] for r in duo} == {f"{PIXELS}__lr, {FUSED}__svr"}
    table = (out / "tables" / "5fold.md").read_text()
    assert f"| {FUSED} + svr " in table and "| duo (ensemble, nnls-oof) " in table
    assert f"Ensemble duo (ensemble, nnls-oof): members {PIXELS}__lr, {FUSED}__svr." in table
    record = json.loads((out / "records" / "60-40" / "duo__ensemble" / "split-1.json").read_text())
    assert [m["row"] for m in record["ensemble"]["members"]] == [f"{PIXELS}__lr", f"{FUSED}__svr"]
    assert len(record["ensemble"]["weights"]) == 2 and record["ensemble"]["learned_from"] == "oof"
    assert len(record["predictions"]["pred"]) == record["n_test"] == 16
    assert (out / "records" / "60-40" / f"{FUSED}__svr" / "oof-split-1.json").is_file()

    # rerun: every record, OOF file and ensemble is kept, nothing is refitted
    before = snapshot(out / "records")
    fits = []
    monkeypatch.setattr(ensemble, "oof_predictions", lambda *a, **k: fits.append(a) or None)
    monkeypatch.setattr(ensemble.NNLSStacking, "fit", lambda *a, **k: fits.append(a) or None)
    code, _ = run_cli(tmp_path, fake, "--protocol", "all", "--ensemble", DUO)
    assert code == 0 and not fits and snapshot(out / "records") == before
    monkeypatch.undo()

    # report builds ensembles from stored records alone: OOF files where all members have them, else equal-mean
    assert main(["report", "--out", str(out), "--no-figures", "--resamples", "20",
                 "--ensemble", f"again={PIXELS}__lr,{FUSED}__svr", "--ensemble", f"eq={PIXELS}__lr,{PIXELS}__svr"]) == 0
    by_name = {(r["feature"], r["protocol"], r["split"]): r for r in rows(out) if r["track"] == "ensemble"}
    assert by_name[("again", "5fold", "3")]["pc"] == by_name[("duo", "5fold", "3")]["pc"]
    assert by_name[("again", "5fold", "3")]["recipe"] == "nnls-oof"
    assert by_name[("eq", "60-40", "1")]["recipe"] == "equal-mean"
    for view in ("uncertainty-5fold.md", "subsets-60-40.md", "uncertainty-60-40.md"):
        text = (out / "tables" / view).read_text()
        assert "duo (ensemble, nnls-oof)" in text and "eq (ensemble, equal-mean)" in text, view
    eq = json.loads((out / "records" / "5fold" / "eq__ensemble" / "split-2.json").read_text())
    P = np.column_stack([json.loads((out / "records" / "5fold" / f"{PIXELS}__{p}" / "split-2.json").read_text())
                         ["predictions"]["pred"] for p in ("lr", "svr")])
    np.testing.assert_allclose(eq["predictions"]["pred"], P.mean(axis=1))

    # a member recomputed makes its OOF file and ensemble stale: a rerun (no --force) recomputes both
    member = out / "records" / "60-40" / f"{PIXELS}__lr" / "split-1.json"
    member.write_text(json.dumps({**json.loads(member.read_text()), "created": "edited"}))
    oof_before = (out / "records" / "60-40" / f"{PIXELS}__lr" / "oof-split-1.json").read_bytes()
    code, _ = run_cli(tmp_path, fake, "--protocol", "60-40", "--ensemble", DUO)
    assert code == 0
    again = json.loads((out / "records" / "60-40" / "duo__ensemble" / "split-1.json").read_text())
    fresh = json.loads(member.read_text())
    assert again["ensemble"]["inputs"]["member_records"][0] == ensemble.record_fingerprint(fresh)
    assert (out / "records" / "60-40" / f"{PIXELS}__lr" / "oof-split-1.json").read_bytes() != oof_before


def test_ensembles_of_stored_cnn_rows(tmp_path, fake, capsys):
    """CNN members come from their records: equal-mean, or equal-std when the records hold training statistics."""
    code, out = run_cli(tmp_path, fake, "--protocol", "60-40")
    assert code == 0
    store = ResultStore(out)
    lr = json.loads((out / "records" / "60-40" / f"{PIXELS}__lr" / "split-1.json").read_text())
    cnn = {**lr, "track": "cnn", "feature": "fakenet", "predictor": "cnn", "init": "scratch", "recipe": "cpu",
           "config": {}, "predictions": {**lr["predictions"], "pred": [p + 0.5 for p in lr["predictions"]["pred"]]}}
    store.write(cnn)
    assert main(["report", "--out", str(out), "--no-figures", "--resamples", "20",
                 "--ensemble", f"mix={PIXELS}__lr,fakenet"]) == 0
    mix = json.loads((out / "records" / "60-40" / "mix__ensemble" / "split-1.json").read_text())
    assert mix["recipe"] == "equal-mean" and mix["ensemble"]["members"][1]["row"] == "fakenet__cnn__scratch-cpu"
    # with a training-part statistic in the CNN record (and OOF predictions of the other member) -> equal-std
    store.write({**cnn, "created": "later", ensemble.TRAIN_STATS_KEY: {"mean": 3.5, "std": 1.0}})
    oof = {"kind": ensemble.OOF_KIND, "inner_folds": ensemble.INNER_FOLDS, "seed": lr["seed"],
           "member_record": ensemble.record_fingerprint(lr), "image": ["a", "b", "c"], "true": [1.0, 2.0, 3.0],
           "pred": [1.0, 2.0, 4.0]}
    ensemble.oof_path(store, ensemble.parse_member(f"{PIXELS}__lr", "").key, "60-40", "1").write_text(json.dumps(oof))
    assert main(["report", "--out", str(out), "--no-figures", "--resamples", "20",
                 "--ensemble", f"mix={PIXELS}__lr,fakenet"]) == 0
    mix = json.loads((out / "records" / "60-40" / "mix__ensemble" / "split-1.json").read_text())
    assert mix["recipe"] == "equal-std" and mix["ensemble"]["learned_from"] == "train_stats"
    assert mix["ensemble"]["members"][1]["train_stats"] == {"mean": 3.5, "std": 1.0}


def one_line_error(capsys, code, *fragments):
    err = capsys.readouterr().err.strip()
    assert code == 1 and len(err.splitlines()) == 1, err
    for fragment in fragments:
        assert fragment in err, err


def test_bad_ensembles_stop_with_one_line_and_write_nothing(tmp_path, fake, capsys):
    code, out = run_cli(tmp_path, fake, "--protocol", "60-40", "--ensemble", "duo")
    one_line_error(capsys, code, "--ensemble 'duo': no '='")
    assert not out.exists()
    code, out = run_cli(tmp_path, fake, "--protocol", "60-40", "--ensemble", f"duo={PIXELS}__lr,nope__svr")
    one_line_error(capsys, code, "--ensemble duo: row 'nope__svr': unknown feature 'nope'")
    assert not out.exists()
    code, out = run_cli(tmp_path, fake, "--protocol", "60-40", "--ensemble", f"duo={PIXELS}__lr,{PIXELS}__gr")
    one_line_error(capsys, code, f"row '{PIXELS}__gr' is not computed by this run")
    assert not out.exists()
    code, out = run_cli(tmp_path, fake, "--protocol", "60-40")
    assert code == 0
    before = snapshot(out)
    code = main(["report", "--out", str(out), "--ensemble", f"duo={PIXELS}__lr,{PIXELS}__xgb"])
    one_line_error(capsys, code, f"no stored records of row '{PIXELS}__xgb'", f"{PIXELS}__svr")
    code = main(["report", "--out", str(out), "--ensemble", f"duo={PIXELS}__lr"])
    one_line_error(capsys, code, "at least two rows")
    assert snapshot(out) == before


def test_list_explains_fusion_and_ensembles(capsys):
    assert main(["--list"]) == 0
    text = capsys.readouterr().out
    assert re.search(r"^  A\+B\+\.\.\. +early fusion: registered features joined by '\+'", text, re.M)
    assert "--ensemble NAME=ROW,ROW[,ROW...]" in text and "FEATURE__PREDICTOR" in text
    for method in ("nnls-oof", "equal-std", "equal-mean"):
        assert f"  {method}" in text


def test_run_on_a_pack_weights_stored_rows_without_refits(tmp_path, fake, capsys):
    """A pack has no hand-crafted features: the run's ensemble uses stored rows, with no out-of-fold fits."""
    from data.pack import pack_dataset

    code, out = run_cli(tmp_path, fake, "--protocol", "60-40")
    assert code == 0
    store = ResultStore(out)
    lr = json.loads((out / "records" / "60-40" / f"{PIXELS}__lr" / "split-1.json").read_text())
    store.write({**lr, "track": "cnn", "feature": "resnet18", "predictor": "cnn", "init": "scratch", "recipe": "cpu"})
    pack_dataset(fake, tmp_path / "pack")
    pack = tmp_path / "pack"
    capsys.readouterr()
    assert main(["--data-dir", str(pack), "--out", str(out), "--protocol", "60-40", "--features", "none",
                 "--models", "none", "--quiet", "--ensemble", f"mix={PIXELS}__lr,resnet18__cnn__scratch-cpu"]) == 0
    assert "a pack holds no hand-crafted features" in capsys.readouterr().err
    mix = json.loads((out / "records" / "60-40" / "mix__ensemble" / "split-1.json").read_text())
    assert mix["recipe"] == "equal-mean"
    assert not (out / "records" / "60-40" / f"{PIXELS}__lr" / "oof-split-1.json").exists()


def test_saved_ensemble_scores_like_its_record_and_checks_its_members(tmp_path, fake, capsys, monkeypatch):
    """--save-model with --ensemble writes a .ensemble file per split; loaded for predict it gives the
    record's test predictions (members re-run on the test images); a changed member file is refused."""
    from benchmark import model_io
    from data.scut import ScutFBP5500
    from predict import cli as predict_cli

    monkeypatch.setattr(model_io, "TRUSTED_PACKAGES", (*model_io.TRUSTED_PACKAGES, "tests"))  # synthetic features

    code, out = run_cli(tmp_path, fake, "--protocol", "60-40", "--ensemble", DUO, "--save-model")
    assert code == 0, capsys.readouterr().err
    path = out / "models" / "60-40" / "duo__ensemble" / "split-1.ensemble"
    assert path.is_file() and model_io.read_metadata(path)["kind"] == model_io.KIND_ENSEMBLE
    record = json.loads((out / "records" / "60-40" / "duo__ensemble" / "split-1.json").read_text())
    saved = predict_cli.SavedModel(path, model_io.read_metadata(path))
    assert [m.slug for m in saved.members] == [f"{PIXELS}__lr", f"{FUSED}__svr"] and saved.runnable
    scorer = saved.load()
    np.testing.assert_allclose(scorer.weights, record["ensemble"]["weights"])
    faces = ScutFBP5500(fake).records(record["predictions"]["image"])
    np.testing.assert_allclose(scorer.predict(faces), record["predictions"]["pred"], atol=1e-6)
    models, warnings = predict_cli.discover_models(out / "models")
    assert path in [m.path for m in models] and not warnings

    member = out / "models" / "60-40" / f"{PIXELS}__lr" / "split-1.skops"
    member.write_bytes(member.read_bytes() + b"x")
    models, warnings = predict_cli.discover_models(out / "models")
    assert path not in [m.path for m in models]
    assert any(str(path) in w and "changed since" in w for w in warnings)
    with pytest.raises(model_io.ModelFileError, match="changed since the ensemble was saved"):
        model_io.load_ensemble(path)


def test_ensemble_is_not_saved_without_its_members_models(tmp_path, fake, capsys):
    code, out = run_cli(tmp_path, fake, "--protocol", "60-40", "--ensemble", DUO)
    assert code == 0
    assert not (out / "models").exists()
