import numpy as np
import pytest

from core.errors import DataError
from data.pts import read_pts
from tests.synthetic import write_pts


def test_real_pts_files(scut):
    for name in ["AF1.jpg", "AM1000.jpg", "CF750.jpg", "CM1.jpg"]:
        pts = read_pts(scut.landmark_path(name))
        assert pts.shape == (86, 2)
        assert (pts > 0).all() and (pts < 350).all()
    # pupils lie between the eye corners, the chin is below the eyes
    pts = read_pts(scut.landmark_path("AF1.jpg"))
    assert pts[11, 1] > pts[58, 1] and pts[11, 1] > pts[59, 1]
    assert pts[58, 0] < pts[59, 0]


def test_release_cm152_is_empty_and_falls_back(scut):
    assert scut.landmarks("CM152.jpg") is None
    assert scut.record("CM152.jpg").landmarks is None


def test_roundtrip_and_errors(tmp_path):
    pts = np.random.default_rng(0).uniform(0, 350, (86, 2)).astype(np.float32)
    write_pts(tmp_path / "a.pts", pts)
    np.testing.assert_array_equal(read_pts(tmp_path / "a.pts"), pts)
    (tmp_path / "short.pts").write_bytes((tmp_path / "a.pts").read_bytes()[:300])
    with pytest.raises(DataError, match=r"short.pts: landmark file has 300 bytes, expected 692"):
        read_pts(tmp_path / "short.pts")
    write_pts(tmp_path / "n68.pts", pts[:68])
    with pytest.raises(DataError, match="declares 68 points, expected 86"):
        read_pts(tmp_path / "n68.pts")
    with pytest.raises(DataError, match="not found"):
        read_pts(tmp_path / "missing.pts")
    (tmp_path / "tiny.pts").write_bytes(b"\x01")
    with pytest.raises(DataError, match="empty or truncated"):
        read_pts(tmp_path / "tiny.pts")
