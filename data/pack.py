"""A compact, verified pack of SCUT-FBP5500 for the CNNs: 256x256 WebP images, labels, splits.

The pack lets a GPU machine that can only receive a few tens of MiB train the CNNs: all 5500
images resized to 256x256 and stored as WebP (quality 85, about 30 MiB) in one file, the
labels and the official split files, and a ``manifest.json`` with the sha256 of every file.
It is made from the user's own copy of the release and is dataset content under the
dataset's non-commercial licence: write it only to a git-ignored folder (``data/packed/``
is; the command refuses a folder inside this repository that git does not ignore) and never
commit or ship it.

Layout of a pack folder::

    manifest.json          format, settings, source fingerprint, per-file sha256, image index
    images.bin             concatenated WebP files (offsets/lengths in the manifest)
    labels.txt             <image> <mean score> for every packed image
    splits/5fold/train_K.txt, test_K.txt   (K = 1..5)
    splits/60-40/train.txt, test.txt

Command::

    python -m data.pack --data-dir DIR --out data/packed      # make
    python -m data.pack --check data/packed                   # verify sha256s and decode all

:class:`PackedDataset` reads a pack (verifying it) and decodes it once into a uint8 array
``(N, 256, 256, 3)``, the CNNs' image source.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, UnidentifiedImageError

from core.errors import ConfigError, DataError, one_line_errors
from core.hashing import sha256_file
from data.images import load_rgb
from data.protocols import FIVE_FOLD_DIR, SIXTY_FORTY_DIR, TEN_FOLD, Split, read_split_folder, ten_fold_splits
from data.scut import ScutFBP5500, read_score_file, resolve_data_dir

FORMAT = "fbp-bench-pack"
VERSION = 1
IMAGE_SIZE = 256
QUALITY = 85
MANIFEST = "manifest.json"
IMAGES_FILE = "images.bin"
LABELS_FILE = "labels.txt"
SPLITS_DIR = "splits"
#: Protocol name -> (folder in the release, folder in the pack).
PROTOCOL_DIRS = {"5fold": (FIVE_FOLD_DIR, f"{SPLITS_DIR}/5fold"),
                 "60-40": (SIXTY_FORTY_DIR, f"{SPLITS_DIR}/60-40")}
DEFAULT_OUT = Path(__file__).resolve().parent / "packed"
REPO_ROOT = Path(__file__).resolve().parent.parent
_PACK_NAMES = (MANIFEST, IMAGES_FILE, LABELS_FILE, SPLITS_DIR)
#: The previous pack while a new one is swapped in (inside the new pack's folder, then deleted).
_OLD_PACK = ".old-pack"


def resize_rgb(rgb: np.ndarray, size: int = IMAGE_SIZE) -> np.ndarray:
    """Resize an RGB image to ``size`` x ``size`` (bilinear with Pillow's antialiasing).

    Parameters
    ----------
    rgb : ndarray (H, W, 3), uint8

    Returns
    -------
    ndarray (size, size, 3), uint8
    """
    im = Image.fromarray(rgb)
    if im.size != (size, size):
        im = im.resize((size, size), Image.Resampling.BILINEAR)
    return np.asarray(im, dtype=np.uint8)


def encode_image(path: str, size: int = IMAGE_SIZE, quality: int = QUALITY) -> bytes:
    """Decode an image file, resize it to ``size`` x ``size`` and encode it as WebP bytes."""
    rgb = resize_rgb(load_rgb(path), size)
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "WEBP", quality=quality, method=4)
    return buf.getvalue()


def _decode_cv2(data: bytes) -> np.ndarray | None:
    """OpenCV's WebP decoder (same libwebp output), for a Pillow built without WebP."""
    try:
        import cv2
    except ImportError:
        return None
    bgr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    return None if bgr is None else np.ascontiguousarray(bgr[:, :, ::-1])


def decode_webp(data: bytes, size: int, what: str = "image") -> np.ndarray:
    """WebP bytes -> (size, size, 3) uint8; DataError naming ``what`` if corrupt or mis-sized.

    Pillow decodes; where Pillow cannot (e.g. built without WebP), OpenCV is tried.
    """
    try:
        with Image.open(io.BytesIO(data)) as im:
            rgb = np.asarray(im.convert("RGB"), dtype=np.uint8)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as err:
        fallback = _decode_cv2(data)
        if fallback is None:
            raise DataError(f"{what}: cannot decode packed image ({err})") from None
        rgb = fallback
    if rgb.shape != (size, size, 3):
        raise DataError(f"{what}: packed image is {rgb.shape}, expected ({size}, {size}, 3)")
    return rgb


class _Serial:
    """In-process stand-in for an executor (``workers=1``)."""

    def __enter__(self) -> _Serial:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def map(self, fn: Any, *iterables: Iterable[Any], chunksize: int = 1) -> Iterable[Any]:
        return map(fn, *iterables)


def _check_output_folder(out: Path) -> None:
    """Refuse an output inside this repository that git does not ignore (dataset licence)."""
    try:
        out.resolve().relative_to(REPO_ROOT)
    except ValueError:
        return  # outside the repository
    try:
        # a path inside the folder: a "dir/" pattern cannot match a folder that does not exist yet
        probe = out.resolve() / MANIFEST
        res = subprocess.run(["git", "check-ignore", "-q", str(probe)], cwd=REPO_ROOT,
                             capture_output=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return  # no git: nothing to commit into either
    if res.returncode == 1:
        raise ConfigError(f"{out}: inside the repository but not git-ignored; the pack is dataset content "
                          "(non-commercial licence) and must not be committed: use data/packed/")


def _check_replaceable(out: Path) -> None:
    """Refuse an output that is a file, or a non-empty folder that holds no pack (nothing is changed)."""
    if out.exists() and not out.is_dir():
        raise ConfigError(f"{out}: exists and is not a folder")
    if out.is_dir():
        entries = {p.name for p in out.iterdir()}
        if entries and MANIFEST not in entries:
            raise ConfigError(f"{out}: folder is not empty and holds no pack ({MANIFEST}); "
                              "choose an empty or new folder")


def _new_pack_folder(out: Path) -> Path:
    """A new temporary folder beside ``out`` for the pack being made.

    It holds a ``.gitignore`` of ``*`` (removed as it is swapped in) so that git ignores the
    dataset content in it even where its name is not git-ignored.
    """
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".partial", dir=out.parent))
    (tmp / ".gitignore").write_text("*\n", encoding="utf-8")
    return tmp


