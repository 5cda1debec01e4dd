"""``python run_benchmark.py audit``: test images whose person (or image) also appears in the training part.

SCUT-FBP5500 holds several photos of some people, so a test image can share an identity with a
training image of the same split. For every split of a protocol the audit finds

* **same person**: test images whose nearest training image, by dlib's 128-D face descriptor
  (:class:`features.dlib_embed.DlibEmbedding`, default parameters), is closer than
  :data:`SAME_PERSON` (0.6, the distance under which dlib calls two faces the same person;
  its LFW calibration) and, stricter, :data:`STRICT` (0.25, ``--strict``). On SCUT-FBP5500 dlib's
  0.6 is dominated by look-alikes: about 94% of every official test fold has a training face
  under 0.6 (74% under 0.5). The strict default was set by eye on the contact sheets of the
  official 5-fold audit (:data:`STRICT`'s comment): below it the pairs looked were the same
  person, above about 0.3 different people;
* **near-duplicate images**: (test, training) pairs whose 64-bit DCT perceptual hash
  (:func:`phash`) differs in at most :data:`NEAR_DUPLICATE_BITS` bits. On
  these uniformly framed, frontal faces the hash separates images poorly: at 2 bits most pairs
  looked at were different people, so the default is identical hashes; copies of one photo are
  caught by the descriptor anyway (distance under 0.12).

Descriptors go through the feature cache (:class:`benchmark.feature_cache.FeatureCache`), so the
ones a benchmark run computed for ``dlib-embed`` are reused (and the audit's are reused by later
runs). Into ``OUT/audit/`` it writes ``identity-audit.md``/``.tex`` (counts per split),
``pairs-<protocol>.csv`` (image names and distances only: no labels) and
``contact-sheet-<protocol>.png`` (the first pairs, rendered from the real images: git-ignored,
never commit it; it shows dataset images).

``python run_benchmark.py report`` renders each row's PC/MAE/RMSE on the identity-disjoint part
of each test fold from these pairs files (``tables/identity-<protocol>``, :mod:`reports.identity`).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from benchmark.store import DEFAULT_OUT
from core.atomic import atomic_path, atomic_write_text
from core.errors import ConfigError, DataError
from core.provenance import git_commit, machine
from data.protocols import ALL, Split, load_protocols
from data.scut import ENV_VAR, ScutFBP5500, resolve_data_dir

#: dlib's same-person threshold on the descriptor distance (Euclidean).
SAME_PERSON = 0.6
#: A stricter threshold, set by eye on contact sheets of the official 5-fold audit's pairs (README
#: "Identity audit"): the 6 closest pairs (0.023-0.028) are copies of one photo and the 2 at 0.10 the
#: same person; 6 of 6 pairs at 0.21-0.25 looked like the same person, 2 of 6 at 0.26-0.29, 0 of 8
#: at 0.32. Nothing about the scores was looked at.
STRICT = 0.25
#: Near-duplicate images: at most this many of the 64 pHash bits differ. 0: on SCUT-FBP5500's uniformly
#: framed faces 8 of the 12 pairs at <= 2 bits on a contact sheet were different people (6 bits: nearly all).
NEAR_DUPLICATE_BITS = 0
#: Pairs shown on the contact sheet.
SHEET_PAIRS = 12
SHEET_THUMB = 160
AUDIT_DIR = "audit"


def phash(gray: np.ndarray) -> np.ndarray:
    """64-bit DCT perceptual hash of a grayscale image: 64 bools.

    The image is resized to 32x32 (area averaging), its 2-D DCT taken, and the 8x8 lowest
    frequencies compared with their median (the DC term excluded from the median).
    """
    small = cv2.resize(np.asarray(gray, dtype=np.float32), (32, 32), interpolation=cv2.INTER_AREA)
    low = cv2.dct(small)[:8, :8].ravel()
    return low > np.median(low[1:])


def compute_phashes(dataset: ScutFBP5500, names: Sequence[str]) -> np.ndarray:
    """pHash of each image, shape (len(names), 64) bool (decoded in grayscale)."""
    out = np.zeros((len(names), 64), dtype=bool)
    for i, name in enumerate(names):
        path = dataset.image_path(name)
        gray = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        if gray is None:
            raise DataError(f"{path}: not a readable image")
        out[i] = phash(gray)
    return out


def compute_descriptors(dataset: ScutFBP5500, names: Sequence[str], cache_dir: Path, jobs: int = 1,
                        progress: bool = True) -> np.ndarray:
    """dlib descriptors of ``names`` (shape (n, 128)) through the feature cache (``dlib-embed``)."""
    from benchmark.feature_cache import FeatureCache
    from benchmark.pipeline import create_extractor

    (matrix,) = FeatureCache(cache_dir).matrices([create_extractor("dlib-embed")], dataset.records(list(names)),
                                                 jobs=jobs, progress=progress)
    return matrix.values


@dataclass
class SplitAudit:
    """The audit of one split.

    Attributes
    ----------
    protocol, split : str
    n_test : int
    nearest : list of (test name, nearest training name, descriptor distance), one per test image
    duplicates : list of (test name, training name, pHash bits differing), at most
        :data:`NEAR_DUPLICATE_BITS`
    strict : float
        The stricter same-person threshold (``--strict``, default :data:`STRICT`).
    """

    protocol: str
    split: str
    n_test: int
    nearest: list[tuple[str, str, float]] = field(default_factory=list)
    duplicates: list[tuple[str, str, int]] = field(default_factory=list)
    strict: float = STRICT

    def same_person(self, threshold: float = SAME_PERSON) -> list[tuple[str, str, float]]:
        """Test images whose nearest training image is closer than ``threshold``, closest first."""
        return sorted((p for p in self.nearest if p[2] < threshold), key=lambda p: p[2])

    def line(self) -> str:
        """One printed line of counts."""
        n6, n5 = len(self.same_person(SAME_PERSON)), len(self.same_person(self.strict))
        dup_tests = len({t for t, _, _ in self.duplicates})
        return (f"{self.protocol}/{self.split}: {self.n_test} test images; same person in training "
                f"(dlib distance < {SAME_PERSON}): {n6} ({100 * n6 / self.n_test:.1f}%), < {self.strict}: {n5} "
                f"({100 * n5 / self.n_test:.1f}%); near-duplicate images (pHash, <= {NEAR_DUPLICATE_BITS} of 64 "
                f"bits): {dup_tests}")


def audit_split(split: Split, row_of: dict[str, int], descriptors: np.ndarray, hashes: np.ndarray,
                strict: float = STRICT) -> SplitAudit:
    """Nearest training descriptor of every test image, and the near-duplicate (test, train) pairs."""
    test = np.array([row_of[n] for n in split.test])
    train = np.array([row_of[n] for n in split.train])
    result = SplitAudit(split.protocol, split.name, len(test), strict=strict)
    train_desc = descriptors[train]
    train_sq = (train_desc ** 2).sum(axis=1)
    train_bits = hashes[train].astype(np.uint8)
    for start in range(0, len(test), 512):
        block = test[start:start + 512]
        d = descriptors[block]
        dist2 = (d ** 2).sum(axis=1)[:, None] + train_sq[None, :] - 2 * d @ train_desc.T
        dist = np.sqrt(np.maximum(dist2, 0.0))
        best = dist.argmin(axis=1)
        bits = hashes[block].astype(np.uint8)
        hamming = bits.sum(axis=1)[:, None] + train_bits.sum(axis=1)[None, :] - 2 * bits.astype(np.int32) @ \
            train_bits.T.astype(np.int32)
        for i in range(len(block)):
            name = split.test[start + i]
            result.nearest.append((name, split.train[best[i]], float(dist[i, best[i]])))
            for j in np.flatnonzero(hamming[i] <= NEAR_DUPLICATE_BITS):
                result.duplicates.append((name, split.train[j], int(hamming[i, j])))
    return result


def run_audit(dataset: ScutFBP5500, protocols: list[list[Split]], cache_dir: Path, jobs: int = 1,
              progress: bool = True, strict: float = STRICT) -> list[SplitAudit]:
    """Audit every split of ``protocols`` (descriptors and hashes computed once per image)."""
    names = sorted({n for p in protocols for s in p for n in (*s.train, *s.test)})
    row_of = {n: i for i, n in enumerate(names)}
    descriptors = compute_descriptors(dataset, names, cache_dir, jobs=jobs, progress=progress)
    hashes = compute_phashes(dataset, names)
    return [audit_split(s, row_of, descriptors, hashes, strict) for p in protocols for s in p]


def audit_table(audits: Sequence[SplitAudit]):
    """The :class:`reports.tables.Table` of counts, one row per split."""
    import pandas as pd

    from reports.tables import Table

    rows = {}
    for a in audits:
        n6, n5 = len(a.same_person(SAME_PERSON)), len(a.same_person(a.strict))
        rows[f"{a.protocol}/{a.split}"] = {
            "Test images": str(a.n_test),
            f"Same person, d < {SAME_PERSON}": f"{n6} ({100 * n6 / a.n_test:.1f}%)",
            f"Same person, d < {a.strict}": f"{n5} ({100 * n5 / a.n_test:.1f}%)",
            f"Near-duplicate (pHash <= {NEAR_DUPLICATE_BITS})": str(len({t for t, _, _ in a.duplicates})),
        }
    return Table(cells=pd.DataFrame.from_dict(rows, orient="index"), index_label="Split")


def audit_notes(strict: float = STRICT) -> list[str]:
    """The notes under the audit table."""
    return [
        f"Same person: the test image's nearest training image by dlib's 128-D face descriptor "
        f"(dlib_face_recognition_resnet_model_v1, Euclidean distance) is closer than {SAME_PERSON} (dlib's "
        f"same-person threshold, calibrated on LFW) or, stricter, {strict}. On SCUT-FBP5500 look-alikes of "
        f"different people fall far under {SAME_PERSON}: read that column as an upper bound, not as identity "
        f"overlap. The default strict threshold ({STRICT}) was set by eye on contact sheets of these pairs: "
        "under it the pairs looked at were the same person (the closest ones copies of one photo), from "
        "about 0.3 on different people.",
        f"Near-duplicate: a training image whose 64-bit DCT perceptual hash differs from the test image's in at "
        f"most {NEAR_DUPLICATE_BITS} bits (count of test images with one); on these uniformly framed faces "
        "looser hash thresholds match different people.",
        "Pairs (image names and distances only) are in pairs-<protocol>.csv beside this table.",
    ]


def write_pairs(path: Path, audits: Sequence[SplitAudit]) -> Path:
    """``pairs-<protocol>.csv``: every same-person (< 0.6) and near-duplicate pair, names only."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["protocol", "split", "kind", "test_image", "train_image", "descriptor_distance",
                     "phash_bits", "strict"])
    for a in audits:
        hashes = {(t, r): b for t, r, b in a.duplicates}
        for test, train, dist in a.same_person(SAME_PERSON):
            writer.writerow([a.protocol, a.split, "same-person", test, train, f"{dist:.4f}",
                             hashes.get((test, train), ""), int(dist < a.strict)])
        nearest = {t: (r, d) for t, r, d in a.nearest}
        for test, train, bits in sorted(a.duplicates, key=lambda p: p[2]):
            dist = f"{nearest[test][1]:.4f}" if nearest[test][0] == train else ""
            writer.writerow([a.protocol, a.split, "near-duplicate", test, train, dist, bits, ""])
    return atomic_write_text(path, buf.getvalue())


