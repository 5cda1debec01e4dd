"""Late fusion: an ensemble row combines the test predictions of named member rows of the same split.

Syntax (on a run and on ``report``)::

    --ensemble NAME=ROW,ROW[,ROW ...]      (repeatable)

``ROW`` is a row as it appears in the records, spelled as its record folder name
(:attr:`benchmark.store.RowKey.slug`):

* ``FEATURE__PREDICTOR`` for a hand-crafted row: ``dlib-embed__svr``, ``dlib-embed+lbp__svr``
  (``+`` joins the blocks of a fused feature, so ``__`` separates the predictor);
* ``MODEL__cnn__INIT-RECIPE`` for a CNN row: ``mobilenet_v2__cnn__imagenet-cpu``; ``MODEL`` alone
  (or ``MODEL__cnn``) means the run's ``--init``/``--recipe`` on a run, and on ``report`` the one
  init/recipe stored for that model (an error when there are several).

An ensemble record (:class:`benchmark.record.Record`) has ``track="ensemble"``, ``feature=NAME``,
``predictor="ensemble"`` and ``recipe`` = its weighting method, so it is one more row in
``results.csv`` (whose ``members`` column lists the members) and in every table, figure, subset and
uncertainty view (all read the records), labelled ``NAME (ensemble, METHOD)``; the paired
permutation test against the best row applies to it like to any row.

How the weights are learned (only ever from the training part of the split)
---------------------------------------------------------------------------
The weighting is a registered *combiner* (:data:`COMBINERS`; ``--list`` shows them). The first
one, in order of preference, whose inputs every member has is used:

``nnls-oof``
    Every member has out-of-fold (OOF) predictions of the training part. On a run these are
    made for each hand-crafted member by inner :data:`INNER_FOLDS`-fold cross-validation of the
    training part (:func:`oof_predictions`: the member's whole pipeline, scaler and PCA
    included, refitted on each inner training fold and predicting the held-out inner fold;
    the function is only ever given the training rows). The weights are non-negative least
    squares with a free intercept (:class:`NNLSStacking`) on those OOF predictions against the
    training labels; they are then applied to the members' stored test predictions (each
    member fitted on the whole training part, as in its own record). The OOF predictions are
    stored beside the member's record (``records/<protocol>/<row>/oof-split-<k>.json``; they hold
    training labels, so like the records they are git-ignored), so a rerun, and ``report``,
    reuse them.
``equal-std``
    Every member has the mean and standard deviation of its predictions on the training part
    (hand-crafted members: of their OOF predictions; CNN records: the optional key
    ``train_pred_stats = {"mean": .., "std": ..}``): equal weights on predictions standardised
    with those statistics, mapped back to the score scale with the members' mean statistics.
``equal-mean``
    Otherwise (CNN members, which are too costly to retrain on inner folds on a CPU, without
    ``train_pred_stats``; or ``report`` on a store without OOF predictions): the plain mean of
    the members' predictions. Nothing is learned, so nothing can leak.

Test labels and test predictions never reach a combiner's ``fit``; ``report`` never refits a
member (it only reads records and OOF files), so building an ensemble there costs the reading of
its members' records.

A stored ensemble record is reused (not recomputed) while its members, their records (creation
time, seed and predictions: :func:`record_fingerprint`) and the weighting method that would be used
are unchanged (``--force`` recomputes on a run); OOF files likewise belong to one member record.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from joblib import Parallel, delayed
from scipy.optimize import nnls
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.model_selection import KFold
from sklearn.utils.validation import check_is_fitted
from tqdm.auto import tqdm

from benchmark.metrics import score_all
from benchmark.record import CNN, ENSEMBLE, HANDCRAFTED, Predictions, Record, RowKey, as_record
from benchmark.store import ResultStore, _safe, write_json
from core.errors import ConfigError, DataError
from core.provenance import now_iso
from core.registry import Registry

#: Registered ways to weight an ensemble's members (``fbp.ensembles`` entry points add more).
COMBINERS: Registry = Registry("ensemble weighting", entry_point_group="fbp.ensembles")

TRACK = PREDICTOR = ENSEMBLE
#: Inner cross-validation folds of the training part for out-of-fold predictions.
INNER_FOLDS = 5
OOF_KIND = "fbp-bench-oof"
OOF_PREFIX = "oof-"
#: What a combiner needs from every member.
NEEDS_OOF, NEEDS_STATS, NEEDS_NOTHING = "oof", "train_stats", "nothing"
#: Record key of a CNN (or any) record holding its training-part prediction statistics.
TRAIN_STATS_KEY = "train_pred_stats"
SYNTAX = "NAME=ROW,ROW[,ROW...]"
ROW_HELP = ("ROW as in records: FEATURE__PREDICTOR (e.g. dlib-embed__svr, dlib-embed+lbp__svr) or "
            "MODEL__cnn__INIT-RECIPE (e.g. mobilenet_v2__cnn__imagenet-cpu; MODEL alone: the run's "
            "--init/--recipe, or on report the one stored)")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


# --------------------------------------------------------------------------- combiners


class Combiner(RegressorMixin, BaseEstimator):
    """Base of the ensemble weightings: ``predict(P) = P @ weights_ + intercept_``.

    ``P`` has one column per member (its predictions of the same images). Subclasses set
    ``needs`` (what every member must provide: :data:`NEEDS_OOF`, :data:`NEEDS_STATS` or
    :data:`NEEDS_NOTHING`) and ``preference`` (lower is tried first), and learn ``weights_``
    and ``intercept_`` in :meth:`fit` (training-part predictions) or :meth:`fit_summary`
    (training-part statistics).
    """

    needs: ClassVar[str] = NEEDS_NOTHING
    preference: ClassVar[int] = 100

    def fit(self, P: np.ndarray, y: np.ndarray) -> Combiner:
        """Learn the weights from training-part predictions ``P`` (n, members) and labels ``y``."""
        P = _matrix(P)
        return self.fit_summary(P.shape[1], P.mean(axis=0), P.std(axis=0))

    def fit_summary(self, n_members: int, means: Sequence[float] | None = None,
                    stds: Sequence[float] | None = None) -> Combiner:
        """Learn the weights from per-member training-part prediction statistics only."""
        raise NotImplementedError(f"{type(self).__name__} needs per-image training-part predictions")

    def predict(self, P: np.ndarray) -> np.ndarray:
        """Combined predictions, shape (n,)."""
        check_is_fitted(self, "weights_")
        return _matrix(P) @ self.weights_ + self.intercept_

    def _set(self, weights: np.ndarray, intercept: float) -> Combiner:
        self.weights_ = np.asarray(weights, dtype=np.float64)
        self.intercept_ = float(intercept)
        self.n_features_in_ = self.weights_.size
        return self


@COMBINERS.register("nnls-oof")
class NNLSStacking(Combiner):
    """Non-negative least squares with a free intercept on the members' out-of-fold training predictions."""

    needs = NEEDS_OOF
    preference = 0

    def fit(self, P: np.ndarray, y: np.ndarray) -> NNLSStacking:
        """Weights >= 0 minimising ``||y - P w - b||``: NNLS on centred columns, then ``b``.

        If every weight comes out zero (no member correlates positively with the labels), the
        weights fall back to equal (``fallback_`` is then True).
        """
        P = _matrix(P)
        y = np.asarray(y, dtype=np.float64).ravel()
        if len(y) != len(P) or len(y) < 2:
            raise ValueError(f"need >= 2 training rows with one label each, got {P.shape} and {y.shape}")
        p_mean, y_mean = P.mean(axis=0), float(y.mean())
        weights, _ = nnls(P - p_mean, y - y_mean)
        self.fallback_ = not bool(np.any(weights > 0))
        if self.fallback_:
            weights = np.full(P.shape[1], 1.0 / P.shape[1])
        return self._set(weights, y_mean - float(p_mean @ weights))


