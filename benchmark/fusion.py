"""Early fusion: registered feature extractors joined by ``+`` are one feature row.

``--features dlib-embed+gabor-grid+geom86`` names one feature whose vector is the
concatenation of the three extractors' vectors (the *blocks*, in the order given). Nothing is
registered for a combination: this module parses the name (every block is checked against
:data:`features.FEATURES`), builds the fused extractor and assembles the fused feature matrix
from the per-block matrices of the feature cache (each block is cached on its own, exactly as
when it runs alone).

In the model, each block is standardised (and PCA-reduced if that extractor is
``high_dimensional``) on the training part on its own, then the blocks are concatenated
(:func:`benchmark.pipeline.build_preprocessing` builds a
:class:`~sklearn.compose.ColumnTransformer` over the blocks' column slices), so no block
drowns the others.

Row and folder names keep the ``+``: the record of ``dlib-embed+lbp`` with ``svr`` is
``records/<protocol>/dlib-embed+lbp__svr/``. ``+`` is a valid file name character on Linux,
macOS and Windows, and no single registered name is split into blocks (a name that is itself
registered is never treated as a fusion), so fused folders cannot collide with single ones.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from benchmark.feature_cache import FeatureCache, FeatureMatrix
from core.errors import ConfigError
from data.scut import FaceRecord
from features import FEATURES
from features.base import FeatureExtractor
from features.face import FaceContext

#: Joins the blocks of a fused feature name.
SEPARATOR = "+"

SYNTAX_HELP = (f"registered features joined by '{SEPARATOR}' (e.g. dlib-embed{SEPARATOR}gabor-grid{SEPARATOR}geom86) "
               "are one feature row: each block is standardised (and PCA-reduced if high-dimensional) on the "
               "training part on its own, then the blocks are concatenated")


def fusion_blocks(name: str) -> list[str]:
    """The registered extractors a feature name stands for, in order.

    Parameters
    ----------
    name : str
        A registered feature (``lbp``) or a fusion of registered features (``dlib-embed+lbp``).

    Returns
    -------
    list of str
        One name for a single feature, the blocks for a fusion.

    Raises
    ------
    ConfigError
        If a block is empty or repeated; an unknown block raises the registry's
        :class:`~core.registry.UnknownComponentError` (a ConfigError) listing the valid names.
    """
    name = name.strip()
    if SEPARATOR not in name or name in FEATURES:
        FEATURES.get(name)
        return [name]
    blocks = [b.strip() for b in name.split(SEPARATOR)]
    if any(not b for b in blocks):
        raise ConfigError(f"feature {name!r}: empty block; join registered features with '{SEPARATOR}', "
                          f"e.g. dlib-embed{SEPARATOR}lbp")
    repeated = sorted({b for b in blocks if blocks.count(b) > 1})
    if repeated:
        raise ConfigError(f"feature {name!r}: block {repeated[0]!r} appears more than once")
    for block in blocks:
        FEATURES.get(block)
    return blocks


def canonical_name(name: str) -> str:
    """``name`` without spaces around the blocks (``"a + b"`` -> ``"a+b"``), after checking it."""
    return SEPARATOR.join(fusion_blocks(name))


def is_fused(name: str) -> bool:
    """True if ``name`` is a fusion of several registered features (checked)."""
    return len(fusion_blocks(name)) > 1


def is_known(name: str) -> bool:
    """True if ``name`` is a registered feature or a valid fusion of registered features."""
    try:
        fusion_blocks(name)
    except ConfigError:
        return False
    return True


def landmark_blocks(name: str) -> list[str]:
    """The blocks of ``name`` that read the 86 manual landmarks (``uses_landmarks``)."""
    return [b for b in fusion_blocks(name) if FEATURES.get(b).uses_landmarks]


def parse_feature_list(value: str | None) -> list[str]:
    """``--features``: comma-separated features or fusions; None means every registered feature.

    ``none`` means no feature. The default never fuses: fusion happens only when a name with
    ``+`` is given.

    Raises
    ------
    ConfigError
        For an unknown block or a malformed fusion (see :func:`fusion_blocks`).
    """
    if value is None:
        return FEATURES.list()
    if value.strip().lower() == "none":
        return []
    return [canonical_name(v) for v in value.split(",") if v.strip()]


class FusedFeatures(FeatureExtractor):
    """Concatenation of several feature extractors' vectors (early fusion).

    Parameters
    ----------
    blocks : sequence of (str, FeatureExtractor)
        The registered name and the extractor of each block, in column order.

    Notes
    -----
    Stateless like every extractor. ``get_params(deep=True)`` exposes each block as
    ``<name>`` and its parameters as ``<name>__<param>`` (as scikit-learn's ``FeatureUnion``
    does), so ``set_params`` and ``clone`` work. The feature cache stores each block on its
    own (:func:`fused_matrices`); this class is what a saved model uses to featurise a photo.
    """

    high_dimensional = False  # each block is reduced on its own (see benchmark.pipeline)

    def __init__(self, blocks: Sequence[tuple[str, FeatureExtractor]] = ()) -> None:
        self.blocks = blocks

    @property
    def registry_name(self) -> str:  # type: ignore[override]
        return SEPARATOR.join(name for name, _ in self.blocks)

    @property
    def uses_landmarks(self) -> bool:  # type: ignore[override]
        """True if any block reads the 86 manual landmarks."""
        return any(e.uses_landmarks for _, e in self.blocks)

    @property
    def version(self) -> str:  # type: ignore[override]
        return SEPARATOR.join(str(e.version) for _, e in self.blocks)

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """``{"blocks": ...}``; with ``deep``, also each block and its ``<name>__<param>`` entries."""
        out: dict[str, Any] = {"blocks": self.blocks}
        if deep:
            for name, extractor in self.blocks:
                out[name] = extractor
                out.update({f"{name}__{k}": v for k, v in extractor.get_params(deep=True).items()})
        return out

    def extract(self, face: FaceContext) -> np.ndarray:
        """The blocks' vectors of one face, concatenated (one shared :class:`FaceContext`)."""
        return np.concatenate([np.asarray(e.extract(face), dtype=np.float64).ravel() for _, e in self.blocks])

    def cache_key(self) -> str:
        """The blocks' cache keys joined (the cache itself stores each block separately)."""
        return SEPARATOR.join(e.cache_key() for _, e in self.blocks)


