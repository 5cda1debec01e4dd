"""Release integrity: compare a copy of SCUT-FBP5500 with the SHA-256 of every file of the reference copy.

The project carries two hash lists (hashes and file names only, no data):

* :data:`REFERENCE_SUMS` (``data/reference_sha256.txt``): the SHA-256 of every file of the
  reference copy (5500 images, 5500 ``.pts``, the label file and the 12 split files), in
  ``sha256sum`` format. It is a verbatim copy of that copy's ``SHA256SUMS``. The reference
  copy's label and split files match the dataset authors' own split files line for line; its
  images could not be compared with the authors' zip, so it is "the reference copy", not
  "the official release".
* :data:`REFERENCE_TEXT_SUMS` (``data/reference_sha256_text.txt``): for the label and split files
  only, the SHA-256 of their *normalised* content (:func:`normalised_text`): every line
  ``<image> <score>`` with the image name in the release spelling (``fty12.jpg`` -> ``AF12.jpg``)
  and the score as a float, blank lines dropped, ``\\n`` line ends. A copy whose label and split
  files spell the images the older way (``fty/mty/ftw/mtw``), or differ only in line endings,
  matches the reference copy.

:func:`check_integrity` hashes every file under the release folders (``Images/``,
``facial landmark/``, ``train_test_files/``) once, in chunks, on a thread pool, and reports the
files that are missing, extra or different. Nothing is written into the data folder and nothing
is cached.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import sys
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.errors import ConfigError, DataError
from core.hashing import sha256_file
from data.scut import _NAME_RE, ENV_VAR, canonical_image_name, resolve_data_dir

HERE = Path(__file__).resolve().parent
REFERENCE_SUMS = HERE / "reference_sha256.txt"
REFERENCE_TEXT_SUMS = HERE / "reference_sha256_text.txt"
#: The folders of the release layout that are checked (files elsewhere, e.g. a README, are ignored).
RELEASE_DIRS = ("Images", "facial landmark", "train_test_files")
#: Label and split files: compared by normalised content (:func:`normalised_text`).
TEXT_DIR = "train_test_files"
#: Threads hashing files (hashlib releases the GIL on large buffers; small files are I/O bound).
DEFAULT_WORKERS = min(8, (os.cpu_count() or 1) * 2)

_NUMBER_RE = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")

MATCHES = "matches the reference copy"
DIFFERS = "differs from the reference copy"


def normalised_text(data: bytes) -> bytes | None:
    """The normalised content of a label or split file, or None if it is not UTF-8 text.

    Each non-blank line ``<image> <score>`` becomes ``<canonical image> <float(score)!r>``; a
    line that does not parse that way is kept with its whitespace collapsed (so it still
    differs from the reference); lines end with ``\\n``.
    """
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None
    lines = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2 and _NAME_RE.match(parts[0]) and _NUMBER_RE.match(parts[1]):
            lines.append(f"{canonical_image_name(parts[0])} {float(parts[1])!r}")
        elif parts:  # not '<image> <score>': kept (whitespace collapsed), so the file differs from the reference
            lines.append(" ".join(parts))
    return "".join(f"{line}\n" for line in lines).encode()


def read_sums(path: Path) -> dict[str, str]:
    """Parse a ``sha256sum`` list (``<64 hex>  ./relative/path``) into {relative path: digest}.

    Raises
    ------
    DataError
        ``file:line: problem`` for a malformed line or a path listed twice; the file missing.
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DataError(f"{path}: reference hash list not found") from None
    sums: dict[str, str] = {}
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        digest, sep, name = line.partition("  ")
        digest = digest.strip().lower()
        if not sep or len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest) or not name:
            raise DataError(f"{path}:{lineno}: expected '<sha256>  <path>', got {line.strip()[:80]!r}")
        rel = name.strip().removeprefix("./")
        if rel in sums:
            raise DataError(f"{path}:{lineno}: {rel} listed twice")
        sums[rel] = digest
    if not sums:
        raise DataError(f"{path}: no entries")
    return sums


def text_sums_path(sums: Path) -> Path:
    """The normalised-content list that goes with a hash list (``x.txt`` -> ``x_text.txt``)."""
    sums = Path(sums)
    return sums.with_name(f"{sums.stem}_text{sums.suffix}")