@COMBINERS.register("equal-std")
class StandardisedMean(Combiner):
    """Equal weights on predictions standardised with training-part statistics of each member."""

    needs = NEEDS_STATS
    preference = 1

    def fit_summary(self, n_members: int, means: Sequence[float] | None = None,
                    stds: Sequence[float] | None = None) -> StandardisedMean:
        """``pred = mean(mu) + mean(sd) * mean_m((p_m - mu_m) / sd_m)``, written as weights and intercept."""
        if means is None or stds is None:
            raise ValueError("equal-std needs the mean and std of every member's training-part predictions")
        mu = np.asarray(means, dtype=np.float64)
        sd = np.asarray(stds, dtype=np.float64)
        if mu.shape != (n_members,) or sd.shape != (n_members,) or not np.all(sd > 0):
            raise ValueError(f"need {n_members} means and positive stds, got {mu} and {sd}")
        self.means_, self.stds_ = mu, sd
        weights = sd.mean() / (n_members * sd)
        return self._set(weights, mu.mean() - float(weights @ mu))


@COMBINERS.register("equal-mean")
class EqualMean(Combiner):
    """Plain mean of the members' predictions (equal weights, nothing learned)."""

    needs = NEEDS_NOTHING
    preference = 2

    def fit(self, P: np.ndarray, y: np.ndarray | None = None) -> EqualMean:
        return self.fit_summary(_matrix(P).shape[1])

    def fit_summary(self, n_members: int, means: Sequence[float] | None = None,
                    stds: Sequence[float] | None = None) -> EqualMean:
        return self._set(np.full(n_members, 1.0 / n_members), 0.0)


