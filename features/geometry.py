"""Geometric facial-proportion features from landmarks: ``geom86`` (SCUT manual) and ``geom68`` (dlib).

SCUT-FBP5500's geometric baseline used an 18-D vector of landmark distance ratios that was never
published. These extractors define their own from the facial-proportion literature: distance
ratios, angles and symmetry measures, all invariant to translation, uniform scale and in-plane
rotation of the landmarks.

How it works
------------
Each landmark scheme has a table of named *semantic points* (:data:`SCHEMES`): an anatomical
point and the landmark indices whose mean marks it (``pupil_l``: SCUT 58, or the mean of dlib
36-41). The landmarks are first put in the pupil frame: origin midway between the pupils, x
from the image-left pupil to the image-right one, y perpendicular to it (down for an upright
face), unit = the inter-pupil distance (IPD). Every feature below is a function of named points
in that frame (:data:`FEATURES_DEFS`), so ``geom86`` and ``geom68`` compute the same quantity
wherever both schemes have its points; a feature whose points a scheme lacks is left out of
that scheme (four need SCUT's forehead, one dlib's inner lips).

"_l" / "_r" are image-left / image-right. Notation: ``|a b|`` Euclidean distance; ``v(a, b)``
vertical distance (difference of the y coordinates in the pupil frame); ``mid(a, b)`` midpoint;
angles in degrees. Derived lengths: ``W = |cheek_l cheek_r|`` face width (at eye level, close
to bizygomatic width); ``H = |nasion me|`` face height (morphological, Farkas n-gn);
``EW`` mean eye fissure width ``|en ex|``; ``ICD = |en_l en_r|``; ``OCD = |ex_l ex_r|``;
``NW = |ala_l ala_r|``; ``MW = |ch_l ch_r|``; ``sto = mid(ch_l, ch_r)`` the mouth line's
centre (SCUT marks only the outer lip contour, so no true stomion); ``IPD = 1``.

Features (``geom86``: 36, ``geom68``: 33)
-----------------------------------------
Proportions and angles, both schemes:

 1. ``face_width_height`` = W / H. Facial index (inverse), face roundness [Farkas 1994].
 2. ``fwhr`` = W / v(nasion, ls). Facial width-to-height ratio [Carre & McCormick 2008].
 3. ``ipd_width`` = IPD / W. Ideal about 0.46 [Pallett, Link & Lee 2010].
 4. ``eye_mouth_height`` = v(mid(pupils), sto) / H. Eye-mouth distance over face length,
    ideal about 0.36 of the hairline-chin length [Pallett, Link & Lee 2010].
 5. ``eye_width`` = EW / W. Eye size [Cunningham 1986].
 6. ``eye_height`` = mean ``|lid_up lid_lo|`` / EW. Eye opening [Cunningham 1986].
 7. ``intercanthal_eye`` = ICD / EW. Orbital canon, ideal 1 [Farkas et al. 1985].
 8. ``nose_intercanthal`` = NW / ICD. Orbitonasal canon, ideal 1 [Farkas et al. 1985].
 9. ``mouth_nose`` = MW / NW. Naso-oral canon, ideal 1.5 [Farkas et al. 1985]; golden
    ratio 1.618 [Ricketts 1982].
10. ``nose_width`` = NW / W. Nasofacial canon, ideal 0.25 [Farkas et al. 1985]; nose
    width [Cunningham 1986].
11. ``mouth_width`` = MW / W. Smile width [Cunningham 1986].
12. ``outer_canthal_mouth`` = OCD / MW. Golden ratio 1.618 [Ricketts 1982].
13. ``nose_length`` = ``|nasion subnasale|`` / H. Nose length [Cunningham 1986]; the
    middle third [Farkas 1994].
14. ``nasal_index`` = NW / ``|nasion subnasale|``. Nasal index [Farkas 1994].
15. ``lower_face`` = v(subnasale, me) / H. Lower-face share [Farkas 1994].
16. ``lip_chin`` = v(subnasale, sto) / v(sto, me). Upper to lower part of the lower face,
    ideal 1:2 [Powell & Humphreys 1984].
17. ``chin_length`` = v(li, me) / H. Chin length [Cunningham 1986].
18. ``lip_height`` = ``|ls li|`` / MW. Vermilion (lip) fullness [Cunningham 1986].
19. ``philtrum`` = v(subnasale, ls) / v(subnasale, me). Philtrum share of the lower face
    [Farkas 1994, sn-ls / sn-gn].
20. ``brow_height`` = mean ``|brow_mid pupil|`` / IPD. Eyebrow height [Cunningham 1986].
21. ``brow_tilt`` = mean over sides of the angle of the line brow_in -> brow_out above the
    horizontal (the x axis of the pupil frame), sides mirrored. Brow slant.
22. ``canthal_tilt`` = the same angle for en -> ex. Positive canthal tilt [Rhee et al. 2012].
23. ``jaw_cheek`` = ``|jaw_l jaw_r|`` / W. Lower-face taper, cheek width [Cunningham 1986].
24. ``chin_angle`` = angle at me between me -> jaw_low_l and me -> jaw_low_r. Chin
    pointedness ("V-line").
25. ``gonial_angle`` = mean over sides of the angle at jaw between jaw -> cheek and
    jaw -> jaw_low. Bend of the jaw contour at the mandibular angle.
26. ``nose_chin_lips_chin`` = v(subnasale, me) / v(sto, me). Golden ratio 1.618 [Gunes &
    Piccardi 2006; Schmid, Marx & Samal 2008].
27. ``golden_deviation`` = mean of ``|log(r / 1.618)|`` over ``mouth_nose``,
    ``outer_canthal_mouth`` and ``nose_chin_lips_chin``. Distance from the golden proportions
    [Schmid, Marx & Samal 2008].

Symmetry (fluctuating asymmetry) [Grammer & Thornhill 1994; Schmid, Marx & Samal 2008], over
the bilateral pairs (ex, en, brow_out, brow_in, ala, ch, cheek, jaw, jaw_low, and temple for
SCUT) and the midline points (nasion, subnasale, ls, li, me). The midline is the total
least-squares line through the pairs' midpoints and the midline points:

28. ``asym_midline`` = RMS distance of those midpoints and midline points from the midline /
    IPD (a crooked face).
29. ``asym_tilt`` = mean over pairs of ``|angle|`` (degrees) between the pair's connecting line
    and the perpendicular to the midline (one side higher).
30. ``asym_extent`` = mean over pairs of ``|d_l - d_r| / (d_l + d_r)``, ``d`` a point's
    distance from the midline (one side wider).
31. ``asym_eye_size`` = ``|EW_l - EW_r| / (EW_l + EW_r)`` (eye size difference).
32. ``asym_brow_height`` = ``|brow_mid_l pupil_l| - |brow_mid_r pupil_r|`` in absolute value
    / IPD.

SCUT only (needs the forehead: trichion, temples):

33. ``third_upper`` = v(trichion, glabella) / v(trichion, me), ``glabella = mid(brow_in_l,
    brow_in_r)``. Neoclassical canon of facial thirds, ideal 1/3 [Farkas et al. 1985].
34. ``third_middle`` = v(glabella, subnasale) / v(trichion, me). Same canon.
35. ``forehead_width`` = ``|temple_l temple_r|`` / W. Forehead breadth.
36. ``face_length_width`` = v(trichion, me) / W. Full face length over width, golden ratio
    1.618 [Schmid, Marx & Samal 2008].

dlib only (needs the inner lip contour):

37. ``upper_lip_share`` = ``|ls sto_up|`` / (``|ls sto_up|`` + ``|sto_lo li|``). Upper
    vermilion share, ideal about 1/3 (1:2) [Popenko et al. 2017].

Where the schemes' points differ: dlib's nose points 31/35 are the nostrils' outer edges, not
the alae, so its nose width is smaller; dlib's brow is a single line near the upper edge, SCUT's
brow points are the mean of its upper and lower edges. Each extractor's features are comparable
across faces, not across the two schemes.

Every denominator is floored at 1e-6 IPD, so the features are finite for any landmarks whose
pupils do not coincide.

References
----------
Carre, J. M. & McCormick, C. M. (2008). In your face: facial metrics predict aggressive
behaviour in the laboratory and in varsity and professional hockey players. Proc. R. Soc. B 275.
Cunningham, M. R. (1986). Measuring the physical in physical attractiveness: quasi-experiments
on the sociobiology of female facial beauty. J. Pers. Soc. Psychol. 50(5).
Farkas, L. G., Hreczko, T. A., Kolar, J. C. & Munro, I. R. (1985). Vertical and horizontal
proportions of the face in young adult North American Caucasians: revision of neoclassical
canons. Plast. Reconstr. Surg. 75(3).
Farkas, L. G. (1994). Anthropometry of the Head and Face, 2nd ed. Raven Press.
Grammer, K. & Thornhill, R. (1994). Human (Homo sapiens) facial attractiveness and sexual
selection: the role of symmetry and averageness. J. Comp. Psychol. 108(3).
Gunes, H. & Piccardi, M. (2006). Assessing facial beauty through proportion analysis by image
processing and supervised learning. Int. J. Human-Computer Studies 64.
Pallett, P. M., Link, S. & Lee, K. (2010). New "golden" ratios for facial beauty. Vision
Research 50(2).
Popenko, N. A. et al. (2017). Quantitative analysis of lip appearance: the ideal lip ratio.
JAMA Facial Plast. Surg. 19(4).
Powell, N. & Humphreys, B. (1984). Proportions of the Aesthetic Face. Thieme-Stratton.
Rhee, S. C., Woo, K.-S. & Kwon, B. (2012). Biometric study of eyelid shape and dimensions of
different races with references to beauty. Aesthetic Plast. Surg. 36(5).
Ricketts, R. M. (1982). Divine proportion in facial esthetics. Clin. Plast. Surg. 9(4).
Schmid, K., Marx, D. & Samal, A. (2008). Computation of a face attractiveness index based on
neoclassical canons, symmetry, and golden ratios. Pattern Recognition 41(8).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from features import FEATURES
from features.base import FeatureExtractor
from features.face import FaceContext

#: The golden ratio.
PHI = (1 + 5**0.5) / 2
#: Floor of every denominator, in inter-pupil distances.
EPS = 1e-6

#: Semantic points of each landmark scheme: name -> landmark indices averaged to mark it.
SCHEMES: dict[str, dict[str, tuple[int, ...]]] = {
    "86": {
        "pupil_l": (58,), "pupil_r": (59,),
        "en_l": (42,), "en_r": (54,), "ex_l": (46,), "ex_r": (50,),
        "lid_up_l": (44,), "lid_lo_l": (48,), "lid_up_r": (52,), "lid_lo_r": (56,),
        "brow_in_l": (22, 31), "brow_out_l": (26, 27), "brow_mid_l": (24, 29),
        "brow_in_r": (36, 37), "brow_out_r": (32, 41), "brow_mid_r": (34, 39),
        "nasion": (60, 72), "subnasale": (66,), "ala_l": (64,), "ala_r": (68,),
        "ch_l": (79,), "ch_r": (73,), "ls": (76,), "li": (82, 83), "me": (11,),
        "cheek_l": (5,), "cheek_r": (17,), "jaw_l": (8,), "jaw_r": (14,),
        "jaw_low_l": (9,), "jaw_low_r": (13,),
        "trichion": (0,), "temple_l": (4,), "temple_r": (18,),
    },
    "68": {
        "pupil_l": tuple(range(36, 42)), "pupil_r": tuple(range(42, 48)),
        "en_l": (39,), "en_r": (42,), "ex_l": (36,), "ex_r": (45,),
        "lid_up_l": (37, 38), "lid_lo_l": (40, 41), "lid_up_r": (43, 44), "lid_lo_r": (46, 47),
        "brow_in_l": (21,), "brow_out_l": (17,), "brow_mid_l": (19,),
        "brow_in_r": (22,), "brow_out_r": (26,), "brow_mid_r": (24,),
        "nasion": (27,), "subnasale": (33,), "ala_l": (31,), "ala_r": (35,),
        "ch_l": (48,), "ch_r": (54,), "ls": (51,), "li": (57,), "me": (8,),
        "cheek_l": (0,), "cheek_r": (16,), "jaw_l": (4,), "jaw_r": (12,),
        "jaw_low_l": (5,), "jaw_low_r": (11,),
        "sto_up": (62,), "sto_lo": (66,),
    },
}

#: Bilateral point pairs used by the symmetry features (pairs a scheme lacks are skipped).
PAIRS = ("ex", "en", "brow_out", "brow_in", "ala", "ch", "cheek", "jaw", "jaw_low", "temple")
#: Midline points used by the symmetry features.
MIDLINE = ("nasion", "subnasale", "ls", "li", "me")


class Points:
    """Named semantic points of one face, in the pupil frame (unit: inter-pupil distance).

    Parameters
    ----------
    landmarks : ndarray of shape (n, 2)
        Landmarks of the scheme, image pixels.
    scheme : dict of str to tuple of int
        The scheme's semantic point table (a value of :data:`SCHEMES`).

    Raises
    ------
    ValueError
        If the landmarks do not match the scheme, are not finite, or the pupils coincide.
    """

    def __init__(self, landmarks: np.ndarray, scheme: dict[str, tuple[int, ...]]) -> None:
        landmarks = np.asarray(landmarks, dtype=np.float64)
        n_needed = 1 + max(i for idx in scheme.values() for i in idx)
        if landmarks.ndim != 2 or landmarks.shape[1] != 2 or len(landmarks) < n_needed:
            raise ValueError(f"landmarks of shape {landmarks.shape} do not fit the scheme "
                             f"(needs at least {n_needed} points)")
        if not np.all(np.isfinite(landmarks)):
            raise ValueError("landmarks contain non-finite values")
        self.names = frozenset(scheme)
        raw = {name: landmarks[list(idx)].mean(axis=0) for name, idx in scheme.items()}
        left, right = raw["pupil_l"], raw["pupil_r"]
        ipd = float(np.hypot(*(right - left)))
        if not ipd > 0:
            raise ValueError("degenerate landmarks: the two pupils coincide")
        ux = (right - left) / ipd
        axes = np.array([ux, [-ux[1], ux[0]]])
        origin = (left + right) / 2
        self._points = {name: (p - origin) @ axes.T / ipd for name, p in raw.items()}

    def __getitem__(self, name: str) -> np.ndarray:
        """Point ``name``, shape (2,), pupil-frame coordinates."""
        return self._points[name]

    def dist(self, a: str, b: str) -> float:
        """Euclidean distance ``|a b|``, in IPD."""
        return float(np.hypot(*(self[b] - self[a])))

    def vdist(self, a: str, b: str) -> float:
        """Vertical distance ``v(a, b)`` (y difference in the pupil frame, absolute), in IPD."""
        return abs(float(self[b][1] - self[a][1]))

    def mid(self, a: str, b: str) -> np.ndarray:
        """Midpoint of ``a`` and ``b``, shape (2,)."""
        return (self[a] + self[b]) / 2


def _div(num: float, den: float) -> float:
    """``num / den`` with ``den`` floored at :data:`EPS`."""
    return num / max(den, EPS)


def _vert(p: np.ndarray, q: np.ndarray) -> float:
    """Vertical distance of two pupil-frame points, in IPD."""
    return abs(float(q[1] - p[1]))


def _angle_at(vertex: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
    """Angle ``a-vertex-b`` in degrees, in [0, 180]."""
    u, v = a - vertex, b - vertex
    return float(np.degrees(np.arctan2(abs(u[0] * v[1] - u[1] * v[0]), u @ v)))


def _elevation(start: np.ndarray, end: np.ndarray, side: float) -> float:
    """Angle of ``start -> end`` above the horizontal, degrees; ``side`` -1 mirrors image-left."""
    d = end - start
    return float(np.degrees(np.arctan2(-d[1], side * d[0])))


def _width(p: Points) -> float:
    return p.dist("cheek_l", "cheek_r")


def _height(p: Points) -> float:
    return p.dist("nasion", "me")


def _eye_width(p: Points, side: str) -> float:
    return p.dist(f"en_{side}", f"ex_{side}")


def _mean_eye_width(p: Points) -> float:
    return (_eye_width(p, "l") + _eye_width(p, "r")) / 2


def _nose_width(p: Points) -> float:
    return p.dist("ala_l", "ala_r")


def _mouth_width(p: Points) -> float:
    return p.dist("ch_l", "ch_r")


def _sto(p: Points) -> np.ndarray:
    return p.mid("ch_l", "ch_r")


def _brow_height(p: Points, side: str) -> float:
    return p.dist(f"brow_mid_{side}", f"pupil_{side}")


def _golden_ratios(p: Points) -> list[float]:
    return [_div(_mouth_width(p), _nose_width(p)),
            _div(p.dist("ex_l", "ex_r"), _mouth_width(p)),
            _div(p.vdist("subnasale", "me"), _vert(_sto(p), p["me"]))]


def _midline_points(p: Points) -> tuple[np.ndarray, list[str]]:
    """Midpoints of the bilateral pairs ``p`` has, then the midline points; and those pairs."""
    pairs = [k for k in PAIRS if f"{k}_l" in p.names and f"{k}_r" in p.names]
    return np.array([p.mid(f"{k}_l", f"{k}_r") for k in pairs] + [p[m] for m in MIDLINE]), pairs


def _midline_fit(p: Points) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Total least-squares midline: a point on it, its unit direction, and the pairs used."""
    pts, pairs = _midline_points(p)
    centre = pts.mean(axis=0)
    _, _, vt = np.linalg.svd(pts - centre)
    direction = vt[0] if vt[0][1] >= 0 else -vt[0]
    return centre, direction, pairs


