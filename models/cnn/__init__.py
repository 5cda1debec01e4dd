"""CNN backbones fine-tuned for score regression, registered by name.

``CNNS`` maps a model name (``alexnet``, ``resnet18``, ``resnext50``, ``resnet50``,
``mobilenet_v2``) to a small architecture class (see :mod:`models.cnn.architectures`). Every
public module of this package is imported on first lookup, so a new backbone is one new module
with ``@CNNS.register("name")``; third-party packages register through the entry point group
``fbp.models``. Any timm model is accepted as ``timm/<name>``: a registry family
(:meth:`core.registry.Registry.register_family`, in :mod:`models.cnn.timm_backbone`) resolved on
demand and not enumerated by ``CNNS.list()``.

Training is :func:`models.cnn.train.train_and_predict`; recipes are in
:mod:`models.cnn.recipes`; offline ImageNet weights in :mod:`models.cnn.weights`.
"""

from core.registry import Registry

CNNS: Registry = Registry("model", packages=("models.cnn",), entry_point_group="fbp.models")

__all__ = ["CNNS"]
