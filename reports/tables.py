"""The table model: cells independent of the output format, and the vocabulary every table shares.

A :class:`Table` holds already formatted cells; :mod:`reports.markdown` and :mod:`reports.latex`
write it, :mod:`reports.table_files` writes a Markdown/LaTeX pair of files. This module also
holds what turns stored results into table rows:

* value formatting (:data:`DECIMALS` decimals, signed differences, ``mean ± std``) and the
  "best value" mask of a column, compared as displayed;
* row labels (:func:`pairing_label`) and the normalised results frame
  (:func:`normalise_results`): one row per (pairing x split) with the columns ``track``,
  ``feature``, ``predictor``, ``init``, ``recipe``, ``protocol``, ``split``, ``pc``, ``mae``,
  ``rmse``, and optionally ``model``, ``n_train``, ``n_test`` and ``members``;
* the display order of rows, splits and protocols, protocol titles (with split sizes from the
  data, :func:`split_sizes`) and the notes every table of a protocol carries.

The renderers never compute a metric from predictions: they receive stored metrics and only
aggregate (mean, sample standard deviation), compare with the paper's numbers and format.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from benchmark.metrics import METRICS
from data.protocols import PROTOCOLS, SPLITS_DIR, TEN_FOLD_METHOD

REQUIRED_COLUMNS = ("track", "feature", "predictor", "protocol", "split", "pc", "mae", "rmse")
OPTIONAL_TEXT_COLUMNS = ("init", "recipe")
#: Fields that name a row (with ``model``, which names a CNN row where present, see :func:`row_fields`).
ROW_FIELDS = ("track", "feature", "predictor", "init", "recipe")
METRIC_TITLES = {"pc": "PC", "mae": "MAE", "rmse": "RMSE"}
DECIMALS = 4

TRACK_ORDER = {"handcrafted": 0, "cnn": 1, "ensemble": 2}
PREDICTOR_ORDER = {"lr": 0, "gr": 1, "svr": 2, "xgb": 3, "cnn": 4, "ensemble": 5}
#: Named protocols first, in the order of :data:`data.protocols.PROTOCOLS` (5fold, 60-40, 10fold).
PROTOCOL_ORDER = {name: i for i, name in enumerate(PROTOCOLS)}
#: Protocol titles; split sizes are added from the data only (see :func:`protocol_title`).
PROTOCOL_TITLES = {name: p.title for name, p in PROTOCOLS.items()}
#: Optional result columns holding the train and test set sizes of a split.
SIZE_COLUMNS = ("n_train", "n_test")

OURS, PAPER, DELTA = "Ours", "Paper", "Δ"
AVERAGE = "Average"
INDEX_LABEL = "Pairing"

DELTA_NOTE = "Δ = ours - paper."
DELTA_AVERAGE_NOTE = "Δ = our Average (mean) - the paper's value."


@dataclass(frozen=True)
class Table:
    """A table of already formatted cells, independent of the output format.

    Attributes
    ----------
    cells : pandas.DataFrame
        String cells (``""`` for blank).  The index holds the row labels; column labels
        are strings or ``(group, sub)`` tuples for a two-level header.
    bold : pandas.DataFrame or None
        Boolean mask of the same shape as ``cells``: True where the cell is set in bold.
    title : str
        Panel heading (a Markdown ``##`` heading, or a LaTeX panel row).
    index_label : str
        Header of the row-label column.
    """

    cells: pd.DataFrame
    bold: pd.DataFrame | None = None
    title: str = ""
    index_label: str = INDEX_LABEL


# --------------------------------------------------------------------------- formatting


def one_line(text: object) -> str:
    """``text`` with every run of whitespace (newlines included) made one space."""
    return " ".join(str(text).split())


def format_value(value: float | None) -> str:
    """Format a metric with :data:`DECIMALS` decimals; blank for None or NaN."""
    if value is None or math.isnan(value):
        return ""
    return f"{value:.{DECIMALS}f}"


def format_delta(value: float | None) -> str:
    """Format a signed difference (``+0.0123`` / ``-0.0123``; ``0.0000`` when it rounds to zero)."""
    if value is None or math.isnan(value):
        return ""
    if round(value, DECIMALS) == 0:
        return format_value(0.0)
    return f"{value:+.{DECIMALS}f}"


def format_mean_std(mean: float, std: float) -> str:
    """Format ``mean ± std``; just the mean when the std is undefined (a single split)."""
    if math.isnan(mean):
        return ""
    if math.isnan(std):
        return format_value(mean)
    return f"{format_value(mean)} ± {format_value(std)}"


def best_mask(values: pd.Series, higher_is_better: bool) -> pd.Series:
    """Mark the best value(s) of a column, comparing values as displayed (rounded).

    Parameters
    ----------
    values : pandas.Series
        Numeric values, NaN where missing.
    higher_is_better : bool
        True for PC, False for MAE/RMSE.

    Returns
    -------
    pandas.Series
        Boolean mask; all False when fewer than two values are present (nothing to compare).
    """
    rounded = values.astype(float).round(DECIMALS)
    if rounded.count() < 2:
        return pd.Series(False, index=values.index)
    best = rounded.max() if higher_is_better else rounded.min()
    return rounded == best


# --------------------------------------------------------------------------- rows


def pairing_label(track: str, feature: str, predictor: str, init: str = "", recipe: str = "") -> str:
    """Row label of a pairing.

    ``"geom86 + svr"`` for hand-crafted pairings (``"dlib-embed+lbp + svr"`` for a fused
    feature), ``"resnet18 (CNN, init=imagenet, recipe=paper)"`` for CNN rows and
    ``"best (ensemble, nnls-oof)"`` for ensemble rows (``recipe`` holds the weighting method).
    """
    if track == "ensemble":
        return f"{feature} (ensemble, {recipe})" if recipe else f"{feature} (ensemble)"
    if track == "cnn" or predictor == "cnn":
        details = ["CNN"] + [f"{k}={v}" for k, v in (("init", init), ("recipe", recipe)) if v]
        return f"{feature} ({', '.join(details)})"
    return f"{feature} + {predictor}"


def _text(value: object) -> str:
    """A text field of a result; blank for None and NaN."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value)


def row_fields(row: Mapping[str, Any]) -> dict[str, str]:
    """The :data:`ROW_FIELDS` of one result (a record or a results row), in the one shape the tables use.

    A non-empty ``model`` names the row where ``feature`` does otherwise (a CNN row may carry its
    model name in ``model`` with ``feature`` empty): it becomes the ``feature``. A CNN row
    without a predictor gets ``predictor = "cnn"``. Missing fields are blank.
    """
    fields = {f: _text(row.get(f, "")) for f in ROW_FIELDS}
    model = _text(row.get("model", ""))
    if model:
        fields["feature"] = model
    if fields["track"] == "cnn" and not fields["predictor"]:
        fields["predictor"] = "cnn"
    return fields


def normalise_results(results: pd.DataFrame) -> pd.DataFrame:
    """Validate the results frame and return a clean copy with a ``pairing`` label column.

    Text fields are made strings (blank where missing) and rows are put in one shape with
    :func:`row_fields`, so a CNN row named by a ``model`` column reads like one named by
    ``feature``.

    Raises
    ------
    ValueError
        If a required column is missing or a (protocol, pairing, split) appears twice.
    """
    missing = [c for c in REQUIRED_COLUMNS if c not in results.columns]
    if missing:
        raise ValueError(f"results lack required column(s): {', '.join(missing)}")
    frame = results.reset_index(drop=True)
    for column in OPTIONAL_TEXT_COLUMNS:
        frame[column] = frame[column].fillna("").astype(str) if column in frame else ""
    for column in ("track", "feature", "predictor", "protocol", "split"):
        frame[column] = frame[column].fillna("").astype(str)
    named = frame[list(ROW_FIELDS)].assign(model=frame["model"] if "model" in frame else "")
    frame[list(ROW_FIELDS)] = pd.DataFrame([row_fields(r) for r in named.to_dict("records")],
                                           columns=list(ROW_FIELDS), index=frame.index)
    for metric in METRICS:
        frame[metric] = pd.to_numeric(frame[metric]).astype(float)
    frame["pairing"] = [pairing_label(*r) for r in frame[list(ROW_FIELDS)].itertuples(index=False)]
    duplicated = frame.duplicated(["protocol", "pairing", "split"], keep=False)
    if duplicated.any():
        dup = frame.loc[duplicated, ["protocol", "pairing", "split"]].drop_duplicates()
        listing = "; ".join(f"{r.protocol} / {r.pairing} / split {r.split}" for r in dup.itertuples())
        raise ValueError(f"duplicate result rows: {listing}")
    return frame


def _pairing_sort_key(row: pd.Series) -> tuple:
    return (
        TRACK_ORDER.get(row["track"], len(TRACK_ORDER)), row["track"],
        row["feature"],
        PREDICTOR_ORDER.get(row["predictor"], len(PREDICTOR_ORDER)), row["predictor"],
        row["init"], row["recipe"],
    )


def pairings(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per pairing (track, feature, predictor, init, recipe, pairing), in display order."""
    keys = frame[[*ROW_FIELDS, "pairing"]].drop_duplicates()
    keys = keys.reset_index(drop=True)
    order = sorted(keys.index, key=lambda i: _pairing_sort_key(keys.loc[i]))
    return keys.loc[order].set_index("pairing")


def split_order(splits: Iterable[str]) -> list[str]:
    """Sort split names numerically when they are all integers, else alphabetically."""
    unique = sorted(set(splits))
    if all(s.isdigit() for s in unique):
        return sorted(unique, key=int)
    return unique


# --------------------------------------------------------------------------- protocols


def protocol_order(protocols: Iterable[str]) -> list[str]:
    """Named protocols first (``5fold``, ``60-40``, ``10fold``), then custom ones alphabetically."""
    return sorted(set(protocols), key=lambda p: (PROTOCOL_ORDER.get(p, len(PROTOCOL_ORDER)), p))


def protocol_title(protocol: str, sizes: tuple[int, int] | None = None) -> str:
    """Human title of a protocol (``5fold`` -> ``5-fold cross-validation``).

    ``sizes`` = ``(n_train, n_test)``, as found by :func:`split_sizes`, is appended as
    ``(n_train train / n_test test)``; without it the title states no counts.
    """
    title = PROTOCOL_TITLES.get(protocol, f"protocol {protocol}")
    return title if sizes is None else f"{title} ({sizes[0]} train / {sizes[1]} test)"


def split_sizes(frame: pd.DataFrame) -> tuple[int, int] | None:
    """The ``(n_train, n_test)`` shared by every row of ``frame``, or None.

    None when the frame is empty, lacks a column of :data:`SIZE_COLUMNS`, or has a missing,
    non-integer or differing count in any row: the tables never state counts they were not
    given.
    """
    if frame.empty or any(c not in frame.columns for c in SIZE_COLUMNS):
        return None
    sizes = frame[list(SIZE_COLUMNS)].apply(pd.to_numeric, errors="coerce").drop_duplicates()
    if len(sizes) != 1 or sizes.isna().any(axis=None):
        return None
    n_train, n_test = (float(v) for v in sizes.iloc[0])
    if not (n_train.is_integer() and n_test.is_integer()):
        return None
    return int(n_train), int(n_test)


def file_stem(protocol: str) -> str:
    """File name stem of a protocol's tables: letters, digits, ``.``, ``_`` and ``-`` only."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", protocol).strip("._") or "protocol"


def protocol_notes(protocol: str) -> list[str]:
    """Notes every table of ``protocol`` carries: for a protocol that is not an official split
    (``10fold``), what it is and where its split files are."""
    info = PROTOCOLS.get(protocol)
    if info is None or not info.generated:
        return []
    return [f"{protocol} is not an official split of SCUT-FBP5500: {TEN_FOLD_METHOD}. The run wrote its "
            f"split files to {SPLITS_DIR}/{protocol}/ in its output folder; rerun exactly those splits with "
            f"--protocol OUT/{SPLITS_DIR}/{protocol}."]


def ensemble_notes(frame: pd.DataFrame) -> list[str]:
    """One note per ensemble row of ``frame`` (its members) and one per weighting method used.

    Needs the ``members`` column of ``results.csv``; nothing when it is absent.
    """
    if "members" not in frame or "track" not in frame:
        return []
    rows = frame[frame["track"] == "ensemble"].drop_duplicates(["pairing", "members"])
    if rows.empty:
        return []
    from benchmark.ensemble import COMBINERS  # lazy: only when there are ensemble rows

    notes = [f"Ensemble {r.pairing}: members {r.members}." for r in rows.itertuples()]
    for method in dict.fromkeys(rows["recipe"]):
        if method in COMBINERS:
            notes.append(f"Ensemble weighting {method}: {COMBINERS.describe(method)}")
    notes.append("Ensemble weights are learned from each split's training part only (out-of-fold predictions or "
                 "training-part statistics of the members); the members' test predictions are only combined.")
    return notes