def _asym_midline(p: Points) -> float:
    centre, direction, _ = _midline_fit(p)
    pts, _ = _midline_points(p)
    off = (pts - centre) @ np.array([-direction[1], direction[0]])
    return float(np.sqrt(np.mean(off**2)))


def _asym_tilt(p: Points) -> float:
    _, direction, pairs = _midline_fit(p)
    tilts = []
    for k in pairs:
        d = p[f"{k}_r"] - p[f"{k}_l"]
        along = float(d @ direction)  # 0 for a pair perpendicular to the midline
        across = float(d @ np.array([-direction[1], direction[0]]))
        tilts.append(abs(np.degrees(np.arctan2(along, abs(across)))))
    return float(np.mean(tilts))


def _asym_extent(p: Points) -> float:
    centre, direction, pairs = _midline_fit(p)
    normal = np.array([-direction[1], direction[0]])
    values = []
    for k in pairs:
        dl = abs(float((p[f"{k}_l"] - centre) @ normal))
        dr = abs(float((p[f"{k}_r"] - centre) @ normal))
        values.append(_div(abs(dl - dr), dl + dr))
    return float(np.mean(values))


def _glabella(p: Points) -> np.ndarray:
    return p.mid("brow_in_l", "brow_in_r")


@dataclass(frozen=True)
class GeomFeature:
    """One geometric feature: its name, the semantic points it needs, and its formula.

    Attributes
    ----------
    name : str
    needs : tuple of str
        Semantic point names (of :data:`SCHEMES`) the formula reads.
    fn : callable
        ``fn(points) -> float``.
    """

    name: str
    needs: tuple[str, ...]
    fn: Callable[[Points], float]


