"""Gabor filter bank and the ``gabor-kp`` / ``gabor-grid`` extractors."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from data.scut import FaceRecord
from features import FEATURES
from features.face import FaceContext
from features.gabor import (
    WAVELENGTHS,
    GaborGrid,
    GaborKeypoints,
    gabor_bank,
    gabor_magnitudes,
    grid_points,
    pooled_samples,
)
from tests.features.astronaut import astronaut_variants


#: Eye centres of ``skimage.data.astronaut()`` (means of dlib's 68-point eye contours), pixels.
@pytest.fixture(scope="module")
def astronaut_pair(tmp_path_factory) -> dict[str, FaceRecord]:
    """The astronaut, a rotated + scaled copy (landmarks moved with it), and a misaligned one."""
    return astronaut_variants(tmp_path_factory.mktemp("gabor"))


def corr(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a, b)[0, 1])


# --- filter bank ---------------------------------------------------------------------------------

def test_bank_has_5_wavelengths_by_8_orientations():
    bank = gabor_bank()
    assert len(bank.kernels) == 40
    assert len(np.unique(bank.wavelengths)) == 5
    np.testing.assert_allclose(np.unique(bank.wavelengths), sorted(WAVELENGTHS))
    assert 4.0 <= bank.wavelengths.min() and bank.wavelengths.max() >= 16.0
    for lam in np.unique(bank.wavelengths):
        thetas = np.sort(bank.thetas[bank.wavelengths == lam])
        np.testing.assert_allclose(thetas, np.arange(8) * math.pi / 8)
    for kernel, sigma in zip(bank.kernels, bank.sigmas, strict=True):
        assert kernel.dtype == np.complex128
        assert kernel.shape[0] == kernel.shape[1] == 2 * math.ceil(3 * sigma) + 1
        assert abs(kernel.sum()) < 1e-9 * np.abs(kernel).sum()  # DC-free


def test_bank_is_built_once_per_parameter_set():
    assert gabor_bank() is gabor_bank()
    assert GaborGrid().bank is GaborKeypoints().bank
    assert len(gabor_bank((4.0, 8.0), 4).kernels) == 8


def test_constant_image_has_no_response():
    maps = gabor_magnitudes(np.full((64, 64), 0.7))
    assert maps.shape == (40, 64, 64) and maps.dtype == np.float32
    assert maps.max() < 1e-4


@pytest.mark.parametrize("wavelength", [5.657, 8.0, 11.314])
@pytest.mark.parametrize("k_theta", [0, 2, 3, 6])
def test_grating_peaks_at_matching_filter(wavelength, k_theta):
    theta = k_theta * math.pi / 8
    y, x = np.mgrid[0:96, 0:96].astype(np.float64)
    grating = np.sin(2 * math.pi * (x * math.cos(theta) + y * math.sin(theta)) / wavelength)
    maps = gabor_magnitudes(grating)
    energy = maps[:, 24:72, 24:72].mean(axis=(1, 2))
    best = int(np.argmax(energy))
    bank = gabor_bank()
    assert bank.thetas[best] == pytest.approx(theta)
    assert bank.wavelengths[best] == pytest.approx(wavelength)
    # the orthogonal filter of the same wavelength barely responds
    ortho = np.flatnonzero((bank.wavelengths == bank.wavelengths[best])
                           & np.isclose(bank.thetas, (theta + math.pi / 2) % math.pi))[0]
    assert energy[ortho] < 0.05 * energy[best]


def test_matches_direct_convolution_inside_the_image():
    rng = np.random.default_rng(0)
    image = cv2.GaussianBlur(rng.random((80, 80)), (0, 0), 1.0)
    maps = gabor_magnitudes(image)
    bank = gabor_bank()
    for i in (0, 13, 39):
        kernel = bank.kernels[i]
        # cv2.filter2D correlates: flip the kernel for a convolution
        re = cv2.filter2D(image, -1, np.ascontiguousarray(kernel.real[::-1, ::-1]),
                          borderType=cv2.BORDER_REFLECT)
        im = cv2.filter2D(image, -1, np.ascontiguousarray(kernel.imag[::-1, ::-1]),
                          borderType=cv2.BORDER_REFLECT)
        np.testing.assert_allclose(maps[i], np.hypot(re, im), atol=1e-4 * np.hypot(re, im).max())


# --- sampling ------------------------------------------------------------------------------------

def test_pooled_samples_weights_and_clipping():
    maps = np.zeros((2, 20, 30), dtype=np.float32)
    maps[0] = np.arange(30)[None, :]  # value = x
    maps[1] = 5.0
    pts = np.array([[10.0, 10.0], [-4.0, 3.0], [29.0, 25.0]])  # inside, left of, below the map
    out = pooled_samples(maps, pts, pool_sigma=2.0)
    assert out.shape == (2, 3) and out.dtype == np.float64
    assert out[0, 0] == pytest.approx(10.0)  # symmetric weights average a linear ramp exactly
    assert 0.0 <= out[0, 1] < 2.0  # clipped to the left border
    np.testing.assert_allclose(out[1], 5.0)
    np.testing.assert_allclose(pooled_samples(maps, pts[:1], 0.0), [[10.0], [5.0]])


def test_grid_points_cover_the_region_row_major():
    pts = grid_points(128, (8, 8), (0.125, 0.0625, 0.875, 1.0))
    assert pts.shape == (64, 2)
    np.testing.assert_allclose(pts[0], [16 + 6, 8 + 7.5])
    np.testing.assert_allclose(pts[-1], [112 - 6, 128 - 7.5])
    assert pts[1, 0] > pts[0, 0] and pts[1, 1] == pts[0, 1]


# --- extractors ----------------------------------------------------------------------------------

def test_registered_with_descriptions():
    assert FEATURES.get("gabor-kp") is GaborKeypoints
    assert FEATURES.get("gabor-grid") is GaborGrid
    assert "86 landmarks" in FEATURES.describe("gabor-kp")
    assert "8x8 grid" in FEATURES.describe("gabor-grid")
    assert GaborKeypoints.uses_landmarks and not GaborGrid.uses_landmarks
    assert GaborKeypoints.high_dimensional and GaborGrid.high_dimensional
    assert GaborGrid(pool_sigma=1.0).get_params()["pool_sigma"] == 1.0
    assert GaborGrid().cache_key() != GaborGrid(pool_sigma=1.0).cache_key()


def test_shapes_and_values(astronaut_pair):
    face = FaceContext(astronaut_pair["orig"])
    kp = GaborKeypoints().extract(face)
    grid = GaborGrid().extract(face)
    assert kp.shape == (40 * 86,) and grid.shape == (40 * 64,)
    for v in (kp, grid):
        assert v.dtype == np.float64 and np.all(np.isfinite(v)) and v.min() >= 0 and v.max() > 0
    # the magnitude maps are computed once per face and shared by both extractors
    assert sum(k[0] == "gabor" for k in face._memo) == 1
    small = GaborGrid(wavelengths=(4.0, 8.0), n_orientations=4, grid=(3, 5)).extract(face)
    assert small.shape == (2 * 4 * 15,)
    assert sum(k[0] == "gabor" for k in face._memo) == 2  # another bank: its own maps


def test_invariant_to_in_plane_rotation_and_scale(astronaut_pair):
    feats = {name: {k: FEATURES.create(name).extract(FaceContext(r))
                    for k, r in astronaut_pair.items() if not k.endswith("_detect")}
             for name in ("gabor-grid", "gabor-kp")}
    for f in feats.values():
        same = corr(f["orig"], f["moved"])
        assert same > 0.98  # measured 0.997 (grid), 0.996 (kp)
        assert same > corr(f["orig"], f["misaligned"])  # 0.66 (grid), 0.96 (kp)


def test_invariance_with_detected_landmarks(astronaut_pair):
    pytest.importorskip("dlib")
    e = GaborGrid()
    orig = e.extract(FaceContext(astronaut_pair["orig_detect"]))
    moved = e.extract(FaceContext(astronaut_pair["moved_detect"]))
    assert corr(orig, moved) > 0.98  # measured 0.993


def test_gabor_kp_falls_back_to_detected_landmarks(astronaut_pair):
    pytest.importorskip("dlib")
    pytest.importorskip("data.landmark_map")
    v = GaborKeypoints().extract(FaceContext(astronaut_pair["orig_detect"]))
    assert v.shape == (3440,) and np.all(np.isfinite(v))


# --- real data -----------------------------------------------------------------------------------

def test_real_faces(scut, astronaut_pair):
    faces = [FaceContext(scut.record(n)) for n in ("AF1.jpg", "CM5.jpg", "AM10.jpg")]
    for e, dim in ((GaborKeypoints(), 3440), (GaborGrid(), 2560)):
        feats = np.array([e.extract(f) for f in faces])
        assert feats.shape == (3, dim) and np.all(np.isfinite(feats)) and feats.min() >= 0
        moved = e.extract(FaceContext(astronaut_pair["moved"]))
        orig = e.extract(FaceContext(astronaut_pair["orig"]))
        # the same face, rotated and scaled, is closer than any other face
        assert corr(orig, moved) > max(corr(orig, f) for f in feats)