def _matrix(P: Any) -> np.ndarray:
    P = np.asarray(P, dtype=np.float64)
    if P.ndim != 2 or P.shape[1] < 1:
        raise ValueError(f"expected a (n_samples, n_members) matrix, got shape {P.shape}")
    return P


def choose_combiner(has_oof: bool, has_stats: bool) -> str:
    """The registered combiner of lowest ``preference`` whose needs are met."""
    met = {NEEDS_OOF: has_oof, NEEDS_STATS: has_stats or has_oof, NEEDS_NOTHING: True}
    usable = [n for n in COMBINERS.list() if met.get(COMBINERS.get(n).needs, False)]
    return min(usable, key=lambda n: (COMBINERS.get(n).preference, n))


# --------------------------------------------------------------------------- syntax


@dataclass(frozen=True)
class Member:
    """One member row: ``feature`` and ``predictor`` of a hand-crafted row, ``model`` of a CNN row.

    ``init``/``recipe`` are None for a CNN shorthand not yet resolved.
    """

    text: str
    track: str
    feature: str
    predictor: str
    init: str | None = ""
    recipe: str | None = ""
    model: str = ""

    @property
    def resolved(self) -> bool:
        return self.init is not None and self.recipe is not None

    @property
    def key(self) -> RowKey:
        if not self.resolved:
            raise ValueError(f"member {self.text!r}: init/recipe not resolved")
        if self.track == CNN:
            return RowKey.cnn(self.model, self.init or "", self.recipe or "")
        return RowKey.handcrafted(self.feature, self.predictor)

    @property
    def slug(self) -> str:
        return self.key.slug


@dataclass(frozen=True)
class EnsembleSpec:
    """``NAME=ROW,ROW,...`` parsed."""

    name: str
    members: tuple[Member, ...]

    @property
    def key(self) -> RowKey:
        return RowKey.ensemble(self.name)


def _syntax_error(text: str, problem: str) -> ConfigError:
    return ConfigError(f"--ensemble {text!r}: {problem} (expected {SYNTAX}; {ROW_HELP})")


def parse_member(text: str, spec_text: str) -> Member:
    """One member row name (syntax only; names are checked against registries or records later)."""
    parts = text.split("__")
    if any(not p for p in parts):
        raise _syntax_error(spec_text, f"bad row {text!r}")
    if len(parts) == 1:
        return Member(text, CNN, "", "cnn", None, None, model=parts[0])
    if len(parts) == 2:
        feature, predictor = parts
        if predictor == PREDICTOR:
            raise _syntax_error(spec_text, f"row {text!r} is an ensemble; members are hand-crafted or CNN rows")
        if predictor == "cnn":
            return Member(text, CNN, "", "cnn", None, None, model=feature)
        return Member(text, HANDCRAFTED, feature, predictor)
    if len(parts) == 3 and parts[1] == "cnn":
        init, _, recipe = parts[2].partition("-")
        if not init or not recipe:
            raise _syntax_error(spec_text, f"row {text!r}: a CNN row ends in __INIT-RECIPE (e.g. __imagenet-cpu)")
        return Member(text, CNN, "", "cnn", init, recipe, model=parts[0])
    raise _syntax_error(spec_text, f"bad row {text!r}")


def parse_ensemble(text: str) -> EnsembleSpec:
    """Parse one ``--ensemble`` value (syntax only).

    Raises
    ------
    ConfigError
        One line naming the value and the problem.
    """
    name, eq, rest = text.partition("=")
    name = name.strip()
    if not eq:
        raise _syntax_error(text, "no '='")
    if not _NAME.match(name) or "__" in name:
        raise _syntax_error(text, f"ensemble name {name!r} must be letters, digits, '.', '_' or '-' (no '__')")
    rows = [r.strip() for r in rest.split(",")]
    if any(not r for r in rows):
        raise _syntax_error(text, "empty row")
    if len(rows) < 2:
        raise _syntax_error(text, "an ensemble needs at least two rows")
    repeated = sorted({r for r in rows if rows.count(r) > 1})
    if repeated:
        raise _syntax_error(text, f"row {repeated[0]!r} appears more than once")
    return EnsembleSpec(name, tuple(parse_member(r, text) for r in rows))


