"""Identity-disjoint view: PC, MAE and RMSE of every row without the test images whose person is in training.

SCUT-FBP5500 holds several photos of some people, so a test image can share an identity with a
training image of its split. ``python run_benchmark.py audit`` (:mod:`reports.audit`) lists
those test images in ``OUT/audit/pairs-<protocol>.csv``: ``same-person`` pairs (nearest training
image closer than :data:`reports.audit.SAME_PERSON` by dlib's descriptor distance; ``strict``
is 1 under the audit's stricter threshold) and ``near-duplicate`` image pairs (pHash).

For every protocol with both stored predictions and an audit file, the view puts each row's
metrics on all test images (pooled over the protocol's splits, as in :mod:`reports.subsets`)
beside the same metrics on the **identity-disjoint** part: the test images with no
same-person and no near-duplicate pair in their own split. A second panel excludes only the
strict same-person pairs (and the near-duplicates). ΔPC = full - disjoint is how much a row
gains from having seen the same person in training.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pandas as pd

from benchmark.metrics import HIGHER_IS_BETTER, METRICS
from core.errors import DataError
from reports import tables
from reports.audit import AUDIT_DIR, NEAR_DUPLICATE_BITS, SAME_PERSON, STRICT
from reports.stats import part_metrics, row_order
from reports.table_files import write_table_pair

PAIR_COLUMNS = ("protocol", "split", "kind", "test_image", "train_image", "descriptor_distance", "phash_bits",
                "strict")
SAME, DUPLICATE = "same-person", "near-duplicate"
#: The two exclusion variants, in panel order: the strict same-person pairs (the audit's eye-checked
#: threshold) or all same-person pairs under dlib's 0.6 (on SCUT-FBP5500 mostly look-alikes).
VARIANTS = ("strict", "same-person")
FULL, DISJOINT = "All test images", "Identity-disjoint"
DELTA = "ΔPC"

NOTES = (
    "Metrics on the test predictions pooled over the protocol's splits, as in the per-subset table; "
    f"{DELTA} = PC on all test images - PC on the identity-disjoint part (positive: the row gains from "
    "having seen the same person in training; it also holds the sampling difference of the smaller set).",
    f"Descriptor distances under {SAME_PERSON} also catch look-alikes of different people (see the audit), "
    "so the excluded images are an upper bound on the same-person ones.",
    "Bold: best row in each column (highest PC, lowest MAE and RMSE); ΔPC is never bold.",
)


def pairs_path(audit_dir: Path, protocol: str) -> Path:
    """``audit_dir/pairs-<stem>.csv``, named as :func:`reports.audit.cmd_audit` names it."""
    return Path(audit_dir) / f"pairs-{tables.file_stem(protocol)}.csv"


def read_pairs(path: Path) -> pd.DataFrame:
    """Read an audit's ``pairs-<protocol>.csv``.

    Parameters
    ----------
    path : pathlib.Path
        The file (:func:`reports.audit.write_pairs`).

    Returns
    -------
    pandas.DataFrame
        Columns ``protocol``, ``split``, ``kind``, ``test_image`` (str) and ``strict`` (bool:
        a same-person pair under the strict threshold; False for near-duplicates).

    Raises
    ------
    DataError
        If the file is unreadable, lacks a column, or has an unknown ``kind`` or a same-person
        line whose ``strict`` is not 0 or 1 (one line naming the file and the problem).
    """
    path = Path(path)
    try:
        with path.open(encoding="utf-8", newline="") as f:
            reader = csv.DictReader(f)
            missing = [c for c in PAIR_COLUMNS if c not in (reader.fieldnames or [])]
            if missing:
                raise DataError(f"{path}: not an audit pairs file, lacks column(s) {', '.join(missing)}")
            rows = list(reader)
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise DataError(f"{path}: unreadable audit pairs file ({err})") from None
    out = []
    for line, row in enumerate(rows, start=2):
        kind, flag = row["kind"], (row["strict"] or "").strip()
        if kind not in (SAME, DUPLICATE):
            raise DataError(f"{path}: line {line}: unknown kind {kind!r} (expected {SAME} or {DUPLICATE})")
        if kind == SAME and flag not in ("0", "1"):
            raise DataError(f"{path}: line {line}: strict must be 0 or 1 on a {SAME} line, got {flag!r}")
        out.append((row["protocol"], row["split"], kind, row["test_image"], kind == SAME and flag == "1"))
    return pd.DataFrame(out, columns=["protocol", "split", "kind", "test_image", "strict"])


def excluded_images(pairs: pd.DataFrame, protocol: str, variant: str) -> pd.MultiIndex:
    """The ``(split, test_image)`` pairs of ``protocol`` left out of the identity-disjoint part.

    ``variant`` ``same-person``: every same-person and near-duplicate pair; ``strict``: only the
    strict same-person pairs, and the near-duplicates.
    """
    if variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r}; expected one of {', '.join(VARIANTS)}")
    mine = pairs[pairs["protocol"] == protocol]
    if variant == "strict":
        mine = mine[(mine["kind"] == DUPLICATE) | mine["strict"]]
    keys = mine[["split", "test_image"]].drop_duplicates()
    return pd.MultiIndex.from_arrays([keys["split"].astype(str), keys["test_image"].astype(str)])


def identity_metrics(pooled: pd.DataFrame, pairs: pd.DataFrame, protocol: str) -> pd.DataFrame:
    """PC, MAE and RMSE of every row of ``protocol`` on all its test images and without the excluded ones.

    Parameters
    ----------
    pooled : pandas.DataFrame
        :func:`reports.stats.pooled_predictions` of the store.
    pairs : pandas.DataFrame
        :func:`read_pairs` of the protocol's audit file.
    protocol : str

    Returns
    -------
    pandas.DataFrame
        Columns ``pairing``, ``part`` (``all``, ``same-person``, ``strict``: all test images, or
        without the images :func:`excluded_images` lists for that variant), ``n``, ``pc``,
        ``mae``, ``rmse``; rows in display order. Fewer than 2 images give NaN metrics.
    """
    sub = pooled[pooled["protocol"] == protocol]
    keys = pd.MultiIndex.from_arrays([sub["split"].astype(str), sub["image"].astype(str)])
    sub = sub.assign(**{f"keep_{v}": ~keys.isin(excluded_images(pairs, protocol, v)) for v in VARIANTS})
    groups = dict(iter(sub.groupby("pairing", sort=False)))
    rows = []
    for label in row_order(sub):
        r = groups[label]
        parts = {"all": r, **{v: r[r[f"keep_{v}"]] for v in VARIANTS}}
        rows += [{"pairing": label, "part": name, "n": len(p), **part_metrics(p)} for name, p in parts.items()]
    return pd.DataFrame(rows, columns=["pairing", "part", "n", "pc", "mae", "rmse"])


def exclusion_counts(pooled: pd.DataFrame, pairs: pd.DataFrame, protocol: str) -> pd.DataFrame:
    """Test images of each split of ``protocol`` (as the records hold them) and how many each variant excludes.

    Returns
    -------
    pandas.DataFrame
        Indexed by split (display order), columns ``n_test`` and one per :data:`VARIANTS`.
    """
    sub = pooled[pooled["protocol"] == protocol][["split", "image"]].drop_duplicates()
    keys = pd.MultiIndex.from_arrays([sub["split"].astype(str), sub["image"].astype(str)])
    frame = pd.DataFrame({"split": sub["split"].astype(str).to_numpy(), "n_test": 1,
                          **{v: keys.isin(excluded_images(pairs, protocol, v)).astype(int) for v in VARIANTS}})
    counts = frame.groupby("split").sum()
    return counts.reindex(tables.split_order(counts.index))


def identity_tables(metrics: pd.DataFrame, strict: float | None = None) -> list[tables.Table]:
    """Two panels (strict, same person under 0.6): rows = pairings; all test images, identity-disjoint, ΔPC.

    ``strict`` (the audit's strict threshold, when recorded) only goes into the first panel's title.
    """
    strict_text = f"descriptor distance < {strict:g}" if strict is not None else "under the strict threshold"
    order = list(dict.fromkeys(metrics["pairing"]))
    full = metrics[metrics["part"] == "all"].set_index("pairing").reindex(order)
    columns = [*((FULL, tables.METRIC_TITLES[m]) for m in METRICS),
               *((DISJOINT, tables.METRIC_TITLES[m]) for m in METRICS), ("", DELTA)]
    panels = []
    titles = (f"Strict: same person ({strict_text}), or near-duplicate",
              f"dlib's threshold: descriptor distance < {SAME_PERSON:g} (on SCUT-FBP5500 mostly look-alikes), "
              "or near-duplicate")
    for variant, title in zip(VARIANTS, titles, strict=True):
        disjoint = metrics[metrics["part"] == variant].set_index("pairing").reindex(order)
        values = pd.DataFrame({**{(FULL, tables.METRIC_TITLES[m]): full[m] for m in METRICS},
                               **{(DISJOINT, tables.METRIC_TITLES[m]): disjoint[m] for m in METRICS}})
        cells = values.apply(lambda col: col.map(tables.format_value))
        cells[("", DELTA)] = (full["pc"] - disjoint["pc"]).map(tables.format_delta)
        bold = pd.DataFrame({c: tables.best_mask(values[c], HIGHER_IS_BETTER[m])
                             for c, m in zip(values.columns, [*METRICS] * 2, strict=True)})
        bold[("", DELTA)] = False
        panels.append(tables.Table(cells=cells[columns].rename_axis(index=None),
                                   bold=bold[columns].rename_axis(index=None).astype(bool), title=title))
    return panels


def strict_threshold(audit_dir: Path, protocol: str) -> float | None:
    """The audit's ``--strict`` threshold for ``protocol`` from ``identity-audit.json``; None when not recorded.

    The summary is rewritten by every audit run, so its threshold is used only when it lists a
    split of ``protocol``; an unreadable summary counts as not recorded.
    """
    path = Path(audit_dir) / "identity-audit.json"
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
        if any(s.get("protocol") == protocol for s in summary.get("splits") or []):
            return float(summary["thresholds"]["strict"])
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        pass
    return None


def identity_notes(counts: pd.DataFrame, source: str, strict: float | None) -> list[str]:
    """The notes of a protocol's identity table: what was excluded and how many test images, per split."""
    threshold = f"{strict:g}" if strict is not None else f"the audit's --strict threshold (default {STRICT:g})"
    per_split = "; ".join(f"{split}: {int(r['same-person'])} / {int(r['strict'])} of {int(r['n_test'])}"
                          for split, r in counts.iterrows())
    total = counts.sum()
    return [
        f"Identity-disjoint: the test images with no same-person pair (nearest training image of the same split "
        f"closer than {SAME_PERSON:g} in dlib's face-descriptor distance) and no near-duplicate pair (pHash, at "
        f"most {NEAR_DUPLICATE_BITS} of 64 bits differ) in their own split, from {source} "
        "(python run_benchmark.py audit).",
        f"Strict panel (first): only the same-person pairs under {threshold} are excluded (near-duplicates still "
        "are); the audit set that threshold by eye on its contact sheets. Under dlib's 0.6 (second panel) most "
        "pairs are look-alikes of different people, so that panel's disjoint part is small and not identity-"
        "disjoint in any strict sense: read it as a bound.",
        f"Excluded test images per split (distance < {SAME_PERSON:g} / strict): {per_split}; total "
        f"{int(total['same-person'])} / {int(total['strict'])} of {int(total['n_test'])} (an image tested in "
        "several splits counts once per split).",
        *NOTES,
    ]


def render_identity_tables(pooled: pd.DataFrame, tables_dir: Path, audit_dir: Path,
                           provenance: str = "") -> list[Path]:
    """Write ``identity-<protocol>.md`` and ``.tex`` for every protocol of ``pooled`` with an audit file.

    A protocol without ``audit_dir/pairs-<protocol>.csv``, or whose file names none of the
    splits its records have (an audit of other splits), gets no table.

    Returns
    -------
    list of pathlib.Path
        The files written.

    Raises
    ------
    DataError
        If an audit file is unreadable or malformed.
    """
    written: list[Path] = []
    for protocol in tables.protocol_order(pooled["protocol"].astype(str)):
        path = pairs_path(audit_dir, protocol)
        if not path.is_file():
            continue
        pairs = read_pairs(path)
        splits = set(pooled.loc[pooled["protocol"] == protocol, "split"].astype(str))
        if not splits & set(pairs.loc[pairs["protocol"] == protocol, "split"]):
            continue
        counts = exclusion_counts(pooled, pairs, protocol)
        strict = strict_threshold(audit_dir, protocol)
        notes = [*tables.protocol_notes(protocol), *identity_notes(counts, f"{AUDIT_DIR}/{path.name}", strict)]
        title = (f"SCUT-FBP5500, {tables.protocol_title(protocol)}: PC, MAE and RMSE on all test images and on "
                 "the identity-disjoint part")
        written += write_table_pair(tables_dir, f"identity-{tables.file_stem(protocol)}",
                                    identity_tables(identity_metrics(pooled, pairs, protocol), strict),
                                    title=title, provenance=provenance, notes=notes)
    return written

