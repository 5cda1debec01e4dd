"""Views of the deep track: how each CNN run was made, its training loss, and the paper's CNN rows.

Rendered from stored records only (the ``cnn`` provenance block every CNN record carries):

* ``tables/deep-track.md|tex``: per protocol, each CNN row's mean PC / MAE / RMSE over the
  splits beside the paper's CNN rows (Liang et al. 2018) and the seed write-up's ResNet-50
  (80/20 split, not an official protocol);
* ``tables/deep-track-runs.md|tex``: one row per (CNN, split) with the device, CPU threads,
  training seconds, images/s, image/crop sides, epochs, resume point and commit;
* ``figures/loss-<protocol>.png|pdf``: each CNN's mean training loss per epoch, one line per split.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from benchmark.record import CNN, Record, as_record
from reports import paper, tables
from reports.table_files import write_table_pair


def cnn_records(records: Iterable[Record | Mapping[str, Any]]) -> list[Record]:
    """The CNN records (``track == "cnn"``) that carry a ``cnn`` provenance block.

    ``records`` are :class:`~benchmark.record.Record` objects or their stored (dict) form, of any version.
    """
    typed = (as_record(r) for r in records)
    return [r for r in typed if r.track == CNN and isinstance(r.cnn, Mapping)]


def _label(rec: Record) -> str:
    return tables.pairing_label(CNN, rec.model, CNN, rec.init, rec.recipe)


def runs_table(records: Sequence[Record]) -> tables.Table:
    """One row per (CNN, split): device, threads, seconds, images/s, recipe sides, resume, commit."""
    rows = []
    for rec in sorted(records, key=lambda r: (r.protocol, _label(r), r.split)):
        run = rec.cnn
        rows.append({
            "Row": _label(rec), "Protocol": rec.protocol, "Split": rec.split,
            "Device": str(run.get("device_name", run.get("device", ""))),
            "Threads": str(run.get("threads", "")),
            "Train s": f"{float(run.get('train_time_s', float('nan'))):.0f}",
            "Wall s": f"{float(run.get('wall_time_s', float('nan'))):.0f}",
            "img/s": f"{float(run.get('images_per_s', float('nan'))):.1f}",
            "Image/crop": f"{run.get('image_size', '')}/{run.get('input_size', '')}",
            "Epochs": f"{len(run.get('loss_per_epoch') or [])}",
            "Resumed at it.": str(run.get("resumed_from_iteration", 0)),
            "Peak RSS MiB": f"{float(run['peak_rss_mib']):.0f}" if run.get("peak_rss_mib") else "—",
            "Commit": f"`{(rec.git_commit or '')[:10]}`",
        })
    cells = pd.DataFrame(rows).set_index("Row") if rows else pd.DataFrame()
    return tables.Table(cells, title="How each CNN split was trained", index_label="Row")


def comparison_table(records: Sequence[Record]) -> tables.Table:
    """Our CNN rows (mean over each protocol's splits) beside the paper's and the seed's CNN rows."""
    rows = []
    frame = pd.DataFrame([{"row": _label(r), "protocol": r.protocol, **r.metrics} for r in records])
    for protocol in tables.protocol_order(frame["protocol"]) if len(frame) else []:
        sub = frame[frame["protocol"] == protocol]
        for label, grp in sub.groupby("row", sort=True):
            rows.append({"Row": label, "Source": "this benchmark", "Protocol": protocol,
                         "Splits": str(len(grp)), **{m.upper(): tables.format_value(float(grp[m].mean()))
                                                     for m in ("pc", "mae", "rmse")}})
        for entry in paper.ENTRIES:
            if entry.predictor == "cnn" and protocol in entry.matched_protocols:
                rows.append({"Row": f"{entry.label} (paper, GPU)", "Source": paper.SHORT_CITATION,
                             "Protocol": protocol, "Splits": "5" if protocol == "5fold" else "1",
                             "PC": tables.format_value(entry.pc), "MAE": tables.format_value(entry.mae),
                             "RMSE": tables.format_value(entry.rmse)})
    for entry in paper.REFERENCE_ENTRIES:
        rows.append({"Row": entry.label, "Source": entry.source, "Protocol": entry.protocol, "Splits": "1",
                     "PC": tables.format_value(entry.pc), "MAE": tables.format_value(entry.mae),
                     "RMSE": tables.format_value(entry.rmse)})
    cells = pd.DataFrame(rows).set_index("Row") if rows else pd.DataFrame()
    return tables.Table(cells, title="CNN rows beside the paper's", index_label="Row")


def render_deep_tables(records: Iterable[Record | Mapping[str, Any]], tables_dir: Path,
                       provenance: str = "") -> list[Path]:
    """Write ``deep-track.md|tex`` (comparison) and ``deep-track-runs.md|tex``; nothing without CNN records.

    ``records``: every record of the store (:class:`~benchmark.record.Record` or its stored dict form).
    """
    cnn = cnn_records(records)
    if not cnn:
        return []
    notes = ["PC/MAE/RMSE of our rows are means over the protocol's splits; the paper's rows are copied from "
             f"{paper.CITATION} and were trained on a GPU with the paper's recipe; the ResNet-50 row is on a single "
             "80/20 split, not an official protocol, so it is context, not a like-for-like comparison.",
             "Train s: seconds of the training iterations; Wall s: the whole split (decoded images to predictions); "
             "img/s: training samples per second; Resumed at it.: iterations restored from an epoch checkpoint."]
    return [*write_table_pair(tables_dir, "deep-track", [comparison_table(cnn)],
                              title="SCUT-FBP5500 deep track: our CNN rows beside the paper's",
                              provenance=provenance, notes=notes[:1]),
            *write_table_pair(tables_dir, "deep-track-runs", [runs_table(cnn)],
                              title="SCUT-FBP5500 deep track: how each CNN split was trained",
                              provenance=provenance, notes=notes[1:])]


def loss_figure(records: Sequence[Record], protocol: str) -> Figure | None:
    """Mean training loss per epoch of each CNN row of ``protocol`` (:func:`cnn_records`), one line per split.

    Returns None when no record of ``protocol`` has a per-epoch loss.
    """
    sub = [r for r in records if r.protocol == protocol and r.cnn.get("loss_per_epoch")]
    if not sub:
        return None
    labels = sorted({_label(r) for r in sub})
    fig = Figure(figsize=(4.2 * len(labels), 3.2), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(labels), squeeze=False)[0])
    for ax, label in zip(axes, labels, strict=True):
        for rec in sorted((r for r in sub if _label(r) == label), key=lambda r: r.split):
            loss = np.asarray(rec.cnn["loss_per_epoch"], dtype=float)
            ax.plot(np.arange(1, len(loss) + 1), loss, marker="o", markersize=3, label=f"split {rec.split}")
        ax.set_yscale("log")
        ax.set_xlabel("epoch")
        ax.set_ylabel("training loss (MSE, mean per epoch)")
        ax.set_title(label, fontsize=9)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, frameon=False)
    fig.suptitle(f"SCUT-FBP5500, {tables.protocol_title(protocol)}: CNN training loss", fontsize=10)
    return fig