def parse_ensembles(values: Iterable[str] | None) -> list[EnsembleSpec]:
    """Parse every ``--ensemble`` value; names must be distinct."""
    specs = [parse_ensemble(v) for v in values or []]
    names = [s.name for s in specs]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ConfigError(f"--ensemble: name {repeated[0]!r} is given more than once")
    return specs


def help_lines() -> list[str]:
    """``--list`` lines: the syntax and the registered weightings."""
    lines = [f"ensembles (--ensemble {SYNTAX}, on a run and on report; {ROW_HELP}); weighting, the first "
             "whose inputs every member has:"]
    order = sorted(COMBINERS.list(), key=lambda n: (COMBINERS.get(n).preference, n))
    lines += [f"  {n:<12} {COMBINERS.describe(n)}" for n in order]
    return lines


# --------------------------------------------------------------------------- stored rows


def _resolve_stored_cnn(member: Member, stored: dict[str, list[Path]], spec: EnsembleSpec) -> Member | None:
    """A CNN shorthand resolved to the one stored init/recipe; None when none is stored."""
    prefix = f"{_safe(member.model)}__cnn__"
    options = sorted(s for s in stored if s.startswith(prefix))
    if not options:
        return None
    if len(options) > 1:
        raise ConfigError(f"--ensemble {spec.name}: row {member.text!r} is ambiguous; name one of "
                          f"{', '.join(options)}")
    init, _, recipe = options[0][len(prefix):].partition("-")
    return replace(member, init=init, recipe=recipe)


def _listing(stored: dict[str, list[Path]]) -> str:
    rows = sorted(s for s in stored if not s.endswith(f"__{PREDICTOR}"))
    return ", ".join(rows[:12]) + (" ..." if len(rows) > 12 else "") if rows else "none"


def resolve_stored(specs: Sequence[EnsembleSpec], store: ResultStore) -> list[EnsembleSpec]:
    """``report``: every member must have stored records (CNN shorthands resolved from them).

    Raises
    ------
    ConfigError
        One line naming the ensemble and the unknown or ambiguous row, with the stored rows.
    """
    stored = store.rows()
    out = []
    for spec in specs:
        members = []
        for m in spec.members:
            if not m.resolved:
                resolved = _resolve_stored_cnn(m, stored, spec)
                m = resolved or m
            if not m.resolved or _safe(m.slug) not in stored:
                raise ConfigError(f"--ensemble {spec.name}: no stored records of row {m.text!r} in "
                                  f"{store.records_dir} (stored rows: {_listing(stored)})")
            members.append(m)
        out.append(replace(spec, members=tuple(members)))
    return out


def check_run_members(specs: Sequence[EnsembleSpec], config: Any, store: ResultStore) -> list[EnsembleSpec]:
    """A run: each member must be a registered row that this run computes or that is stored.

    Hand-crafted members: the feature (or fusion) and predictor must be registered; the row is in
    the run when the feature is in ``--features`` and the predictor in ``--predictors``. CNN
    members: the model must be registered; a shorthand is in the run when the model is in
    ``--models`` (it is then resolved to the run's init/recipe after the CNN track), else it is
    resolved from the stored records.

    Raises
    ------
    ConfigError
        One line, before anything is written.
    """
    from benchmark.fusion import canonical_name
    from models import PREDICTORS

    stored = store.rows()
    out = []
    for spec in specs:
        members = []
        for m in spec.members:
            try:
                if m.track == HANDCRAFTED:
                    m = replace(m, feature=canonical_name(m.feature))
                    PREDICTORS.get(m.predictor)
                else:
                    from models.cnn import CNNS

                    CNNS.get(m.model)
            except ConfigError as err:
                raise ConfigError(f"--ensemble {spec.name}: row {m.text!r}: {err}") from None
            if m.track == HANDCRAFTED:
                in_run = m.feature in config.features and m.predictor in config.predictors
            else:
                in_run = m.model in config.models and (
                    not m.resolved or (m.init == config.row_init and m.recipe in (None, config.recipe)))
                if not m.resolved and not in_run:
                    m = _resolve_stored_cnn(m, stored, spec) or m
            if not in_run and not (m.resolved and _safe(m.slug) in stored):
                where = ("--features/--predictors" if m.track == HANDCRAFTED else "--models with this --init/--recipe")
                raise ConfigError(f"--ensemble {spec.name}: row {m.text!r} is not computed by this run ({where}) "
                                  f"and has no stored record in {store.records_dir}")
            members.append(m)
        out.append(replace(spec, members=tuple(members)))
    return out