def _swap_in(tmp: Path, out: Path) -> None:
    """Replace ``out`` (absent, empty or an old pack) with the complete pack in ``tmp``, by renames.

    The old folder is first renamed into ``tmp`` (as :data:`_OLD_PACK`, still git-ignored), then
    ``tmp`` is renamed to ``out``; entries of the old folder that are not part of a pack
    (:data:`_PACK_NAMES`) are moved into the new one and the old pack is deleted. If the second
    rename fails, the old folder is put back.
    """
    old = tmp / _OLD_PACK
    if out.is_dir():
        os.rename(out, old)
    (tmp / ".gitignore").unlink()
    try:
        os.rename(tmp, out)
    except BaseException:
        if old.is_dir():
            os.rename(old, out)
        raise
    old = out / _OLD_PACK
    if old.is_dir():
        for entry in old.iterdir():
            if entry.name not in (*_PACK_NAMES, _OLD_PACK) and not (out / entry.name).exists():
                os.rename(entry, out / entry.name)
        shutil.rmtree(old)


def _write_scores(path: Path, rows: Iterable[tuple[str, float]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{name} {score!r}\n" for name, score in rows), encoding="utf-8")


def pack_dataset(data_dir: str | os.PathLike, out: str | os.PathLike = DEFAULT_OUT,
                 size: int = IMAGE_SIZE, quality: int = QUALITY, limit: int | None = None,
                 workers: int | None = None, progress: bool = True) -> Path:
    """Write a pack of the release at ``data_dir`` into ``out``.

    Parameters
    ----------
    data_dir : path-like
        The SCUT-FBP5500 release root.
    out : path-like
        Output folder (created; an existing pack there is replaced). Must be git-ignored if it
        is inside this repository. The new pack is written into a temporary folder beside it
        and swapped in only when complete: on any error (a corrupt image, say) the old pack is
        left as it was and the temporary folder is removed.
    size : int
        Image side in pixels.
    quality : int
        WebP quality (0-100).
    limit : int, optional
        Pack only the first ``limit`` images of the label file (tests); split files are then
        filtered to those images and the manifest records ``subset: true``.
    workers : int, optional
        Encoding processes (default: CPU count).
    progress : bool
        Print progress to stderr.

    Returns
    -------
    Path
        The manifest file.

    Raises
    ------
    DataError
        Dataset missing/corrupt (one line naming the file).
    ConfigError
        Output folder not usable.
    """
    t0 = time.perf_counter()
    ds = ScutFBP5500(data_dir)
    out = Path(out)
    _check_output_folder(out)
    labels = ds.labels
    names = list(labels)[:limit] if limit else list(labels)
    keep = set(names)
    splits: dict[str, list[tuple[str, list[tuple[str, float]]]]] = {}
    for protocol, (src_rel, _dst) in PROTOCOL_DIRS.items():
        src = ds.root / src_rel
        files = sorted(src.rglob("*.txt")) if src.is_dir() else []
        if not files:
            raise DataError(f"{src}: split folder missing or empty")
        splits[protocol] = [(f.name, [r for r in read_score_file(f, set(labels)) if r[0] in keep])
                            for f in files if f.name.startswith(("train", "test"))]
    paths = [str(ds.image_path(n)) for n in names]
    _check_replaceable(out)
    target = out.resolve()
    tmp = _new_pack_folder(target)  # the new pack is written beside the old one, swapped in when complete
    try:
        n_bytes = _write_pack(tmp, ds, labels, names, paths, splits, size, quality, limit, workers, progress)
        _swap_in(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if progress:
        print(f"wrote {out} ({len(names)} images, {n_bytes / 2**20:.1f} MiB of WebP) in "
              f"{time.perf_counter() - t0:.1f} s", file=sys.stderr)
    return out / MANIFEST


def _write_pack(out: Path, ds: ScutFBP5500, labels: dict[str, float], names: list[str], paths: list[str],
                splits: dict[str, list[tuple[str, list[tuple[str, float]]]]], size: int, quality: int,
                limit: int | None, workers: int | None, progress: bool) -> int:
    """Encode the images and write every file of a pack into the new folder ``out``; returns the WebP bytes."""
    workers = workers or os.cpu_count() or 1
    blobs: list[bytes] = []
    sizes, qualities = [size] * len(paths), [quality] * len(paths)
    with ProcessPoolExecutor(max_workers=workers) if workers > 1 else _Serial() as pool:
        for i, blob in enumerate(pool.map(encode_image, paths, sizes, qualities, chunksize=32), start=1):
            blobs.append(blob)
            if progress and (i % 500 == 0 or i == len(paths)):
                print(f"packed {i}/{len(paths)} images", file=sys.stderr, flush=True)
    offsets = np.concatenate([[0], np.cumsum([len(b) for b in blobs])]).astype(np.int64)
    with open(out / IMAGES_FILE, "wb") as fh:
        for blob in blobs:
            fh.write(blob)
    _write_scores(out / LABELS_FILE, ((n, labels[n]) for n in names))
    split_files: list[str] = []
    protocols: list[str] = []
    for protocol, files in splits.items():
        if any(not rows for _, rows in files):
            continue  # a subset pack leaves some split empty: that protocol is not in the pack
        protocols.append(protocol)
        for fname, rows in files:
            rel = f"{PROTOCOL_DIRS[protocol][1]}/{fname}"
            _write_scores(out / rel, rows)
            split_files.append(rel)
    from PIL import __version__ as pil_version

    file_list = [IMAGES_FILE, LABELS_FILE, *split_files]
    manifest = {
        "format": FORMAT, "version": VERSION, "image_size": size, "webp_quality": quality,
        "resize": "Pillow bilinear (antialiased) from the release JPEG, EXIF-oriented RGB",
        "encoder": f"Pillow {pil_version} WebP method 4", "count": len(names),
        "subset": bool(limit and limit < len(labels)), "protocols": protocols,
        "source_fingerprint": ds.fingerprint(),
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "licence": "SCUT-FBP5500: non-commercial research use only; never commit or ship this folder",
        "files": {f: sha256_file(out / f) for f in file_list},
        "images": {"file": IMAGES_FILE, "names": names, "offsets": offsets[:-1].tolist(),
                   "lengths": np.diff(offsets).tolist()},
    }
    (out / MANIFEST).write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    return int(offsets[-1])


class PackedDataset:
    """A pack written by :func:`pack_dataset`, verified on opening.

    Parameters
    ----------
    root : path-like
        The pack folder.
    verify : bool
        Check the sha256 of every file listed in the manifest (about 0.1 s for a full pack).

    Raises
    ------
    DataError
        Missing manifest or file, unknown format, or a sha256 mismatch (one line naming the file).
    """

    def __init__(self, root: str | os.PathLike = DEFAULT_OUT, verify: bool = True) -> None:
        self.root = Path(root)
        mpath = self.root / MANIFEST
        if not mpath.is_file():
            raise DataError(f"{mpath}: no pack here; make one with "
                            f"`python -m data.pack --data-dir DIR --out {self.root}`")
        try:
            self.manifest: dict[str, Any] = json.loads(mpath.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise DataError(f"{mpath}: not a valid manifest ({err})") from None
        if self.manifest.get("format") != FORMAT or self.manifest.get("version") != VERSION:
            raise DataError(f"{mpath}: not a {FORMAT} v{VERSION} manifest; re-make the pack")
        self.image_size: int = int(self.manifest["image_size"])
        index = self.manifest["images"]
        self._names: list[str] = list(index["names"])
        self._offsets = np.asarray(index["offsets"], dtype=np.int64)
        self._lengths = np.asarray(index["lengths"], dtype=np.int64)
        self._pos = {n: i for i, n in enumerate(self._names)}
        self._decoded: np.ndarray | None = None
        if verify:
            self.verify()

    def verify(self) -> None:
        """Check every file's sha256 against the manifest; raise DataError on the first mismatch."""
        for rel, expected in self.manifest["files"].items():
            path = self.root / rel
            if not path.is_file():
                raise DataError(f"{path}: listed in the pack manifest but missing")
            if sha256_file(path) != expected:
                raise DataError(f"{path}: sha256 does not match the pack manifest (corrupt or changed); "
                                "re-make the pack with `python -m data.pack`")

    @property
    def names(self) -> list[str]:
        """Packed image names in pack order (the label-file order)."""
        return list(self._names)

    @property
    def labels(self) -> dict[str, float]:
        """Mean score (1-5) per packed image name."""
        if not hasattr(self, "_labels"):
            self._labels = dict(read_score_file(self.root / LABELS_FILE))
        return self._labels

    def fingerprint(self) -> str:
        """Fingerprint of the release the pack was made from (:meth:`ScutFBP5500.fingerprint`)."""
        return str(self.manifest["source_fingerprint"])

    def protocols(self, spec: str) -> list[list[Split]]:
        """Splits of ``spec`` (``5fold``, ``60-40`` or ``all``) from the pack's split files; ``10fold`` from its labels.

        Same result as :func:`data.protocols.load_protocols` on the release.
        """
        if spec == "all":
            return [self.protocols(p)[0] for p in self.manifest.get("protocols", PROTOCOL_DIRS)]
        if spec == TEN_FOLD:
            return [ten_fold_splits(self.labels)]
        if spec not in PROTOCOL_DIRS:
            raise ConfigError(f"unknown protocol {spec!r} for a pack. Valid protocols: "
                              f"{', '.join([*PROTOCOL_DIRS, TEN_FOLD, 'all'])}")
        if spec not in self.manifest.get("protocols", PROTOCOL_DIRS):
            raise DataError(f"{self.root}: this subset pack has no complete {spec} split files")
        return [read_split_folder(self.root / PROTOCOL_DIRS[spec][1], spec, set(self.labels))]

    def indices(self, names: Sequence[str]) -> np.ndarray:
        """Positions of ``names`` in the pack, shape (len(names),) int64."""
        try:
            return np.fromiter((self._pos[n] for n in names), dtype=np.int64, count=len(names))
        except KeyError as err:
            raise DataError(f"{self.root}: image {err.args[0]} is not in the pack") from None

    def scores(self, names: Sequence[str]) -> np.ndarray:
        """Mean scores of ``names``, shape (len(names),) float32."""
        labels = self.labels
        return np.array([labels[n] for n in names], dtype=np.float32)

    def decode_all(self, workers: int | None = None) -> np.ndarray:
        """All packed images decoded once (cached on the object).

        Returns
        -------
        ndarray (N, S, S, 3), uint8
            In pack order (:attr:`names`); S = ``image_size`` (256).
        """
        if self._decoded is None:
            blob = (self.root / IMAGES_FILE).read_bytes()
            n, s = len(self._names), self.image_size
            out = np.empty((n, s, s, 3), dtype=np.uint8)

            def work(i: int) -> None:
                start = int(self._offsets[i])
                out[i] = decode_webp(blob[start:start + int(self._lengths[i])], s,
                                     f"{self.root / IMAGES_FILE}[{self._names[i]}]")

            with ThreadPoolExecutor(max_workers=workers or os.cpu_count() or 1) as pool:
                list(pool.map(work, range(n)))
            self._decoded = out
        return self._decoded

    def images(self, names: Sequence[str], size: int | None = None) -> np.ndarray:
        """Decoded images of ``names``: (len(names), S, S, 3) uint8 (a copy, from the cache).

        ``size`` resizes them to ``size`` x ``size`` (default: the pack's ``image_size``).
        """
        out = self.decode_all()[self.indices(names)]
        if size is None or size == out.shape[1]:
            return out
        return np.stack([resize_rgb(im, size) for im in out]) if len(out) else out[:, :size, :size]


def decode_release_images(dataset: ScutFBP5500, names: Sequence[str], size: int = IMAGE_SIZE,
                          workers: int | None = None) -> np.ndarray:
    """Images straight from the release JPEGs, resized like the pack but without WebP loss.

    Returns
    -------
    ndarray (len(names), size, size, 3), uint8
    """
    out = np.empty((len(names), size, size, 3), dtype=np.uint8)

    def work(i: int) -> None:
        out[i] = resize_rgb(load_rgb(dataset.image_path(names[i])), size)

    with ThreadPoolExecutor(max_workers=workers or os.cpu_count() or 1) as pool:
        list(pool.map(work, range(len(names))))
    return out


@one_line_errors
def main(argv: list[str] | None = None) -> int:
    """``python -m data.pack``; returns the exit code."""
    parser = argparse.ArgumentParser(prog="python -m data.pack", description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", help="SCUT-FBP5500 release root (default: $FBP_DATA_DIR or "
                                           "data/SCUT-FBP5500_v2)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="pack folder (default: data/packed)")
    parser.add_argument("--size", type=int, default=IMAGE_SIZE, help="image side in pixels (default 256)")
    parser.add_argument("--quality", type=int, default=QUALITY, help="WebP quality (default 85)")
    parser.add_argument("--limit", type=int, help="pack only the first N images (for tests)")
    parser.add_argument("--workers", type=int, help="encoding processes (default: CPU count)")
    parser.add_argument("--check", type=Path, metavar="PACK",
                        help="verify an existing pack and decode it all")
    args = parser.parse_args(argv)
    if args.check:
        t0 = time.perf_counter()
        pack = PackedDataset(args.check)
        arr = pack.decode_all()
        print(f"ok {args.check}: {arr.shape[0]} images {arr.shape[1]}x{arr.shape[2]}, sha256 verified, "
              f"decoded in {time.perf_counter() - t0:.1f} s")
        return 0
    pack_dataset(resolve_data_dir(args.data_dir), args.out, args.size, args.quality, args.limit,
                 args.workers)
    return 0


if __name__ == "__main__":
    sys.exit(main())
