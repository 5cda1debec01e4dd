"""Result store: one JSON record per (pairing, split), written atomically, plus ``results.csv``.

Layout of an output folder::

    OUT/records/<protocol>/<row>/split-<name>.json   one record per (pairing x split)
    OUT/results.csv                                  one row per record (derived, rewritten)
    OUT/manifest.json                                run configuration and provenance
    OUT/tables/*.md, *.tex                           rendered from the records

A record holds the metrics, every test image's true and predicted score, timings, the seed
and the full configuration. The runner skips pairings whose record exists, so a killed run
resumes where it stopped with nothing lost or duplicated.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from core.atomic import atomic_write_bytes
from core.errors import DataError

CSV_COLUMNS = ["track", "feature", "predictor", "init", "recipe", "protocol", "split", "pc", "mae", "rmse",
               "n_train", "n_test", "fit_seconds", "predict_seconds", "seed", "n_fallback", "created", "members"]


@dataclass(frozen=True)
class RowKey:
    """Identifies one table row (a pairing) and, with a split, one record.

    For hand-crafted rows ``feature`` is the extractor (or a fusion ``a+b``, see
    :mod:`benchmark.fusion`) and ``predictor`` the regressor; for CNN rows ``feature`` is the
    model name, ``predictor`` is ``"cnn"`` and ``init``/``recipe`` are set; for ensemble rows
    (:mod:`benchmark.ensemble`) ``feature`` is the ensemble's name, ``predictor`` is
    ``"ensemble"`` and ``recipe`` is the weighting method, which is not part of the file name
    (the slug is ``<name>__ensemble``).
    """

    track: str
    feature: str
    predictor: str
    init: str = ""
    recipe: str = ""

    @property
    def slug(self) -> str:
        base = f"{self.feature}__{self.predictor}"
        return f"{base}__{self.init}-{self.recipe}" if self.track == "cnn" else base


def _safe(name: str) -> str:
    """A file name for ``name``: ``+`` (feature fusion) is kept, other unsafe runs become ``_``."""
    return re.sub(r"[^A-Za-z0-9._+-]+", "_", name)


def write_json(path: Path, payload: Any) -> None:
    """Write ``payload`` as indented JSON atomically."""
    atomic_write_bytes(path, (json.dumps(payload, indent=1, sort_keys=False, default=str) + "\n").encode())


class ResultStore:
    """The records of one output folder.

    Parameters
    ----------
    out_dir : Path
        Output folder (``--out``).
    """

    def __init__(self, out_dir: str | Path) -> None:
        self.out_dir = Path(out_dir)

    @property
    def records_dir(self) -> Path:
        return self.out_dir / "records"

    def path(self, key: RowKey, protocol: str, split: str) -> Path:
        return self.records_dir / _safe(protocol) / _safe(key.slug) / f"split-{_safe(split)}.json"

    def has(self, key: RowKey, protocol: str, split: str) -> bool:
        return self.path(key, protocol, split).is_file()

    def read(self, key: RowKey, protocol: str, split: str) -> dict[str, Any] | None:
        """The stored record of ``key`` on one split, or None when there is none."""
        path = self.path(key, protocol, split)
        if not path.is_file():
            return None
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise DataError(f"{path}: corrupt result record ({err})") from None

    def write(self, record: dict[str, Any]) -> Path:
        """Store one record (atomically); its key fields name the file."""
        key = RowKey(record["track"], record["feature"], record["predictor"],
                     record.get("init", ""), record.get("recipe", ""))
        path = self.path(key, record["protocol"], record["split"])
        write_json(path, record)
        return path

    def records(self) -> Iterator[dict[str, Any]]:
        """Every stored record, in a stable (sorted path) order."""
        for path in sorted(self.records_dir.glob("*/*/split-*.json")):
            yield json.loads(path.read_text())

    def dataframe(self) -> pd.DataFrame:
        """One row per record with :data:`CSV_COLUMNS`."""
        rows = []
        for r in self.records():
            rows.append({
                "track": r["track"], "feature": r["feature"], "predictor": r["predictor"],
                "init": r.get("init", ""), "recipe": r.get("recipe", ""),
                "protocol": r["protocol"], "split": str(r["split"]),
                **{m: r["metrics"][m] for m in ("pc", "mae", "rmse")},
                "n_train": r["n_train"], "n_test": r["n_test"],
                "fit_seconds": r["timings"].get("fit_s"), "predict_seconds": r["timings"].get("predict_s"),
                "seed": r.get("seed"), "n_fallback": len(r.get("landmark_fallback", {}).get("test", []))
                + len(r.get("landmark_fallback", {}).get("train", [])),
                "created": r.get("created", ""),
                "members": ", ".join(m["row"] for m in (r.get("ensemble") or {}).get("members", [])),
            })
        return pd.DataFrame(rows, columns=CSV_COLUMNS)

    def write_csv(self) -> Path:
        """(Re)write ``results.csv`` from the records, atomically."""
        path = self.out_dir / "results.csv"
        atomic_write_bytes(path, self.dataframe().to_csv(index=False, float_format="%.6f").encode())
        return path