# --------------------------------------------------------------------------- out-of-fold predictions


def oof_path(store: ResultStore, key: RowKey, protocol: str, split: str) -> Path:
    """``records/<protocol>/<row>/oof-split-<k>.json`` beside the member's record."""
    record = store.path(key, protocol, split)
    return record.with_name(OOF_PREFIX + record.name)


def read_oof(store: ResultStore, key: RowKey, member_record: Record,
             inner_folds: int = INNER_FOLDS) -> dict[str, Any] | None:
    """The stored OOF predictions of a member on its record's split, if they match that record.

    They match when made with ``inner_folds`` folds and the record's seed for the record as it
    is now (same :func:`record_fingerprint`); otherwise None (they would be recomputed on a run).
    """
    path = oof_path(store, key, member_record.protocol, member_record.split)
    if not path.is_file():
        return None
    try:
        oof = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise DataError(f"{path}: corrupt out-of-fold predictions ({err})") from None
    valid = (isinstance(oof, dict) and oof.get("kind") == OOF_KIND and oof.get("inner_folds") == inner_folds
             and oof.get("seed") == member_record.seed
             and oof.get("member_record") == record_fingerprint(member_record))
    return oof if valid else None


def oof_predictions(feature: str, predictor: str, X_train: np.ndarray, y_train: np.ndarray, *,
                    widths: Sequence[int] = (), pca_components: int, seed: int,
                    inner_folds: int = INNER_FOLDS) -> np.ndarray:
    """Out-of-fold predictions of one hand-crafted row on the training part of a split.

    The row's whole pipeline (scaler, PCA, predictor with its own tuning) is refitted on each
    inner training fold and predicts the held-out inner fold. Only the training part is passed
    in, so nothing of the test part can reach these fits.

    Parameters
    ----------
    X_train : ndarray of shape (n_train, n_features)
        The training part's features (fused blocks concatenated).
    y_train : ndarray of shape (n_train,)
        The training part's labels.
    widths : sequence of int
        Block widths of a fused feature.

    Returns
    -------
    ndarray of shape (n_train,)
    """
    from benchmark.pipeline import build_model, create_extractor

    extractor = create_extractor(feature)
    oof = np.full(len(y_train), np.nan)
    folds = KFold(n_splits=inner_folds, shuffle=True, random_state=seed)
    for inner_train, inner_val in folds.split(X_train):
        model = build_model(extractor, predictor, pca_components, seed, widths or None)
        model.fit(X_train[inner_train], y_train[inner_train])
        oof[inner_val] = model.predict(X_train[inner_val])
    return oof


# --------------------------------------------------------------------------- combining


def _aligned(values: Predictions | Mapping[str, Any], images: Sequence[str], where: str) -> np.ndarray:
    """The predictions of ``values`` (a record's, or OOF ``{"image", "pred"}``) in the order of ``images``.

    Raises
    ------
    DataError
        If ``values`` predicts another set of images.
    """
    image_list = values.image if isinstance(values, Predictions) else values["image"]
    pred_list = values.pred if isinstance(values, Predictions) else values["pred"]
    pred = dict(zip((str(i) for i in image_list), pred_list, strict=True))
    if len(pred) != len(images) or any(i not in pred for i in images):
        raise DataError(f"{where}: predicts other images than the ensemble's first member")
    return np.array([pred[i] for i in images], dtype=np.float64)


def _train_stats(record: Record, oof: dict[str, Any] | None) -> dict[str, float] | None:
    """Mean and std of a member's training-part predictions: from its OOF predictions, else its record."""
    if oof is not None:
        pred = np.asarray(oof["pred"], dtype=np.float64)
        return {"mean": float(pred.mean()), "std": float(pred.std())}
    stats = record.train_pred_stats
    if isinstance(stats, dict) and {"mean", "std"} <= set(stats) and float(stats["std"]) > 0:
        return {"mean": float(stats["mean"]), "std": float(stats["std"])}
    return None


