"""MMSegmentation / MMDetection integration.

In a config: ``custom_imports = dict(imports=["vitzoo.mm"], allow_failed_imports=False)`` and
``backbone=dict(type="VitzooBackbone", model_name="vz_swin_tiny_patch4_window7_224", ...)``.
Importing this module registers :class:`VitzooBackbone` in the ``MODELS`` registry of every installed
OpenMMLab library among mmsegmentation and mmdet (``python tools/install_mm.py`` installs them), and
:class:`LayerDecayOptimWrapperConstructor` (layer-wise lr decay for any vitzoo backbone) in mmengine's.
"""
from __future__ import annotations

import importlib

try:
    from .backbone import VitzooBackbone
    from .optim import LayerDecayOptimWrapperConstructor
except ModuleNotFoundError as e:  # mmengine missing
    raise ModuleNotFoundError(
        f"vitzoo.mm needs the OpenMMLab stack ({e.name} is not installed): run python tools/install_mm.py"
    ) from e

__all__ = ["VitzooBackbone", "LayerDecayOptimWrapperConstructor", "registered_in"]


def _register() -> tuple[str, ...]:
    registered = []
    for library in ("mmseg", "mmdet"):
        try:
            registry = importlib.import_module(f"{library}.registry").MODELS
        except ModuleNotFoundError:
            continue
        registry.register_module(module=VitzooBackbone, force=True)
        registered.append(library)
    if not registered:
        raise ModuleNotFoundError(
            "vitzoo.mm found neither mmsegmentation nor mmdet: run python tools/install_mm.py"
        )
    return tuple(registered)


registered_in = _register()
