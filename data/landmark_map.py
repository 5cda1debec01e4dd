"""The SCUT-FBP5500 86-point landmark layout, and its estimate from dlib's 68 points.

The dataset's manual landmarks (``facial landmark/*.pts``, read by :func:`data.pts.read_pts`)
have no published layout. The one below was read off index plots of real images (AF1, AM5, CM1,
zoomed per region) and checked on all 5499 non-empty files with :func:`layout_violations`.
Coordinates are image pixels, ``x`` to the right, ``y`` down; "image-left" is the left side of
the picture (the subject's right).

Layout
------
Face contour, 0-21, counter-clockwise as seen on the screen, starting at the top:

* 0: forehead top centre (the hairline, or where it is estimated under a fringe).
* 1, 2, 3: image-left forehead contour going down.
* 4: image-left temple, at brow level.
* 5: image-left face edge, at eye level.
* 6-10: image-left jaw going down.
* 11: chin (bottom centre).
* 12-16: image-right jaw going up.
* 17: image-right face edge, at eye level.
* 18: image-right temple, at brow level.
* 19, 20, 21: image-right forehead contour going up, back towards 0.

Eyebrows, each a closed polygon of 10 points:

* Image-left brow 22-31: 22 inner end (upper edge), 23, 24, 25 upper edge going outward,
  26 outer tip, 27-31 lower edge going back inward (31 = inner end, lower edge).
* Image-right brow 32-41: 32 outer tip, 33, 34, 35 upper edge going inward, 36 inner end
  (upper edge), 37-41 lower edge going outward (37 = inner end, lower edge).

Eyes, each a closed polygon of 8 points, and the pupils:

* Image-left eye 42-49: 42 inner corner, 43, 44, 45 upper lid going outward, 46 outer corner,
  47, 48, 49 lower lid going back inward.
* Image-right eye 50-57: 50 outer corner, 51, 52, 53 upper lid going inward, 54 inner corner,
  55, 56, 57 lower lid going outward.
* 58: image-left pupil; 59: image-right pupil (the eye centres of :mod:`features.face`).

Nose, 60-72, an open contour running down the image-left side, across the base and up the
image-right side:

* 60: image-left side of the bridge, level with the inner eye corners.
* 61, 62, 63: image-left side of the nose going down.
* 64: image-left ala (widest point of the nostril wing).
* 65: image-left nostril base; 66: subnasale (bottom centre); 67: image-right nostril base.
* 68: image-right ala.
* 69, 70, 71: image-right side going up; 72: image-right side of the bridge.

Mouth, outer lip contour only, 73-85:

* 73: image-right mouth corner.
* 74, 75: upper lip, image-right half, going left (75 = image-right peak of the cupid's bow).
* 76: upper-lip centre (the dip of the cupid's bow).
* 77, 78: upper lip, image-left half, going left (77 = image-left peak of the cupid's bow).
* 79: image-left mouth corner.
* 80-85: lower lip from left to right (82, 83 straddle the centre).

Estimating the 86 points from dlib's 68
---------------------------------------
:func:`estimate86_from68` is the fallback for images without manual landmarks (the release's
``CM152.pts`` is empty; user photos have none). All distances below are in units of the
inter-ocular distance ``d`` between the two dlib eye centres (means of points 36-41 and 42-47),
so the estimate follows the face's translation, scale and in-plane rotation exactly.

* Every non-forehead contour point is a point of one dlib polyline (:data:`CURVES`): the point
  at arc-length fraction ``t`` of the polyline, moved by ``b * d`` along the polyline's normal
  there (the unit tangent rotated by +90 degrees in image coordinates, which points up for a
  polyline running towards image-left). A fraction outside [0, 1] extends the end segment
  (the alae lie beyond dlib's nostril points 31 and 35).

  - jaw, 5-17: dlib jaw 0-8 and 8-16, seven points each (11 = chin = dlib 8);
  - brows: dlib 17-21 / 22-26, the upper edge nearly on dlib's curve and the lower edge
    offset downwards by the brow thickness (about 0.1 ``d``, 0.05 ``d`` at the outer tip);
  - eyes: dlib's closed eye contours 39-38-37-36-41-40 and 45-44-43-42-47-46 resampled to 8
    points each, moved about 0.02 ``d`` outward (the manual lids enclose a larger area);
    pupils 58, 59 are the means of dlib 36-41 and 42-47;
  - nose sides, 60-63 and 69-72: dlib's bridge line 27-30 offset 0.14-0.28 ``d`` sideways;
    nose base, 64-68: dlib 31-35;
  - mouth, 73-85: dlib's outer lip contour 48-59 (73 = dlib 54, 79 = dlib 48).

* The forehead, 0-4 and 18-21, which dlib does not mark, is an elliptic arc in the face's
  frame (x along the eye line, y perpendicular to it, unit ``d``). The ellipse's centre lies
  :data:`TEMPLE_HEIGHT` above the eye line, horizontally midway between dlib 0 and 16; its
  horizontal semi-axis is half their distance less :data:`TEMPLE_INSET`, its vertical one
  :data:`FOREHEAD_HEIGHT`; the points sit at the elliptic :data:`FOREHEAD_ANGLES` (4 and 18,
  the temples, at the ends of the horizontal axis, 0 at the top). The heights are constants
  because nothing dlib marks predicts the hairline: on the calibration images the forehead
  height has a standard deviation of 0.13 ``d`` and correlates only about 0.3 with the face width,
  and the constant arc is more accurate than one scaled with it.

The fractions, offsets and forehead constants were measured with :func:`calibrate_curves` and
:func:`calibrate_forehead` on 598 images (AF, AM, CF and CM numbers 1-150, less AF101 and CM42
whose files break the layout, see below), then rounded; only these summary constants are
stored, no image or landmark file. On 198 other images (numbers 400-449, less CF434 and CM416)
the mean error per point, in inter-pupil distances of the manual pupils, is 0.045 for the 77
non-forehead points (jaw 0.07, eyes and pupils 0.025-0.03, brows, nose and mouth 0.035-0.05)
and 0.11 for the 9 forehead points; ``tests/data/test_landmark_map.py`` checks bounds on
this.

Release files that break the layout
-----------------------------------
:func:`layout_violations` checks a landmark set against coarse rules of the layout above
(:data:`LAYOUT_RULES`, each true for at least 99.5% of the release's files). 18 of the 5499
non-empty files break three or more: their points are partly or wholly listed in another order
(AF1183 permutes the eye and pupil points; AM1320 and CF434 the whole face; CM416 one brow, one
eye and the mouth). They are used as they are elsewhere in the project; the check is here for
whoever wants to exclude or re-estimate them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

#: Number of SCUT-FBP5500 landmarks.
N_POINTS = 86
#: Indices of the forehead points, which dlib does not mark (estimated by extrapolation).
FOREHEAD = (0, 1, 2, 3, 4, 18, 19, 20, 21)
#: Indices of the pupils (image-left, image-right).
PUPILS = (58, 59)


@dataclass(frozen=True)
class Curve:
    """SCUT points taken from one dlib polyline.

    Attributes
    ----------
    name : str
        Face part, for messages.
    scut : tuple of int
        SCUT indices of the estimated points.
    dlib : tuple of int
        dlib indices of the polyline's vertices, in order.
    t : tuple of float
        Arc-length fraction along the polyline of each point (outside [0, 1] extends the
        end segments).
    offset : tuple of float
        Signed offset of each point along the polyline's normal, in inter-ocular distances.
    """

    name: str
    scut: tuple[int, ...]
    dlib: tuple[int, ...]
    t: tuple[float, ...]
    offset: tuple[float, ...]

    @property
    def closed(self) -> bool:
        """True for a closed contour (first vertex repeated last): fractions wrap modulo 1."""
        return self.dlib[0] == self.dlib[-1]

    def fractions(self) -> np.ndarray:
        """The fractions ``t`` as an array, wrapped into [0, 1) for a closed contour."""
        t = np.asarray(self.t, dtype=np.float64)
        return np.mod(t, 1.0) if self.closed else t


#: The correspondence table of the estimate (measured with :func:`calibrate_curves`).
CURVES: tuple[Curve, ...] = (
    Curve("jaw, image-left", (5, 6, 7, 8, 9, 10, 11), tuple(range(0, 9)),
          (0.03, 0.18, 0.34, 0.50, 0.66, 0.82, 1.00),
          (-0.02, -0.01, -0.01, -0.02, -0.02, -0.01, -0.02)),
    Curve("jaw, image-right", (12, 13, 14, 15, 16, 17), tuple(range(8, 17)),
          (0.19, 0.36, 0.52, 0.67, 0.83, 0.98),
          (-0.01, -0.01, -0.01, -0.01, -0.01, -0.02)),
    Curve("brow, image-left", tuple(range(22, 32)), (21, 20, 19, 18, 17),
          (0.11, 0.31, 0.49, 0.68, 0.85, 0.90, 0.67, 0.47, 0.29, 0.09),
          (0.00, 0.00, 0.00, 0.02, 0.02, -0.06, -0.09, -0.11, -0.11, -0.09)),
    Curve("brow, image-right", tuple(range(32, 42)), (26, 25, 24, 23, 22),
          (0.14, 0.31, 0.49, 0.68, 0.86, 0.88, 0.67, 0.46, 0.30, 0.10),
          (0.03, 0.02, 0.00, 0.00, 0.00, -0.10, -0.11, -0.10, -0.08, -0.05)),
    Curve("eye, image-left", tuple(range(42, 50)), (39, 38, 37, 36, 41, 40, 39),
          (0.98, 0.12, 0.26, 0.39, 0.52, 0.63, 0.76, 0.89),
          (0.01, 0.03, 0.03, 0.03, 0.01, 0.02, 0.02, 0.02)),
    Curve("eye, image-right", tuple(range(50, 58)), (45, 44, 43, 42, 47, 46, 45),
          (0.02, 0.13, 0.25, 0.38, 0.52, 0.65, 0.78, 0.92),
          (0.02, 0.03, 0.03, 0.02, 0.01, 0.01, 0.02, 0.02)),
    Curve("nose, image-left side", (60, 61, 62, 63), (27, 28, 29, 30),
          (0.04, 0.33, 0.59, 0.85), (0.14, 0.16, 0.20, 0.26)),
    Curve("nose, image-right side", (69, 70, 71, 72), (27, 28, 29, 30),
          (0.85, 0.60, 0.33, 0.04), (-0.28, -0.22, -0.18, -0.16)),
    Curve("nose base", (64, 65, 66, 67, 68), (31, 32, 33, 34, 35),
          (-0.24, 0.11, 0.51, 0.91, 1.27), (-0.03, 0.01, 0.02, 0.02, -0.03)),
    Curve("mouth", tuple(range(73, 86)), (54, 53, 52, 51, 50, 49, 48, 59, 58, 57, 56, 55, 54),
          (0.01, 0.10, 0.17, 0.23, 0.30, 0.38, 0.47, 0.56, 0.63, 0.71, 0.78, 0.85, 0.92),
          (0.01, 0.00, 0.01, -0.01, 0.00, -0.01, 0.00, -0.01, 0.00, 0.01, 0.01, 0.00, -0.01)),
)

#: How far the temples (4, 18) lie inside dlib's jaw ends (0, 16) along the eye line, in
#: inter-ocular distances.
TEMPLE_INSET = 0.07
#: Height of the temples, and of the forehead ellipse's centre, above the eye line.
TEMPLE_HEIGHT = 0.31
#: Vertical semi-axis of the forehead ellipse (temple line to point 0).
FOREHEAD_HEIGHT = 0.90
#: Elliptic angles above the temple line, in degrees, of the image-right forehead points
#: 18, 19, 20, 21 and of 0; the image-left points 4, 3, 2, 1 mirror them.
FOREHEAD_ANGLES = (0.0, 23.5, 47.0, 68.5, 90.0)


def eye_centres68(p68: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Means of dlib's image-left (36-41) and image-right (42-47) eye contours, each shape (2,)."""
    return p68[36:42].mean(axis=0), p68[42:48].mean(axis=0)