@dataclass
class IntegrityReport:
    """Result of :func:`check_integrity`.

    Attributes
    ----------
    root : Path
        The copy checked.
    n_reference : int
        Files in the reference copy.
    identical : int
        Files whose bytes match.
    normalised : list of str
        Label/split files that match only after normalising (older image names, line endings).
    missing, extra, different : list of str
        Relative paths: in the reference but absent; present but not in the reference; present
        with other content.
    seconds : float
        Wall time of the check.
    n_bytes : int
        Bytes hashed.
    """

    root: Path
    n_reference: int
    identical: int = 0
    normalised: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
    different: list[str] = field(default_factory=list)
    seconds: float = 0.0
    n_bytes: int = 0

    @property
    def n_differing(self) -> int:
        """Files missing, extra or different."""
        return len(self.missing) + len(self.extra) + len(self.different)

    @property
    def matches(self) -> bool:
        """Whether the copy matches the reference copy (normalised label/split files count as matching)."""
        return self.n_differing == 0

    @property
    def verdict(self) -> str:
        """``matches the reference copy`` or ``differs from the reference copy: N files``."""
        n = self.n_differing
        return MATCHES if self.matches else f"{DIFFERS}: {n} file{'' if n == 1 else 's'}"

    def summary(self) -> str:
        """One line: the verdict, the counts and a few example names."""
        if self.matches:
            extra = (f"; {len(self.normalised)} label/split files match after normalising image names or line "
                     "endings" if self.normalised else "")
            return f"{self.root}: {MATCHES} ({self.n_reference} files, SHA-256{extra}; {self.seconds:.1f} s)"
        parts = []
        for label, names in (("missing", self.missing), ("extra", self.extra), ("different", self.different)):
            if names:
                shown = ", ".join(names[:3]) + (", ..." if len(names) > 3 else "")
                parts.append(f"{len(names)} {label} ({shown})")
        return (f"{self.root}: {self.verdict}: {'; '.join(parts)}; {self.identical + len(self.normalised)} of "
                f"{self.n_reference} reference files match ({self.seconds:.1f} s)")

    def listing(self) -> list[str]:
        """Every file that is not byte-identical to the reference copy, one ``status: path`` line each."""
        rows = [(p, "missing") for p in self.missing] + [(p, "extra") for p in self.extra]
        rows += [(p, "different") for p in self.different]
        rows += [(p, "matches after normalising") for p in self.normalised]
        return [f"{status}: {path}" for path, status in sorted(rows)]

    def manifest_entry(self) -> dict[str, Any]:
        """What a run's manifest records (``dataset.integrity_check``)."""
        return {"verdict": self.verdict, "reference": "data/reference_sha256.txt",
                "n_reference": self.n_reference, "missing": self.missing[:20], "extra": self.extra[:20],
                "different": self.different[:20], "n_missing": len(self.missing), "n_extra": len(self.extra),
                "n_different": len(self.different), "n_normalised": len(self.normalised),
                "seconds": round(self.seconds, 2)}


def release_files(root: Path) -> list[str]:
    """Relative paths (POSIX) of every file under the release folders of ``root``, sorted."""
    files = []
    for sub in RELEASE_DIRS:
        base = root / sub
        if base.is_dir():
            files += [p.relative_to(root).as_posix() for p in base.rglob("*") if p.is_file()]
    return sorted(files)


def _hash_one(root: Path, rel: str, want_text: bool) -> tuple[str, str | None, int]:
    """(sha256 of the bytes, sha256 of the normalised text or None, size) of one file."""
    path = root / rel
    if not want_text:
        return sha256_file(path), None, path.stat().st_size
    data = path.read_bytes()
    norm = normalised_text(data)
    return hashlib.sha256(data).hexdigest(), None if norm is None else hashlib.sha256(norm).hexdigest(), len(data)


def hash_tree(root: Path, files: Iterable[str],
              workers: int = DEFAULT_WORKERS) -> dict[str, tuple[str, str | None, int]]:
    """SHA-256 (and, for label/split files, the normalised-content SHA-256) of ``files`` under ``root``.

    Each file is read once (in chunks of :data:`core.hashing.CHUNK`; label/split files whole), on ``workers`` threads.

    Returns
    -------
    dict
        relative path -> (byte digest, normalised digest or None, size in bytes).
    """
    files = list(files)
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        results = pool.map(lambda rel: _hash_one(root, rel, rel.startswith(f"{TEXT_DIR}/")), files)
        return dict(zip(files, results, strict=True))


def _check_root(root: Path) -> None:
    if not root.is_dir():
        raise DataError(f"{root}: data folder not found; pass --data-dir DIR or set {ENV_VAR}=DIR")
    if not any((root / sub).is_dir() for sub in RELEASE_DIRS):
        raise DataError(f"{root}: not a SCUT-FBP5500 release folder (none of {', '.join(RELEASE_DIRS)}/ in it)")


