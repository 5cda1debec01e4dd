"""Reader for the SCUT-FBP5500 binary landmark files (``facial landmark/*.pts``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from core.errors import DataError

N_LANDMARKS = 86
PTS_BYTES = 4 + N_LANDMARKS * 2 * 4


def read_pts(path: str | Path) -> np.ndarray:
    """Read one binary ``.pts`` file.

    The format is one little-endian int32 point count (86) followed by that many
    ``(x, y)`` float32 pairs in image pixels, 692 bytes in all.

    Parameters
    ----------
    path : str or Path
        The ``.pts`` file.

    Returns
    -------
    ndarray of shape (86, 2), float64
        Landmark coordinates ``(x, y)`` in pixels of the 350x350 image.

    Raises
    ------
    DataError
        If the file is missing, empty, short, or holds a wrong count or non-finite values.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"{path}: landmark file not found") from None
    if len(raw) < 4:
        raise DataError(f"{path}: landmark file is empty or truncated ({len(raw)} bytes)")
    count = int(np.frombuffer(raw[:4], "<i4")[0])
    if count != N_LANDMARKS:
        raise DataError(f"{path}: landmark file declares {count} points, expected {N_LANDMARKS}")
    if len(raw) != PTS_BYTES:
        raise DataError(f"{path}: landmark file has {len(raw)} bytes, expected {PTS_BYTES}")
    points = np.frombuffer(raw[4:], "<f4").reshape(N_LANDMARKS, 2).astype(np.float64)
    if not np.all(np.isfinite(points)):
        raise DataError(f"{path}: landmark file holds non-finite coordinates")
    return points
