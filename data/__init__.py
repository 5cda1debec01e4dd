"""Dataset loading for SCUT-FBP5500 (the release layout) and the default data location.

The dataset itself is *not* part of this package: put the release under
``data/SCUT-FBP5500_v2`` or pass ``--data-dir`` / set ``FBP_DATA_DIR``.
"""

from data.pts import read_pts
from data.scut import FaceRecord, ScutFBP5500, canonical_image_name, resolve_data_dir

__all__ = ["FaceRecord", "ScutFBP5500", "canonical_image_name", "read_pts", "resolve_data_dir"]