_FACE = ("cheek_l", "cheek_r", "nasion", "me")
_EYES = ("en_l", "ex_l", "en_r", "ex_r")
_SYM = ("ex_l", "ex_r", "en_l", "en_r", "brow_out_l", "brow_out_r", "brow_in_l", "brow_in_r",
        "ala_l", "ala_r", "ch_l", "ch_r", "cheek_l", "cheek_r", "jaw_l", "jaw_r", "jaw_low_l",
        "jaw_low_r", *MIDLINE)

#: Every feature, in output order (a scheme keeps those whose points it has).
FEATURES_DEFS: tuple[GeomFeature, ...] = (
    GeomFeature("face_width_height", _FACE, lambda p: _div(_width(p), _height(p))),
    GeomFeature("fwhr", ("cheek_l", "cheek_r", "nasion", "ls"),
                lambda p: _div(_width(p), p.vdist("nasion", "ls"))),
    GeomFeature("ipd_width", ("cheek_l", "cheek_r"), lambda p: _div(1.0, _width(p))),
    GeomFeature("eye_mouth_height", (*_FACE, "ch_l", "ch_r"),
                lambda p: _div(abs(float(_sto(p)[1])), _height(p))),
    GeomFeature("eye_width", (*_EYES, "cheek_l", "cheek_r"),
                lambda p: _div(_mean_eye_width(p), _width(p))),
    GeomFeature("eye_height", (*_EYES, "lid_up_l", "lid_lo_l", "lid_up_r", "lid_lo_r"),
                lambda p: _div((p.dist("lid_up_l", "lid_lo_l") + p.dist("lid_up_r", "lid_lo_r")) / 2,
                               _mean_eye_width(p))),
    GeomFeature("intercanthal_eye", _EYES, lambda p: _div(p.dist("en_l", "en_r"), _mean_eye_width(p))),
    GeomFeature("nose_intercanthal", ("ala_l", "ala_r", "en_l", "en_r"),
                lambda p: _div(_nose_width(p), p.dist("en_l", "en_r"))),
    GeomFeature("mouth_nose", ("ch_l", "ch_r", "ala_l", "ala_r"),
                lambda p: _div(_mouth_width(p), _nose_width(p))),
    GeomFeature("nose_width", ("ala_l", "ala_r", "cheek_l", "cheek_r"),
                lambda p: _div(_nose_width(p), _width(p))),
    GeomFeature("mouth_width", ("ch_l", "ch_r", "cheek_l", "cheek_r"),
                lambda p: _div(_mouth_width(p), _width(p))),
    GeomFeature("outer_canthal_mouth", ("ex_l", "ex_r", "ch_l", "ch_r"),
                lambda p: _div(p.dist("ex_l", "ex_r"), _mouth_width(p))),
    GeomFeature("nose_length", (*_FACE, "subnasale"),
                lambda p: _div(p.dist("nasion", "subnasale"), _height(p))),
    GeomFeature("nasal_index", ("ala_l", "ala_r", "nasion", "subnasale"),
                lambda p: _div(_nose_width(p), p.dist("nasion", "subnasale"))),
    GeomFeature("lower_face", (*_FACE, "subnasale"),
                lambda p: _div(p.vdist("subnasale", "me"), _height(p))),
    GeomFeature("lip_chin", ("subnasale", "ch_l", "ch_r", "me"),
                lambda p: _div(_vert(p["subnasale"], _sto(p)), _vert(_sto(p), p["me"]))),
    GeomFeature("chin_length", (*_FACE, "li"), lambda p: _div(p.vdist("li", "me"), _height(p))),
    GeomFeature("lip_height", ("ls", "li", "ch_l", "ch_r"),
                lambda p: _div(p.dist("ls", "li"), _mouth_width(p))),
    GeomFeature("philtrum", ("subnasale", "ls", "me"),
                lambda p: _div(p.vdist("subnasale", "ls"), p.vdist("subnasale", "me"))),
    GeomFeature("brow_height", ("brow_mid_l", "brow_mid_r"),
                lambda p: (_brow_height(p, "l") + _brow_height(p, "r")) / 2),
    GeomFeature("brow_tilt", ("brow_in_l", "brow_out_l", "brow_in_r", "brow_out_r"),
                lambda p: (_elevation(p["brow_in_l"], p["brow_out_l"], -1.0)
                           + _elevation(p["brow_in_r"], p["brow_out_r"], 1.0)) / 2),
    GeomFeature("canthal_tilt", _EYES,
                lambda p: (_elevation(p["en_l"], p["ex_l"], -1.0)
                           + _elevation(p["en_r"], p["ex_r"], 1.0)) / 2),
    GeomFeature("jaw_cheek", ("jaw_l", "jaw_r", "cheek_l", "cheek_r"),
                lambda p: _div(p.dist("jaw_l", "jaw_r"), _width(p))),
    GeomFeature("chin_angle", ("me", "jaw_low_l", "jaw_low_r"),
                lambda p: _angle_at(p["me"], p["jaw_low_l"], p["jaw_low_r"])),
    GeomFeature("gonial_angle", ("jaw_l", "cheek_l", "jaw_low_l", "jaw_r", "cheek_r", "jaw_low_r"),
                lambda p: (_angle_at(p["jaw_l"], p["cheek_l"], p["jaw_low_l"])
                           + _angle_at(p["jaw_r"], p["cheek_r"], p["jaw_low_r"])) / 2),
    GeomFeature("nose_chin_lips_chin", ("subnasale", "me", "ch_l", "ch_r"),
                lambda p: _div(p.vdist("subnasale", "me"), _vert(_sto(p), p["me"]))),
    GeomFeature("golden_deviation", ("ch_l", "ch_r", "ala_l", "ala_r", "ex_l", "ex_r", "subnasale", "me"),
                lambda p: float(np.mean([abs(np.log(max(r, EPS) / PHI)) for r in _golden_ratios(p)]))),
    GeomFeature("asym_midline", _SYM, _asym_midline),
    GeomFeature("asym_tilt", _SYM, _asym_tilt),
    GeomFeature("asym_extent", _SYM, _asym_extent),
    GeomFeature("asym_eye_size", _EYES,
                lambda p: _div(abs(_eye_width(p, "l") - _eye_width(p, "r")),
                               _eye_width(p, "l") + _eye_width(p, "r"))),
    GeomFeature("asym_brow_height", ("brow_mid_l", "brow_mid_r"),
                lambda p: abs(_brow_height(p, "l") - _brow_height(p, "r"))),
    GeomFeature("third_upper", ("trichion", "brow_in_l", "brow_in_r", "me"),
                lambda p: _div(_vert(p["trichion"], _glabella(p)), p.vdist("trichion", "me"))),
    GeomFeature("third_middle", ("trichion", "brow_in_l", "brow_in_r", "subnasale", "me"),
                lambda p: _div(_vert(_glabella(p), p["subnasale"]), p.vdist("trichion", "me"))),
    GeomFeature("forehead_width", ("temple_l", "temple_r", "cheek_l", "cheek_r"),
                lambda p: _div(p.dist("temple_l", "temple_r"), _width(p))),
    GeomFeature("face_length_width", ("trichion", "me", "cheek_l", "cheek_r"),
                lambda p: _div(p.vdist("trichion", "me"), _width(p))),
    GeomFeature("upper_lip_share", ("ls", "sto_up", "sto_lo", "li"),
                lambda p: _div(p.dist("ls", "sto_up"), p.dist("ls", "sto_up") + p.dist("sto_lo", "li"))),
)


