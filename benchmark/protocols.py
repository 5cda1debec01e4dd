"""Evaluation protocols: the official 5-fold and 60/40 splits, or a folder of custom split files.

Splits are always read from split files; nothing is ever re-split here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from benchmark.errors import ConfigError, DataError
from data.scut import ScutFBP5500, read_score_file

FIVE_FOLD_DIR = Path("train_test_files") / "5_folders_cross_validations_files"
SIXTY_FORTY_DIR = Path("train_test_files") / "split_of_60%training and 40%testing"

#: Official protocol names and their one-line descriptions (``--list``).
OFFICIAL = {
    "5fold": "official 5-fold cross-validation (4400 train / 1100 test per fold)",
    "60-40": "official 60/40 split (3300 train / 2200 test)",
}
ALL = "all"


@dataclass(frozen=True)
class Split:
    """One train/test split of a protocol.

    Attributes
    ----------
    protocol : str
        Protocol name (``5fold``, ``60-40`` or the custom folder's name).
    name : str
        Split name within the protocol (``1``..``5`` for folds, ``1`` for a single split).
    train, test : tuple of str
        Canonical image names.
    """

    protocol: str
    name: str
    train: tuple[str, ...]
    test: tuple[str, ...]


def _read_split(protocol: str, name: str, train_file: Path, test_file: Path,
                known: set[str]) -> Split:
    train = [n for n, _ in read_score_file(train_file, known)]
    test = [n for n, _ in read_score_file(test_file, known)]
    overlap = sorted(set(train) & set(test))
    if overlap:
        raise DataError(f"{test_file}: {len(overlap)} image(s) also in {train_file.name} "
                        f"(train/test overlap), e.g. {overlap[0]}")
    return Split(protocol, name, tuple(train), tuple(test))


def read_split_folder(folder: Path, protocol: str, known: set[str]) -> list[Split]:
    """Splits from a folder of official-format files.

    Accepts ``train_K.txt``/``test_K.txt`` pairs (one split per K, also inside
    ``cross_validation_K`` sub-folders) or a single ``train.txt``/``test.txt`` pair.
    """
    if not folder.is_dir():
        raise DataError(f"{folder}: split folder not found")
    pairs: list[tuple[str, Path, Path]] = []
    for train_file in sorted(folder.rglob("train_*.txt")):
        m = re.fullmatch(r"train_(\d+)\.txt", train_file.name)
        if not m:
            continue
        test_file = train_file.with_name(f"test_{m.group(1)}.txt")
        if not test_file.is_file():
            raise DataError(f"{test_file}: missing (pairs with {train_file})")
        pairs.append((m.group(1), train_file, test_file))
    if not pairs and (folder / "train.txt").is_file():
        pairs.append(("1", folder / "train.txt", folder / "test.txt"))
    if not pairs:
        raise DataError(f"{folder}: no split files (expected train_K.txt/test_K.txt or train.txt/test.txt)")
    pairs.sort(key=lambda p: int(p[0]))
    return [_read_split(protocol, k, tr, te, known) for k, tr, te in pairs]


def load_protocols(spec: str, dataset: ScutFBP5500) -> list[list[Split]]:
    """Resolve ``--protocol``: ``5fold``, ``60-40``, ``all`` or a path to a split folder.

    Returns
    -------
    list of protocols, each a list of :class:`Split`.
    """
    known = set(dataset.labels)
    if spec == ALL:
        return [load_protocols(name, dataset)[0] for name in OFFICIAL]
    if spec == "5fold":
        return [read_split_folder(dataset.root / FIVE_FOLD_DIR, "5fold", known)]
    if spec == "60-40":
        return [read_split_folder(dataset.root / SIXTY_FORTY_DIR, "60-40", known)]
    path = Path(spec)
    if path.is_dir():
        return [read_split_folder(path, path.name, known)]
    raise ConfigError(f"unknown protocol {spec!r}. Valid protocols: {', '.join([*OFFICIAL, ALL])}, "
                      "or a path to a folder of split files")


def select_splits(protocols: list[list[Split]], spec: str | None) -> list[list[Split]]:
    """Keep only the splits named in ``spec`` (``--splits``); None keeps every split.

    ``spec`` is comma-separated; each item is a split name (``1``: that split of every chosen
    protocol that has it) or ``protocol/split`` (``5fold/1``). Protocols left with no split are
    dropped.

    Raises
    ------
    ConfigError
        If an item matches no split, naming the splits there are.
    """
    if spec is None:
        return protocols
    items = [s.strip() for s in spec.split(",") if s.strip()]
    if not items:
        raise ConfigError("--splits: empty; give split names such as 1 or 5fold/1")
    available = [f"{s.protocol}/{s.name}" for p in protocols for s in p]

    def wanted(split: Split, item: str) -> bool:
        protocol, sep, name = item.rpartition("/")
        return split.name == name and (not sep or split.protocol == protocol)

    for item in items:
        if not any(wanted(s, item) for p in protocols for s in p):
            raise ConfigError(f"--splits: no split {item!r} in the chosen protocol(s); "
                              f"there are {', '.join(available)}")
    kept = [[s for s in p if any(wanted(s, item) for item in items)] for p in protocols]
    return [p for p in kept if p]