def check_integrity(root: str | os.PathLike, reference: str | os.PathLike = REFERENCE_SUMS,
                    workers: int = DEFAULT_WORKERS) -> IntegrityReport:
    """Compare the copy at ``root`` with a reference hash list.

    Every file under :data:`RELEASE_DIRS` is hashed once. A file listed in the reference is
    identical when its SHA-256 matches; a label or split file (under ``train_test_files/``)
    also matches when its normalised content hash equals the reference's (see
    :data:`REFERENCE_TEXT_SUMS`, looked up beside ``reference`` as :func:`text_sums_path`).

    Parameters
    ----------
    root : path
        The dataset copy.
    reference : path
        ``sha256sum`` list of the reference copy (default: the committed one).
    workers : int
        Hashing threads.

    Raises
    ------
    DataError
        If ``root`` is not a folder or holds none of the release folders, or a hash list is
        missing or malformed (one line naming the file).
    """
    t0 = time.perf_counter()
    root = Path(root)
    _check_root(root)
    sums = read_sums(Path(reference))
    text_path = text_sums_path(Path(reference))
    text_sums = read_sums(text_path) if text_path.is_file() else {}
    present = release_files(root)
    present_set = set(present)
    digests = hash_tree(root, present, workers)
    report = IntegrityReport(root=root, n_reference=len(sums))
    report.missing = sorted(set(sums) - present_set)
    report.extra = [p for p in present if p not in sums]
    for rel in present:
        if rel not in sums:
            continue
        byte_digest, text_digest, _ = digests[rel]
        if byte_digest == sums[rel]:
            report.identical += 1
        elif text_digest is not None and text_sums.get(rel) == text_digest:
            report.normalised.append(rel)
        else:
            report.different.append(rel)
    report.n_bytes = sum(size for _, _, size in digests.values())
    report.seconds = time.perf_counter() - t0
    return report


def write_text_sums(root: str | os.PathLike, sums: str | os.PathLike, out: str | os.PathLike | None = None) -> Path:
    """Write the normalised-content hash list of the label/split files named in ``sums``.

    Used once to derive ``data/reference_sha256_text.txt`` from the reference copy (and by the
    tests for a synthetic copy); only hashes and file names are written.

    Returns
    -------
    Path
        The file written (default: :func:`text_sums_path` of ``sums``).
    """
    from core.atomic import atomic_write_text

    root = Path(root)
    listed = [rel for rel in read_sums(Path(sums)) if rel.startswith(f"{TEXT_DIR}/")]
    lines = []
    for rel in sorted(listed):
        norm = normalised_text((root / rel).read_bytes())
        if norm is None:
            raise DataError(f"{root / rel}: not UTF-8 text")
        lines.append(f"{hashlib.sha256(norm).hexdigest()}  ./{rel}\n")
    out = Path(out) if out is not None else text_sums_path(Path(sums))
    header = ("# SHA-256 of the normalised content of the label and split files of the SCUT-FBP5500 reference "
              "copy (data/integrity.py: normalised_text)\n")
    return atomic_write_text(out, header + "".join(lines))


def write_sums(root: str | os.PathLike, out: str | os.PathLike, files: Iterable[str] | None = None) -> Path:
    """Write a ``sha256sum`` list of ``files`` (default: every release file) under ``root`` (tests, tools)."""
    from core.atomic import atomic_write_text

    root = Path(root)
    files = release_files(root) if files is None else list(files)
    digests = hash_tree(root, files)
    return atomic_write_text(out, "".join(f"{digests[rel][0]}  ./{rel}\n" for rel in sorted(files)))


def check_parser(add_help: bool = True) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        add_help=add_help, prog="run_benchmark.py check-data",
        description="Compare a copy of SCUT-FBP5500 with the SHA-256 of every file of the reference copy "
                    "(data/reference_sha256.txt). Exit status: 0 matches, 3 differs, 1 bad input.")
    p.add_argument("--data-dir", help=f"dataset root (default: ${ENV_VAR}, else data/SCUT-FBP5500_v2)")
    p.add_argument("--full", action="store_true",
                   help="also list every file that is missing, extra, different or matches only after normalising")
    p.add_argument("--reference", type=Path, default=REFERENCE_SUMS,
                   help="sha256sum list to compare with (default: data/reference_sha256.txt)")
    p.add_argument("--workers", type=int, default=DEFAULT_WORKERS, help=f"hashing threads (default {DEFAULT_WORKERS})")
    return p


#: Exit status of ``check-data`` when the copy differs from the reference copy.
EXIT_DIFFERS = 3


def cmd_check_data(args: argparse.Namespace, argv: list[str]) -> int:
    """``run_benchmark.py check-data``: ``args`` parsed by :func:`check_parser`; returns the exit status."""
    if args.workers < 1:
        raise ConfigError(f"--workers must be at least 1, got {args.workers}")
    report = check_integrity(resolve_data_dir(args.data_dir), args.reference, args.workers)
    print(f"check-data: {report.summary()}")
    if args.full:
        for line in report.listing():
            print(f"  {line}")
    elif report.listing() and not report.matches:
        print("  (run with --full to list every file)", file=sys.stderr)
    return 0 if report.matches else EXIT_DIFFERS


def integrity_of(dataset: Any, reference: Path | None = None) -> dict[str, Any]:
    """A run's ``dataset.integrity_check``: :meth:`IntegrityReport.manifest_entry` of its data folder.

    A packed copy (``data/pack.py``: no ``Images/`` folder) is not checked; its entry says so (the
    pack's own manifest records the fingerprint of the release it was made from).
    """
    root = Path(dataset.root)
    if not (root / RELEASE_DIRS[0]).is_dir():
        return {"verdict": "not checked (a packed copy; see its manifest for the source release)"}
    return check_integrity(root, reference or REFERENCE_SUMS).manifest_entry()