def record_fingerprint(record: Record | Mapping[str, Any]) -> str:
    """Identifies a member record as stored: its creation time, seed, test images and predictions."""
    record = as_record(record)
    preds = record.predictions
    payload = json.dumps([record.created, record.seed, preds.image if preds else None, preds.pred if preds else None])
    return hashlib.sha1(payload.encode()).hexdigest()[:16]


def inputs_of(spec: EnsembleSpec, records: Sequence[Record], method: str) -> dict[str, Any]:
    """What an ensemble record was made from; a stored record with other inputs is recomputed."""
    return {"members": [m.slug for m in spec.members], "member_records": [record_fingerprint(r) for r in records],
            "method": method}


def combine(spec: EnsembleSpec, records: Sequence[Record], oofs: Sequence[dict[str, Any] | None], *,
            store: ResultStore, commit: str = "", oof_seconds: float = 0.0) -> Record:
    """The ensemble record of one split from its members' records (and OOF predictions).

    Parameters
    ----------
    records : sequence of Record
        The members' records of this split, in member order.
    oofs : sequence of dict or None
        Each member's OOF predictions of the training part (:func:`read_oof`), or None.

    Returns
    -------
    Record
        A record like the others, ``track="ensemble"``, with an ``ensemble`` section: members,
        weights, intercept, weighting method and what it was learned from.

    Raises
    ------
    DataError
        If a member record holds no test predictions, or predicts other images than the first.
    """
    from benchmark.pipeline import jsonable_params

    first = records[0]
    protocol, split = first.protocol, first.split
    where = [store.path(m.key, protocol, split) for m in spec.members]
    for r, w in zip(records, where, strict=True):
        if r.predictions is None:
            raise DataError(f"{w}: holds no test predictions to combine")
    images = [str(i) for i in first.predictions.image]
    true = np.asarray(first.predictions.true, dtype=np.float64)
    P_test = np.column_stack([_aligned(r.predictions, images, str(w)) for r, w in zip(records, where, strict=True)])
    stats = [_train_stats(r, o) for r, o in zip(records, oofs, strict=True)]
    method = choose_combiner(all(o is not None for o in oofs), all(s is not None for s in stats))
    combiner = COMBINERS.create(method)
    t0 = time.perf_counter()
    n_oof = 0
    if combiner.needs == NEEDS_OOF:
        train_images = [str(i) for i in oofs[0]["image"]]
        P_train = np.column_stack([_aligned(o, train_images, f"{oof_path(store, m.key, protocol, split)}")
                                   for m, o in zip(spec.members, oofs, strict=True)])
        combiner.fit(P_train, np.asarray(oofs[0]["true"], dtype=np.float64))  # training part only
        n_oof = len(train_images)
    elif combiner.needs == NEEDS_STATS:
        combiner.fit_summary(len(spec.members), [s["mean"] for s in stats], [s["std"] for s in stats])
    else:
        combiner.fit_summary(len(spec.members))
    t1 = time.perf_counter()
    pred = combiner.predict(P_test)
    t2 = time.perf_counter()
    source = {NEEDS_OOF: "oof", NEEDS_STATS: "train_stats", NEEDS_NOTHING: "none"}[combiner.needs]
    fallback_train = sorted({n for r in records for n in (r.landmark_fallback or {}).get("train", [])})
    fallback_test = sorted({n for r in records for n in (r.landmark_fallback or {}).get("test", [])})
    return Record(
        track=TRACK, feature=spec.name, predictor=PREDICTOR, recipe=method, protocol=protocol, split=split,
        metrics=score_all(true, pred), n_train=first.n_train, n_test=len(images), seed=first.seed,
        timings={"fit_s": round(oof_seconds + t1 - t0, 4), "oof_s": round(oof_seconds, 4),
                 "predict_s": round(t2 - t1, 6)},
        config={"ensemble": {"name": spec.name, "members": [m.slug for m in spec.members], "method": method,
                             "inner_folds": INNER_FOLDS if n_oof else None},
                "model": jsonable_params(combiner)},
        ensemble={
            "method": method, "method_description": COMBINERS.describe(method), "learned_from": source,
            "n_train_predictions": n_oof, "intercept": combiner.intercept_,
            "weights": [float(w) for w in combiner.weights_],
            "members": [{"row": m.slug, "track": m.track, "weight": float(w), "record_created": r.created,
                         "train_stats": s}
                        for m, r, w, s in zip(spec.members, records, combiner.weights_, stats, strict=True)],
            "inputs": inputs_of(spec, records, method),
        },
        landmark_fallback={"train": fallback_train, "test": fallback_test},
        predictions=Predictions(images, [float(v) for v in true], [float(v) for v in pred]),
        created=now_iso(), git_commit=commit or first.git_commit or "",
    )