def contact_sheet(dataset: ScutFBP5500, pairs: Sequence[tuple[str, str, float]], path: Path,
                  n_pairs: int = SHEET_PAIRS) -> Path | None:
    """A PNG of the first ``n_pairs`` (test, training) pairs side by side, with names and distances.

    Rendered from the dataset's images: keep it out of git. Returns None when there are no pairs.
    """
    from PIL import Image, ImageDraw

    pairs = list(pairs)[:n_pairs]
    if not pairs:
        return None
    t, pad, text_h = SHEET_THUMB, 8, 16
    cols = 2  # pairs per row
    rows = (len(pairs) + cols - 1) // cols
    sheet = Image.new("RGB", (cols * (2 * t + 3 * pad), rows * (t + text_h + 2 * pad)), "white")
    draw = ImageDraw.Draw(sheet)
    for k, (test, train, dist) in enumerate(pairs):
        x0, y0 = (k % cols) * (2 * t + 3 * pad), (k // cols) * (t + text_h + 2 * pad)
        for j, name in enumerate((test, train)):
            with Image.open(dataset.image_path(name)) as im:
                thumb = im.convert("RGB").resize((t, t))
            sheet.paste(thumb, (x0 + pad + j * (t + pad), y0 + pad))
        draw.text((x0 + pad, y0 + pad + t + 2), f"{test} | {train}  d={dist:.3f}", fill="black")
    with atomic_path(path) as tmp:
        sheet.save(tmp, format="PNG")
    return path


def audit_parser(add_help: bool = True) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        add_help=add_help, prog="run_benchmark.py audit",
        description="Identity audit: for every split, the test images whose person (dlib descriptor distance "
                    f"< {SAME_PERSON}, and < {STRICT}) or image (pHash) also appears in the training part.")
    p.add_argument("--protocol", default=ALL, help="5fold, 60-40, all (default), 10fold or a folder of split files")
    p.add_argument("--data-dir", help=f"dataset root (default: ${ENV_VAR}, else data/SCUT-FBP5500_v2)")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT,
                   help="output folder; files go to OUT/audit/ (default: reports/latest)")
    p.add_argument("--cache-dir", type=Path, default=None,
                   help="feature cache (default: $FBP_CACHE_DIR, else ~/.cache/fbp-bench): dlib-embed descriptors "
                        "of a benchmark run are reused")
    p.add_argument("--strict", type=float, default=STRICT,
                   help=f"the stricter same-person distance threshold (default {STRICT}; dlib's own is {SAME_PERSON})")
    p.add_argument("--jobs", type=int, default=1, help="parallel workers for the descriptors (default 1)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def cmd_audit(args: argparse.Namespace, argv: list[str]) -> int:
    """``run_benchmark.py audit``: ``args`` parsed by :func:`audit_parser`; returns the exit status."""
    from benchmark.feature_cache import default_cache_dir
    from reports.table_files import write_table_pair
    from reports.tables import file_stem

    if args.jobs == 0 or args.jobs < -1:
        raise ConfigError(f"--jobs must be a positive number or -1, got {args.jobs}")
    if not 0 < args.strict <= SAME_PERSON:
        raise ConfigError(f"--strict must be in (0, {SAME_PERSON}], got {args.strict}")
    t0 = time.perf_counter()
    dataset = ScutFBP5500(resolve_data_dir(args.data_dir))
    protocols = load_protocols(args.protocol, dataset)
    audits = run_audit(dataset, protocols, args.cache_dir or default_cache_dir(), jobs=args.jobs,
                       progress=not args.quiet, strict=args.strict)
    out = Path(args.out) / AUDIT_DIR
    command = " ".join(["python run_benchmark.py audit", *argv])
    host, commit = machine(), git_commit()
    provenance = (f"`{command}`; commit {commit}; machine {host['platform']}, {host['cpu_count']} CPUs, "
                  f"{host['memory_gib']} GiB; data {dataset.root.name}")
    for a in audits:
        print(f"audit {a.line()}")
    written = write_table_pair(out, "identity-audit", [audit_table(audits)],
                               title="SCUT-FBP5500: test images whose person or image is also in the training part",
                               provenance=provenance, notes=audit_notes(args.strict))
    summary = {"command": command, "git_commit": commit, "machine": host,
               "thresholds": {"same_person": SAME_PERSON, "strict": args.strict,
                              "near_duplicate_bits": NEAR_DUPLICATE_BITS},
               "splits": [{"protocol": a.protocol, "split": a.split, "n_test": a.n_test,
                           "same_person": len(a.same_person(SAME_PERSON)), "strict": len(a.same_person(a.strict)),
                           "near_duplicate": len({t for t, _, _ in a.duplicates})} for a in audits]}
    written.append(atomic_write_text(out / "identity-audit.json", json.dumps(summary, indent=1) + "\n"))
    for protocol in dict.fromkeys(a.protocol for a in audits):
        mine = [a for a in audits if a.protocol == protocol]
        stem = file_stem(protocol)
        written.append(write_pairs(out / f"pairs-{stem}.csv", mine))
        first = [p for a in mine for p in a.same_person(SAME_PERSON)[:SHEET_PAIRS]]
        sheet = contact_sheet(dataset, sorted(first, key=lambda p: p[2]), out / f"contact-sheet-{stem}.png")
        if sheet is not None:
            written.append(sheet)
    print(f"audit: {out / 'identity-audit.md'} ({len(written)} files, {time.perf_counter() - t0:.1f} s; "
          "contact sheets show dataset images: never commit them)")
    return 0