def face_frame(p68: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """The face's own frame from dlib's eye centres.

    Parameters
    ----------
    p68 : ndarray of shape (68, 2)
        dlib landmarks, image pixels.

    Returns
    -------
    origin : ndarray of shape (2,)
        Midpoint of the eye centres, pixels.
    axes : ndarray of shape (2, 2)
        Rows are the unit x axis (image-left eye to image-right eye) and the unit y axis (x
        rotated by +90 degrees, so "down" for an upright face).
    iod : float
        Inter-ocular distance, pixels.

    Raises
    ------
    ValueError
        If the two eye centres coincide.
    """
    left, right = eye_centres68(p68)
    vec = right - left
    iod = float(np.hypot(*vec))
    if not iod > 0:
        raise ValueError("degenerate dlib landmarks: the two eye centres coincide")
    ux = vec / iod
    return (left + right) / 2, np.array([ux, [-ux[1], ux[0]]]), iod


def _clean_polyline(poly: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Segments of positive length of ``poly`` (shape (n, 2)): starts, vectors, lengths."""
    seg = np.diff(poly, axis=0)
    length = np.hypot(seg[:, 0], seg[:, 1])
    keep = length > 0
    if not keep.any():
        raise ValueError("degenerate polyline: all its points coincide")
    return poly[:-1][keep], seg[keep], length[keep]


def sample_polyline(poly: np.ndarray, t: np.ndarray | Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    """Points at arc-length fractions of a polyline, and the unit normals there.

    Parameters
    ----------
    poly : ndarray of shape (n, 2)
        Polyline vertices, n >= 2 (repeated vertices are skipped).
    t : array-like of shape (m,)
        Arc-length fractions; 0 is the first vertex, 1 the last. Values outside [0, 1] extend
        the first or last segment in a straight line.

    Returns
    -------
    points : ndarray of shape (m, 2)
    normals : ndarray of shape (m, 2)
        The unit tangent rotated by +90 degrees (``(-ty, tx)``; image coordinates, so this
        points up for a polyline running towards image-left).
    """
    start, seg, length = _clean_polyline(np.asarray(poly, dtype=np.float64))
    cum = np.concatenate([[0.0], np.cumsum(length)])
    s = np.asarray(t, dtype=np.float64) * cum[-1]
    i = np.clip(np.searchsorted(cum, s, side="right") - 1, 0, len(seg) - 1)
    w = (s - cum[i]) / length[i]
    points = start[i] + w[:, None] * seg[i]
    tangent = seg[i] / length[i, None]
    return points, np.stack([-tangent[:, 1], tangent[:, 0]], axis=1)


def project_on_polyline(poly: np.ndarray, q: np.ndarray) -> tuple[float, float]:
    """Arc-length fraction and signed normal offset of the point of ``poly`` nearest ``q``.

    The inverse of :func:`sample_polyline` (used to calibrate :data:`CURVES`): the first and
    last segments are extended indefinitely, so a point beyond an end gets a fraction outside
    [0, 1].

    Parameters
    ----------
    poly : ndarray of shape (n, 2)
    q : ndarray of shape (2,)

    Returns
    -------
    t : float
        Arc-length fraction of the nearest point.
    offset : float
        ``(q - nearest) . normal``, in the units of ``poly``.
    """
    start, seg, length = _clean_polyline(np.asarray(poly, dtype=np.float64))
    cum = np.concatenate([[0.0], np.cumsum(length)])
    w = np.einsum("ij,ij->i", q - start, seg) / length**2
    lo = np.where(np.arange(len(seg)) == 0, -np.inf, 0.0)
    hi = np.where(np.arange(len(seg)) == len(seg) - 1, np.inf, 1.0)
    w = np.clip(w, lo, hi)
    foot = start + w[:, None] * seg
    k = int(np.argmin(np.hypot(*(q - foot).T)))
    tangent = seg[k] / length[k]
    normal = np.array([-tangent[1], tangent[0]])
    return float((cum[k] + w[k] * length[k]) / cum[-1]), float((q - foot[k]) @ normal)


def _forehead(p68: np.ndarray) -> dict[int, np.ndarray]:
    """Forehead points 0-4 and 18-21 (image pixels), an elliptic arc in the face frame."""
    origin, axes, iod = face_frame(p68)
    jaw_x = (p68[[0, 16]] - origin) @ axes[0] / iod
    centre_x = (jaw_x[0] + jaw_x[1]) / 2
    half_width = max((jaw_x[1] - jaw_x[0]) / 2 - TEMPLE_INSET, 0.0)
    angles = np.radians(FOREHEAD_ANGLES)
    dx, dy = half_width * np.cos(angles), -TEMPLE_HEIGHT - FOREHEAD_HEIGHT * np.sin(angles)
    points = {18 + k: (centre_x + dx[k], dy[k]) for k in range(4)}
    points.update({4 - k: (centre_x - dx[k], dy[k]) for k in range(4)})
    points[0] = (centre_x, dy[4])
    return {i: origin + iod * np.asarray(p) @ axes for i, p in points.items()}


def estimate86_from68(p68: np.ndarray) -> np.ndarray:
    """Estimate the 86 SCUT-FBP5500 landmarks from dlib's 68 (iBUG 300-W) landmarks.

    See the module docstring for the construction. The map commutes with translation, uniform
    scaling and rotation of the input.

    Parameters
    ----------
    p68 : ndarray of shape (68, 2)
        dlib landmarks ``(x, y)``, image pixels.

    Returns
    -------
    ndarray of shape (86, 2), float64
        Estimated SCUT landmarks, image pixels, in the layout of the module docstring.

    Raises
    ------
    ValueError
        If ``p68`` does not have shape (68, 2), is not finite, or is degenerate (eye centres
        or a polyline's points coinciding).
    """
    p68 = np.asarray(p68, dtype=np.float64)
    if p68.shape != (68, 2):
        raise ValueError(f"expected 68x2 dlib landmarks, got shape {p68.shape}")
    if not np.all(np.isfinite(p68)):
        raise ValueError("dlib landmarks contain non-finite values")
    out = np.full((N_POINTS, 2), np.nan)
    _, _, iod = face_frame(p68)
    for curve in CURVES:
        points, normals = sample_polyline(p68[list(curve.dlib)], curve.fractions())
        out[list(curve.scut)] = points + iod * np.asarray(curve.offset)[:, None] * normals
    out[PUPILS[0]], out[PUPILS[1]] = eye_centres68(p68)
    for i, point in _forehead(p68).items():
        out[i] = point
    return out


def _central_fraction(t: np.ndarray, closed: bool) -> float:
    """Median of arc-length fractions ``t`` (shape (n,)); circular (modulo 1) if ``closed``."""
    if not closed:
        return float(np.median(t))
    angle = 2 * np.pi * t
    ref = np.arctan2(np.sin(angle).mean(), np.cos(angle).mean()) / (2 * np.pi)
    unwrapped = np.mod(t - ref + 0.5, 1.0) - 0.5 + ref
    return float(np.mod(np.median(unwrapped), 1.0))


def _pupil_frame(p86: np.ndarray) -> np.ndarray:
    """``p86`` (shape (86, 2)) in the frame of its pupils: origin midway, x from 58 to 59, unit IPD."""
    left, right = p86[PUPILS[0]], p86[PUPILS[1]]
    ipd = float(np.hypot(*(right - left)))
    if not ipd > 0:
        return np.full_like(p86, np.nan)
    ux = (right - left) / ipd
    return (p86 - (left + right) / 2) @ np.array([ux, [-ux[1], ux[0]]]).T / ipd


def _increasing(v: np.ndarray) -> bool:
    return bool(np.all(np.diff(v) > 0))


#: Coarse checks of the documented layout, on points in the pupil frame (x right, y down).
#: Each holds for at least 99.5% of the release's files.
LAYOUT_RULES: dict[str, Callable[[np.ndarray], bool]] = {
    "contour 1-10 left of the pupils' midpoint": lambda q: bool(np.all(q[1:11, 0] < 0)),
    "contour 12-21 right of the pupils' midpoint": lambda q: bool(np.all(q[12:22, 0] > 0)),
    "chin 11 is the lowest point": lambda q: bool(q[11, 1] >= q[:, 1].max()),
    "5 and 17 at eye level": lambda q: bool(abs(q[5, 1]) < 0.3 and abs(q[17, 1]) < 0.3),
    "brow upper edges 22-26 and 32-36 run right to left": lambda q: _increasing(q[26:21:-1, 0])
    and _increasing(q[36:31:-1, 0]),
    "brow lower edges 27-31 and 37-41 run left to right": lambda q: _increasing(q[27:32, 0])
    and _increasing(q[37:42, 0]),
    "eye contours 42-46 and 50-54 run right to left": lambda q: _increasing(q[46:41:-1, 0])
    and _increasing(q[54:49:-1, 0]),
    "upper lids above lower lids": lambda q: bool(np.all(q[[43, 44, 45], 1] < q[[49, 48, 47], 1])
                                                  and np.all(q[[51, 52, 53], 1] < q[[57, 56, 55], 1])),
    "pupils between their eye corners": lambda q: bool(q[46, 0] < q[58, 0] < q[42, 0]
                                                       and q[54, 0] < q[59, 0] < q[50, 0]),
    "nose sides 60-64 and 68-72 run down and up": lambda q: _increasing(q[60:65, 1])
    and _increasing(q[72:67:-1, 1]),
    "nose base 64-68 runs left to right": lambda q: _increasing(q[64:69, 0]),
    "upper lip 73-79 runs right to left": lambda q: _increasing(q[79:72:-1, 0]),
    "lower lip 79-85 runs left to right": lambda q: _increasing(q[[79, 80, 81, 82, 83, 84, 85, 73], 0]),
    "lower lip 80-85 below upper-lip centre 76": lambda q: bool(np.all(q[80:86, 1] > q[76, 1])),
}


def layout_violations(p86: np.ndarray) -> list[str]:
    """The :data:`LAYOUT_RULES` an 86-point landmark set breaks (empty for a normal file).

    A few release files list their points in another order (AF1183, AM1320 and CF434 break
    most rules); a file breaking three or more rules is almost certainly one of them.

    Parameters
    ----------
    p86 : ndarray of shape (86, 2)
        SCUT landmarks, image pixels.

    Returns
    -------
    list of str
        Names of the broken rules.
    """
    q = _pupil_frame(np.asarray(p86, dtype=np.float64))
    if not np.all(np.isfinite(q)):
        return list(LAYOUT_RULES)
    return [name for name, rule in LAYOUT_RULES.items() if not rule(q)]


def calibrate_curves(p68s: np.ndarray, p86s: np.ndarray, decimals: int = 2) -> tuple[Curve, ...]:
    """Re-measure the fractions and offsets of :data:`CURVES` from paired landmark sets.

    For every SCUT point of every curve: the median over faces of the arc-length fraction of
    its projection on the dlib polyline (taken around the circular mean on a closed contour,
    where fractions wrap), then the mean over faces of its offset from the point at that
    fraction along the normal, in inter-ocular distances.

    Parameters
    ----------
    p68s : ndarray of shape (n_faces, 68, 2)
        dlib landmarks of each face.
    p86s : ndarray of shape (n_faces, 86, 2)
        Manual SCUT landmarks of the same faces.
    decimals : int
        Rounding of the measured constants.

    Returns
    -------
    tuple of Curve
        :data:`CURVES` with re-measured ``t`` and ``offset``.
    """
    iods = np.array([face_frame(p)[2] for p in p68s])
    curves = []
    for curve in CURVES:
        polys = [p[list(curve.dlib)] for p in p68s]
        ts, offsets = [], []
        for k in curve.scut:
            t = _central_fraction(np.array([project_on_polyline(poly, q[k])[0]
                                            for poly, q in zip(polys, p86s, strict=True)]), curve.closed)
            residual = []
            for poly, q, iod in zip(polys, p86s, iods, strict=True):
                point, normal = sample_polyline(poly, [t])
                residual.append((q[k] - point[0]) @ normal[0] / iod)
            ts.append(round(t, decimals))
            offsets.append(round(float(np.mean(residual)), decimals))
        curves.append(Curve(curve.name, curve.scut, curve.dlib, tuple(ts), tuple(offsets)))
    return tuple(curves)


def calibrate_forehead(p68s: np.ndarray, p86s: np.ndarray,
                       decimals: int = 2) -> tuple[float, float, float, tuple[float, ...]]:
    """Re-measure :data:`TEMPLE_INSET`, :data:`TEMPLE_HEIGHT`, :data:`FOREHEAD_HEIGHT` and
    :data:`FOREHEAD_ANGLES` from paired landmark sets.

    Everything is measured in each face's frame (:func:`face_frame`, inter-ocular distances):
    the mean inset of the manual temples from dlib 0 and 16 along the eye line and their mean
    height above it (both sides pooled), the mean height of point 0 above the temples, and the
    median elliptic angle of each forehead point on the face's own ellipse through its manual
    temples and point 0 (mirrored sides pooled).

    Parameters
    ----------
    p68s : ndarray of shape (n_faces, 68, 2)
        dlib landmarks of each face.
    p86s : ndarray of shape (n_faces, 86, 2)
        Manual SCUT landmarks of the same faces.
    decimals : int
        Rounding of the distances; angles are rounded to 0.5 degree.

    Returns
    -------
    inset, temple_height, forehead_height : float
    angles : tuple of 5 floats, degrees (the last is 90)
    """
    rows = []
    for p68, p86 in zip(p68s, p86s, strict=True):
        origin, axes, iod = face_frame(p68)
        a68, a86 = (p68 - origin) @ axes.T / iod, (p86 - origin) @ axes.T / iod
        inset = ((a86[4, 0] - a68[0, 0]) + (a68[16, 0] - a86[18, 0])) / 2
        centre = (a86[4] + a86[18]) / 2
        half_width = (a86[18, 0] - a86[4, 0]) / 2
        height = centre[1] - a86[0, 1]
        angles = []
        for right_k, left_k in ((18, 4), (19, 3), (20, 2), (21, 1)):
            pair = [np.arctan2((centre[1] - a86[k, 1]) / height, side * (a86[k, 0] - centre[0]) / half_width)
                    for k, side in ((right_k, 1.0), (left_k, -1.0))]
            angles.append(np.degrees(np.mean(pair)))
        rows.append([inset, -centre[1], height, *angles])
    rows = np.array(rows)
    inset, temple_height, forehead_height = np.round(rows[:, :3].mean(axis=0), decimals)
    angles = np.round(2 * np.median(rows[:, 3:], axis=0)) / 2
    return (float(inset), float(temple_height), float(forehead_height),
            (*(float(a) for a in angles), 90.0))