def create_fused(name: str) -> FusedFeatures:
    """The fused extractor of ``name`` with each block's default (benchmark) parameters."""
    return FusedFeatures([(block, FEATURES.create(block)) for block in fusion_blocks(name)])


def fused_matrices(names: Iterable[str], cache: FeatureCache, records: Sequence[FaceRecord], *, jobs: int = 1,
                   progress: bool = True) -> dict[str, FeatureMatrix]:
    """Feature matrices of single and fused features, each block computed (or loaded) once.

    Parameters
    ----------
    names : iterable of str
        Features as given to ``--features`` (single or fused).
    cache : FeatureCache
        Holds one matrix per block, as for single features.
    records : sequence of FaceRecord

    Returns
    -------
    dict of str to FeatureMatrix
        For a fusion: the column concatenation of its blocks' matrices, ``fallback`` the OR of
        the blocks' flags and ``widths`` the blocks' column counts.
    """
    names = list(dict.fromkeys(names))
    blocks_of = {n: fusion_blocks(n) for n in names}
    blocks = list(dict.fromkeys(b for bs in blocks_of.values() for b in bs))
    extractors = [FEATURES.create(b) for b in blocks]
    by_block = dict(zip(blocks, cache.matrices(extractors, records, jobs=jobs, progress=progress), strict=True))
    out = {}
    for name, parts in blocks_of.items():
        if len(parts) == 1:
            out[name] = by_block[parts[0]]
            continue
        mats = [by_block[b] for b in parts]
        out[name] = FeatureMatrix(values=np.hstack([m.values for m in mats]),
                                  fallback=np.logical_or.reduce([m.fallback for m in mats]),
                                  widths=tuple(m.values.shape[1] for m in mats))
    return out