def _up_to_date(store: ResultStore, spec: EnsembleSpec, records: Sequence[Record], method: str) -> bool:
    first = records[0]
    existing = store.read(spec.key, first.protocol, first.split)
    return existing is not None and (existing.ensemble or {}).get("inputs") == inputs_of(spec, records, method)


def _planned_method(spec: EnsembleSpec, records: Sequence[Record], oof_possible: Sequence[bool]) -> str:
    has_oof = all(oof_possible)
    has_stats = all(o or _train_stats(r, None) is not None for r, o in zip(records, oof_possible, strict=True))
    return choose_combiner(has_oof, has_stats)


@dataclass
class _Plan:
    spec: EnsembleSpec
    records: list[Record]


def _note(message: str) -> None:
    print(f"note: {message}", file=sys.stderr, flush=True)


def _member_records(spec: EnsembleSpec, store: ResultStore, protocol: str, split: str) -> list[Record] | None:
    records = [store.read(m.key, protocol, split) for m in spec.members]
    missing = [m.slug for m, r in zip(spec.members, records, strict=True) if r is None]
    if missing:
        _note(f"ensemble {spec.name} skipped on {protocol}/{split}: no record of {', '.join(missing)}")
        return None
    return records  # type: ignore[return-value]


def build_from_store(store: ResultStore, specs: Sequence[EnsembleSpec]) -> int:
    """``report --ensemble``: ensemble records from stored records alone (no refit, no dataset).

    Members must all have records (checked first: an unknown row writes nothing). Each split
    where every member has a record gets an ensemble record, weighted with stored OOF
    predictions where every member has them (``nnls-oof``), else as the module docstring says.

    Returns
    -------
    int
        Ensemble records written (up-to-date ones are kept as they are).
    """
    specs = resolve_stored(specs, store)
    written = 0
    for spec in specs:
        first = spec.members[0]
        splits = sorted({(r.protocol, r.split) for r in store.records(first.key)})
        for protocol, split in splits:
            records = _member_records(spec, store, protocol, split)
            if records is None:
                continue
            oofs = [read_oof(store, m.key, r) if m.track == HANDCRAFTED else None
                    for m, r in zip(spec.members, records, strict=True)]
            method = _planned_method(spec, records, [o is not None for o in oofs])
            if _up_to_date(store, spec, records, method):
                continue
            store.write(combine(spec, records, oofs, store=store))
            written += 1
    return written


def run_ensembles(config: Any, dataset: Any, protocols: Sequence[Sequence[Any]], store: ResultStore,
                  commit: str) -> int:
    """The ensemble stage of a run (after the hand-crafted and CNN tracks); returns records written.

    For each ensemble and selected split whose members all have records: the hand-crafted
    members' OOF predictions of the training part are computed where missing (in parallel,
    ``config.jobs``; features from the feature cache) when the weighting can use them, stored
    beside the members' records, then the ensemble record is written.
    """
    if not config.ensembles:
        return 0
    stored = store.rows()
    specs = []
    for spec in config.ensembles:  # CNN shorthands: the run's init/recipe, else the one stored
        members = [m if m.resolved else replace(m, init=config.row_init, recipe=config.recipe) for m in spec.members]
        members = [m if m.resolved else (_resolve_stored_cnn(m, stored, spec) or m) for m in members]
        specs.append(replace(spec, members=tuple(members)))
    refit = hasattr(dataset, "records")  # a pack (python -m data.pack) has no hand-crafted features
    if not refit and any(m.track == HANDCRAFTED for s in specs for m in s.members):
        _note(f"{getattr(dataset, 'root', 'the data folder')}: a pack holds no hand-crafted features, so no "
              "out-of-fold predictions are made here; hand-crafted members are weighted without them")
    plans: list[_Plan] = []
    for spec in specs:
        unresolved = [m.text for m in spec.members if not m.resolved]
        if unresolved:  # a CNN shorthand whose track did not run here (no CUDA device) and is not stored
            _note(f"ensemble {spec.name} skipped: no CNN records of {', '.join(unresolved)} in this run")
            continue
        for split in (s for p in protocols for s in p):
            records = _member_records(spec, store, split.protocol, split.name)
            if records is None:
                continue
            possible = [refit and m.track == HANDCRAFTED or read_oof(store, m.key, r) is not None
                        for m, r in zip(spec.members, records, strict=True)]
            if config.force or not _up_to_date(store, spec, records, _planned_method(spec, records, possible)):
                plans.append(_Plan(spec, records))
    if not plans:
        return 0
    seconds = _compute_oof(config, dataset, protocols, store, plans) if refit else {}
    for plan in plans:
        oofs = [read_oof(store, m.key, r) if m.track == HANDCRAFTED else None
                for m, r in zip(plan.spec.members, plan.records, strict=True)]
        spent = sum(seconds.get((m.slug, r.protocol, r.split), 0.0)
                    for m, r in zip(plan.spec.members, plan.records, strict=True))
        record = combine(plan.spec, plan.records, oofs, store=store, commit=commit, oof_seconds=spent)
        store.write(record)
        if getattr(config, "save_model", False):
            from benchmark.model_io import save_ensemble

            if save_ensemble(store.out_dir, record.to_dict()) is None:
                _note(f"ensemble {plan.spec.name} not saved on {record.protocol}/{record.split}: "
                      "a member's model was not saved (run its row with --save-model too)")
    return len(plans)


