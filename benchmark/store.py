"""Result store: one JSON record per (pairing, split), written atomically, plus ``results.csv``.

Layout of an output folder::

    OUT/records/<protocol>/<row>/split-<name>.json   one record per (pairing x split)
    OUT/results.csv                                  one row per record (derived, rewritten)
    OUT/manifest.json                                run configuration and provenance
    OUT/tables/*.md, *.tex                           rendered from the records

A record (:class:`benchmark.record.Record`, the same for every track) holds the metrics, every test
image's true and predicted score, timings, the seed and the full configuration. The runner skips
pairings whose record exists, so a killed run resumes where it stopped with nothing lost or
duplicated. The record folder of a row is its :attr:`benchmark.record.RowKey.slug` made file-safe
(:func:`_safe`); two rows whose names become the same folder are refused (:class:`~core.errors.DataError`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from benchmark.record import Record, RowKey, as_record
from core.atomic import atomic_write_bytes
from core.errors import DataError

__all__ = ["CSV_COLUMNS", "DEFAULT_OUT", "Record", "ResultStore", "RowKey", "write_json"]

#: Output folder of a run, a report and an audit when ``--out`` is not given.
DEFAULT_OUT = Path("reports/latest")
#: Columns of ``results.csv``, the same for every track (:meth:`benchmark.record.Record.csv_row`).
CSV_COLUMNS = ["track", "feature", "predictor", "model", "init", "recipe", "protocol", "split", "pc", "mae",
               "rmse", "n_train", "n_test", "fit_seconds", "predict_seconds", "seed", "n_fallback", "created",
               "members"]
#: Record files of a store: ``records/<protocol>/<row>/split-<name>.json`` (out-of-fold files beside them
#: are ``oof-split-<name>.json``).
RECORD_GLOB = "split-*.json"


def _safe(name: str) -> str:
    """A file name for ``name``: ``+`` (feature fusion) is kept, other unsafe runs become ``_``."""
    return re.sub(r"[^A-Za-z0-9._+-]+", "_", name)


def write_json(path: Path, payload: Any) -> None:
    """Write ``payload`` as indented JSON atomically."""
    atomic_write_bytes(path, (json.dumps(payload, indent=1, sort_keys=False, default=str) + "\n").encode())


class ResultStore:
    """The records of one output folder.

    Every record file is found by :meth:`paths` (the one place records are globbed) and read into a
    :class:`~benchmark.record.Record` by :meth:`load`.

    Parameters
    ----------
    out_dir : Path
        Output folder (``--out``).
    """

    def __init__(self, out_dir: str | Path) -> None:
        self.out_dir = Path(out_dir)
        self._owners: dict[Path, tuple[str, RowKey]] = {}  # record folder -> (protocol, row) stored in it

    @property
    def records_dir(self) -> Path:
        return self.out_dir / "records"

    def path(self, key: RowKey, protocol: str, split: str) -> Path:
        return self.records_dir / _safe(protocol) / _safe(key.slug) / f"split-{_safe(split)}.json"

    def has(self, key: RowKey, protocol: str, split: str) -> bool:
        """True if ``key`` has a record on the split.

        Raises
        ------
        DataError
            If the record's folder holds another row whose name maps to the same folder.
        """
        path = self.path(key, protocol, split)
        self._check_owner(path.parent, protocol, key)
        return path.is_file()

    def read(self, key: RowKey, protocol: str, split: str) -> Record | None:
        """The stored record of ``key`` on one split, or None when there is none.

        Raises
        ------
        DataError
            If the file is corrupt, or holds another row (or split) that maps to the same file.
        """
        path = self.path(key, protocol, split)
        self._check_owner(path.parent, protocol, key)
        if not path.is_file():
            return None
        record = self.load(path)
        self._check_same(path, record, protocol, key, split)
        return record

    def write(self, record: Record | Mapping[str, Any]) -> Path:
        """Store one record (atomically) as JSON; its key, protocol and split name the file.

        ``record`` is a :class:`~benchmark.record.Record` or its stored (dict) form, of any version.

        Raises
        ------
        DataError
            If another row (or split) whose name maps to the same folder (file) is stored there.
        """
        record = as_record(record)
        key = record.key
        path = self.path(key, record.protocol, record.split)
        self._check_owner(path.parent, record.protocol, key)
        if path.is_file():
            self._check_same(path, self.load(path), record.protocol, key, record.split)
        write_json(path, record.to_dict())
        self._owners[path.parent] = (record.protocol, key)
        return path

    def paths(self, key: RowKey | None = None) -> list[Path]:
        """Every record file (of ``key`` only, when given), in a stable (sorted path) order."""
        folder = _safe(key.slug) if key is not None else "*"
        return sorted(self.records_dir.glob(f"*/{folder}/{RECORD_GLOB}"))

    def rows(self) -> dict[str, list[Path]]:
        """Record folder name (a row's file-safe slug) -> its record files, over every protocol."""
        found: dict[str, list[Path]] = {}
        for path in self.paths():
            found.setdefault(path.parent.name, []).append(path)
        return found

    @staticmethod
    def load(path: Path) -> Record:
        """Read one record file.

        Raises
        ------
        DataError
            If the file is not valid JSON or not a result record (one line naming the file).
        """
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise DataError(f"{path}: corrupt result record ({err})") from None
        try:
            return Record.from_dict(data)
        except DataError as err:
            raise DataError(f"{path}: {err}") from None

    def records(self, key: RowKey | None = None) -> Iterator[Record]:
        """Every stored record (of ``key`` only, when given), in a stable (sorted path) order."""
        for path in self.paths(key):
            yield self.load(path)

    def dataframe(self) -> pd.DataFrame:
        """One row per record with :data:`CSV_COLUMNS`."""
        return pd.DataFrame([r.csv_row() for r in self.records()], columns=CSV_COLUMNS)

    def write_csv(self) -> Path:
        """(Re)write ``results.csv`` from the records, atomically."""
        path = self.out_dir / "results.csv"
        atomic_write_bytes(path, self.dataframe().to_csv(index=False, float_format="%.6f").encode())
        return path

    # ------------------------------------------------------------------ file-name collisions

    def _check_owner(self, folder: Path, protocol: str, key: RowKey) -> None:
        """Refuse ``key`` on ``protocol`` if ``folder`` already holds another row (or protocol)."""
        if folder not in self._owners:
            stored = next(iter(sorted(folder.glob(RECORD_GLOB))), None)
            if stored is None:
                return
            record = self.load(stored)
            self._owners[folder] = (record.protocol, record.key)
        owner_protocol, owner = self._owners[folder]
        if owner != key:
            raise DataError(f"rows {owner.slug!r} and {key.slug!r} map to the same record folder {folder}; "
                            "rename one")
        if owner_protocol != protocol:
            raise DataError(f"protocols {owner_protocol!r} and {protocol!r} map to the same record folder "
                            f"{folder.parent}; rename one")

    @staticmethod
    def _check_same(path: Path, stored: Record, protocol: str, key: RowKey, split: str) -> None:
        if stored.key != key or stored.protocol != protocol:
            raise DataError(f"rows {stored.key.slug!r} ({stored.protocol}) and {key.slug!r} ({protocol}) map to the "
                            f"same record file {path}; rename one")
        if stored.split != split:
            raise DataError(f"splits {stored.split!r} and {split!r} map to the same record file {path}; rename one")
