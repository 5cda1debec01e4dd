"""Hand-crafted and pretrained face feature extractors, registered by name.

Every public module of this package is imported on first lookup, so a new extractor is one
new module with ``@FEATURES.register("name")`` on a :class:`features.base.FeatureExtractor`
subclass. Third-party packages register through the entry point group ``fbp.features``.
"""

from core.registry import Registry

FEATURES: Registry = Registry("feature", packages=("features",), entry_point_group="fbp.features")

__all__ = ["FEATURES"]