def scheme_features(scheme: str) -> tuple[GeomFeature, ...]:
    """The features a landmark scheme (``"86"`` or ``"68"``) has every point for, in order."""
    names = set(SCHEMES[scheme])
    return tuple(f for f in FEATURES_DEFS if set(f.needs) <= names)


def geometric_features(landmarks: np.ndarray, scheme: str) -> np.ndarray:
    """Geometric features of one face.

    Parameters
    ----------
    landmarks : ndarray of shape (86, 2) or (68, 2)
        Landmarks of ``scheme``, image pixels.
    scheme : {"86", "68"}
        Landmark scheme (a key of :data:`SCHEMES`).

    Returns
    -------
    ndarray of shape (n_features,), float64
        The values of :func:`scheme_features` ``(scheme)``: ratios (unitless), angles (degrees),
        lengths in inter-pupil distances.

    Raises
    ------
    ValueError
        If the landmarks do not fit the scheme, are not finite, or the pupils coincide.
    """
    points = Points(landmarks, SCHEMES[scheme])
    return np.array([f.fn(points) for f in scheme_features(scheme)], dtype=np.float64)


class _GeometryBase(FeatureExtractor):
    """Shared extraction of :func:`geometric_features` for one landmark scheme."""

    scheme: ClassVar[str] = ""

    def _landmarks(self, face: FaceContext) -> np.ndarray:
        raise NotImplementedError

    def extract(self, face: FaceContext) -> np.ndarray:
        """Geometric features of one face, shape ``(n_features,)``, float64."""
        return geometric_features(self._landmarks(face), self.scheme)

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        """Names of the output features, in order (see the module docstring)."""
        return np.array([f.name for f in scheme_features(self.scheme)], dtype=object)


@FEATURES.register("geom86")
class Geometry86(_GeometryBase):
    """Facial-proportion ratios, angles and symmetry from the 86 SCUT landmarks (36-D).

    Uses the manual landmarks, or their estimate from dlib's 68 points where an image has
    none (:func:`data.landmark_map.estimate86_from68`). See :mod:`features.geometry` for
    every feature's formula and source.
    """

    uses_landmarks: ClassVar[bool] = True
    scheme: ClassVar[str] = "86"

    def _landmarks(self, face: FaceContext) -> np.ndarray:
        return face.landmarks86


@FEATURES.register("geom68")
class Geometry68(_GeometryBase):
    """Facial-proportion ratios, angles and symmetry from dlib's 68 automatic landmarks (33-D).

    See :mod:`features.geometry` for every feature's formula and source.
    """

    scheme: ClassVar[str] = "68"

    def _landmarks(self, face: FaceContext) -> np.ndarray:
        return face.landmarks68
