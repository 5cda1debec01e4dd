"""Measure the SCUT frame constants of :mod:`predict.face_scorer` on the release's own images.

``python -m tools.frame_constants [--data-dir DIR] [--every 110]`` runs dlib's HOG detector
and 68-point predictor on every ``every``-th image of the label file (as a user photo would be
processed) and prints, over those images, the median and 10th-90th percentiles of

- scale: image side / side of the 68 landmarks' bounding square,
- shift: offset (x, y) of the image centre from the landmarks' box centre, in box sides.

:data:`predict.face_scorer.FRAME_SCALE` and ``FRAME_SHIFT`` are the medians it printed
(command and output in the module's docstring).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys

import numpy as np

from core.errors import DataError, one_line_errors


def measure(data_dir: str | None, every: int) -> dict[str, np.ndarray]:
    """Per-image scale, shape (n,), and shift, shape (n, 2), over every ``every``-th image."""
    from data.images import load_rgb
    from data.scut import ScutFBP5500, resolve_data_dir
    from features.face import FaceContext, landmark_box

    dataset = ScutFBP5500(resolve_data_dir(data_dir))
    scales, shifts = [], []
    for name in dataset.names[::every]:
        record = dataset.record(name)
        rgb = load_rgb(record.image_path)
        # as on a user photo: HOG box, then dlib's 68 points (the manual landmarks are not used)
        context = FaceContext(dataclasses.replace(record, landmarks=None))
        left, top, right, bottom = landmark_box(context.landmarks68)
        side = max(right - left, bottom - top)
        height, width = rgb.shape[:2]
        scales.append(max(height, width) / side)
        shifts.append(((width / 2 - (left + right) / 2) / side, (height / 2 - (top + bottom) / 2) / side))
    return {"scale": np.asarray(scales), "shift": np.asarray(shifts)}


@one_line_errors
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.frame_constants", description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", default=None, help="release root (default: FBP_DATA_DIR)")
    parser.add_argument("--every", type=int, default=110, help="use every N-th image of the label file")
    args = parser.parse_args(argv)
    if args.every < 1:
        print("error: --every must be >= 1", file=sys.stderr)
        return 2
    try:
        found = measure(args.data_dir, args.every)
    except DataError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    scale, shift = found["scale"], found["shift"]
    p10, p50, p90 = np.percentile(scale, [10, 50, 90])
    print(f"images: {len(scale)} (every {args.every}th of the label file)")
    print(f"scale (image side / 68-point box side): median {p50:.3f}, 10th-90th percentile {p10:.3f}-{p90:.3f}")
    print(f"shift (image centre - box centre, box sides): median x {np.median(shift[:, 0]):+.3f}, "
          f"y {np.median(shift[:, 1]):+.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