def _compute_oof(config: Any, dataset: Any, protocols: Sequence[Sequence[Any]], store: ResultStore,
                 plans: Sequence[_Plan]) -> dict[tuple[str, str, str], float]:
    """Compute and store the OOF predictions the plans can use; returns seconds per (row, protocol, split)."""
    from benchmark.feature_cache import FeatureCache
    from benchmark.fusion import fused_matrices

    splits = {(s.protocol, s.name): s for p in protocols for s in p}
    todo: dict[tuple[str, str, str], tuple[Member, Any, Record]] = {}
    for plan in plans:
        possible = [m.track == HANDCRAFTED for m in plan.spec.members]
        if _planned_method(plan.spec, plan.records, possible) == choose_combiner(False, False):
            continue  # the weighting would not use them (e.g. a CNN member without training statistics)
        for m, r in zip(plan.spec.members, plan.records, strict=True):
            k = (m.slug, r.protocol, r.split)
            if m.track == HANDCRAFTED and k not in todo and (config.force or read_oof(store, m.key, r) is None):
                todo[k] = (m, splits[(k[1], k[2])], r)
    if not todo:
        return {}
    position = {n: i for i, n in enumerate(dataset.names)}
    names = sorted({n for _, s, _ in todo.values() for n in s.train}, key=position.__getitem__)
    row_of = {n: i for i, n in enumerate(names)}
    y = np.array([dataset.labels[n] for n in names])
    features = list(dict.fromkeys(m.feature for m, _, _ in todo.values()))
    matrices = fused_matrices(features, FeatureCache(config.cache_dir), dataset.records(names), jobs=config.jobs,
                              progress=config.progress)
    items = list(todo.items())
    rows = {k: np.array([row_of[n] for n in s.train]) for k, (_, s, _) in items}  # training part only
    results = Parallel(n_jobs=config.jobs, return_as="generator")(
        delayed(_oof_task)(m.feature, m.predictor, matrices[m.feature].values[rows[k]], y[rows[k]],
                           matrices[m.feature].widths, config.pca_components,
                           int(config.seed if r.seed is None else r.seed))
        for k, (m, _, r) in items)
    seconds = {}
    bar = tqdm(total=len(items), desc="ensemble out-of-fold fits", unit="row", disable=not config.progress)
    for (k, (m, s, record)), (pred, spent) in zip(items, results, strict=True):
        write_json(oof_path(store, m.key, k[1], k[2]), {
            "kind": OOF_KIND, "row": m.slug, "protocol": k[1], "split": k[2], "inner_folds": INNER_FOLDS,
            "seed": record.seed, "pca_components": config.pca_components,
            "member_record": record_fingerprint(record),
            "image": list(s.train), "true": [float(dataset.labels[n]) for n in s.train],
            "pred": [float(v) for v in pred], "seconds": round(spent, 3), "created": now_iso(),
        })
        seconds[k] = spent
        bar.update(1)
    bar.close()
    return seconds


def _oof_task(feature: str, predictor: str, X_train: np.ndarray, y_train: np.ndarray, widths: tuple[int, ...],
              pca_components: int, seed: int) -> tuple[np.ndarray, float]:
    t0 = time.perf_counter()
    pred = oof_predictions(feature, predictor, X_train, y_train, widths=widths, pca_components=pca_components,
                           seed=seed)
    return pred, time.perf_counter() - t0
