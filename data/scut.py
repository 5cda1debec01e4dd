"""The SCUT-FBP5500 dataset in its official release layout.

Layout (``SCUT-FBP5500_v2.zip``)::

    ROOT/Images/AF1.jpg ... CM750.jpg                (5500 RGB JPEGs, 350x350)
    ROOT/facial landmark/AF1.pts ...                 (86 manual landmarks, binary)
    ROOT/train_test_files/All_labels.txt             (<file> <mean score 1-5>)
    ROOT/train_test_files/5_folders_cross_validations_files/cross_validation_K/{train,test}_K.txt
    ROOT/train_test_files/split_of_60%training and 40%testing/{train,test}.txt

Older split files spell the image names ``fty/mty/ftw/mtw``; they are mapped to
``AF/AM/CF/CM`` on reading.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np

from core.errors import DataError
from data.pts import read_pts

ENV_VAR = "FBP_DATA_DIR"
DEFAULT_DIR = Path(__file__).resolve().parent / "SCUT-FBP5500_v2"
DOWNLOAD_HINT = ("download SCUT-FBP5500_v2.zip from the dataset authors' release "
                 "(https://github.com/HCIILAB/SCUT-FBP5500-Database-Release), unzip it, and pass "
                 f"--data-dir DIR or set {ENV_VAR}=DIR")
LABELS_FILE = Path("train_test_files") / "All_labels.txt"
SCORE_RANGE = (1.0, 5.0)
#: A landmark file breaking this many layout rules is treated as misordered (unusable).
MISORDERED_RULES = 3

_OLD_PREFIX = {"fty": "AF", "mty": "AM", "ftw": "CF", "mtw": "CM"}
_NAME_RE = re.compile(r"^(AF|AM|CF|CM|fty|mty|ftw|mtw)(\d+)\.jpg$", re.IGNORECASE)
SUBSETS = ("AF", "AM", "CF", "CM")


def canonical_image_name(name: str) -> str:
    """Map an image name of either spelling to the release spelling (``fty12.jpg`` -> ``AF12.jpg``).

    Raises
    ------
    ValueError
        If ``name`` is not a SCUT-FBP5500 image name.
    """
    m = _NAME_RE.match(name.strip())
    if not m:
        raise ValueError(f"not a SCUT-FBP5500 image name: {name!r}")
    prefix = m.group(1)
    prefix = _OLD_PREFIX.get(prefix.lower(), prefix.upper())
    return f"{prefix}{int(m.group(2))}.jpg"


def subset_of(name: str) -> str:
    """The subset code of an image: ``AF``, ``AM``, ``CF`` or ``CM``."""
    return canonical_image_name(name)[:2]


def resolve_data_dir(cli_value: str | os.PathLike | None = None) -> Path:
    """The dataset root: ``--data-dir``, else ``$FBP_DATA_DIR``, else ``data/SCUT-FBP5500_v2``."""
    if cli_value:
        return Path(cli_value).expanduser()
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env).expanduser()
    return DEFAULT_DIR


def read_score_file(path: Path, known: set[str] | None = None) -> list[tuple[str, float]]:
    """Parse a ``<image name> <score>`` file (labels or split file).

    Parameters
    ----------
    path : Path
        The file.
    known : set of str, optional
        Canonical names allowed; a line naming another image is an error.

    Returns
    -------
    list of (canonical name, score) in file order.

    Raises
    ------
    DataError
        ``file:line: problem`` for a malformed line, an unknown image, a score outside [1, 5]
        or a duplicate name.
    """
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except UnicodeDecodeError as err:
        raise DataError(f"{path}: not a text file ({err.reason})") from None
    rows: list[tuple[str, float]] = []
    seen: set[str] = set()
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) != 2:
            raise DataError(f"{path}:{lineno}: expected '<image> <score>', got {line.strip()!r}")
        try:
            name = canonical_image_name(parts[0])
        except ValueError:
            raise DataError(f"{path}:{lineno}: not a SCUT-FBP5500 image name: {parts[0]!r}") from None
        try:
            score = float(parts[1])
        except ValueError:
            raise DataError(f"{path}:{lineno}: score is not a number: {parts[1]!r}") from None
        if not (SCORE_RANGE[0] <= score <= SCORE_RANGE[1]):
            raise DataError(f"{path}:{lineno}: score {score} outside [{SCORE_RANGE[0]:g}, {SCORE_RANGE[1]:g}]")
        if name in seen:
            raise DataError(f"{path}:{lineno}: image {name} listed twice")
        if known is not None and name not in known:
            raise DataError(f"{path}:{lineno}: image {name} is not in the dataset's label file")
        seen.add(name)
        rows.append((name, score))
    if not rows:
        raise DataError(f"{path}: file has no entries")
    return rows


@dataclass(frozen=True)
class FaceRecord:
    """One face to extract features from.

    Attributes
    ----------
    image_id : str
        Canonical image name (``AF1.jpg``) or, for a user photo, its path and face index.
    image_path : Path
        The image file.
    landmarks : ndarray of shape (86, 2) or None
        Manual SCUT landmarks in image pixels; ``None`` where the ``.pts`` file is missing
        or empty (features then fall back to detected landmarks).
    box : tuple of 4 ints or None
        Face box ``(left, top, right, bottom)`` when known from a detector (user photos).
    content_hash : str
        Hash of the image bytes and landmark bytes; the feature cache key.
    landmark_status : str
        ``ok``, or why ``landmarks`` is None: ``missing``, ``empty`` or ``misordered``.
    """

    image_id: str
    image_path: Path
    landmarks: np.ndarray | None = field(default=None, compare=False, repr=False)
    box: tuple[int, int, int, int] | None = None
    content_hash: str = ""
    landmark_status: str = "ok"


class ScutFBP5500:
    """SCUT-FBP5500 in the official release layout, read from ``root``.

    Parameters
    ----------
    root : str or Path
        Dataset root (the folder holding ``Images/``, ``facial landmark/``, ``train_test_files/``).

    Raises
    ------
    DataError
        If the folder or its label file is not found ("not found or corrupted"), with a hint on
        how to obtain the release.
    """

    def __init__(self, root: str | os.PathLike) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise DataError(f"{self.root}: SCUT-FBP5500 dataset not found; {DOWNLOAD_HINT}")
        for sub in ("Images", str(LABELS_FILE)):
            if not (self.root / sub).exists():
                raise DataError(f"{self.root / sub}: not found; the dataset folder is incomplete or "
                                f"not the release layout; {DOWNLOAD_HINT}")

    @property
    def image_dir(self) -> Path:
        return self.root / "Images"

    @property
    def landmark_dir(self) -> Path:
        return self.root / "facial landmark"

    @property
    def split_dir(self) -> Path:
        return self.root / "train_test_files"

    @cached_property
    def labels(self) -> dict[str, float]:
        """Mean attractiveness score (1-5) per canonical image name, from ``All_labels.txt``."""
        return dict(read_score_file(self.root / LABELS_FILE))

    @property
    def names(self) -> list[str]:
        """All canonical image names in label-file order."""
        return list(self.labels)

    def image_path(self, name: str) -> Path:
        """Path of an image; raises DataError naming the file if it is absent."""
        path = self.image_dir / canonical_image_name(name)
        if not path.is_file():
            raise DataError(f"{path}: image listed in the labels/split is missing")
        return path

    def landmark_path(self, name: str) -> Path:
        return self.landmark_dir / canonical_image_name(name).replace(".jpg", ".pts")

    def landmarks_with_status(self, name: str) -> tuple[np.ndarray | None, str]:
        """The 86 manual landmarks and ``"ok"``, or None and why they are unusable.

        ``missing``: no ``.pts`` file; ``empty``: the file declares 0 points (the release's
        ``CM152.pts``); ``misordered``: the points break :data:`MISORDERED_RULES` or more of the
        layout rules of :func:`data.landmark_map.layout_violations` (18 release files list
        their points in another order). Features then fall back to dlib's detected landmarks.
        A truncated or otherwise corrupt ``.pts`` file raises DataError naming it.
        """
        from data.landmark_map import layout_violations

        path = self.landmark_path(name)
        if not path.is_file():
            return None, "missing"
        raw = path.read_bytes()
        if len(raw) == 0 or (len(raw) == 4 and int(np.frombuffer(raw, "<i4")[0]) == 0):
            return None, "empty"
        points = read_pts(path)
        if len(layout_violations(points)) >= MISORDERED_RULES:
            return None, "misordered"
        return points, "ok"

    def landmarks(self, name: str) -> np.ndarray | None:
        """The usable 86 manual landmarks of an image, or None (see :meth:`landmarks_with_status`)."""
        return self.landmarks_with_status(name)[0]

    def record(self, name: str) -> FaceRecord:
        """The :class:`FaceRecord` of one image, with its content hash."""
        name = canonical_image_name(name)
        img_path = self.image_path(name)
        digest = hashlib.sha1(img_path.read_bytes())
        pts_path = self.landmark_path(name)
        if pts_path.is_file():
            digest.update(pts_path.read_bytes())
        landmarks, status = self.landmarks_with_status(name)
        digest.update(status.encode())
        return FaceRecord(image_id=name, image_path=img_path, landmarks=landmarks,
                          content_hash=digest.hexdigest(), landmark_status=status)

    def records(self, names: list[str] | None = None) -> list[FaceRecord]:
        """Records for ``names`` (default: every labelled image), in that order."""
        return [self.record(n) for n in (self.names if names is None else names)]

    def fingerprint(self) -> str:
        """Hash of the label file and every split file: identifies the dataset version."""
        digest = hashlib.sha256()
        files = [self.root / LABELS_FILE, *sorted(self.split_dir.rglob("*.txt"))]
        for f in files:
            digest.update(f.relative_to(self.root).as_posix().encode())
            digest.update(f.read_bytes())
        return digest.hexdigest()[:16]
