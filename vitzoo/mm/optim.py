"""Layer-wise learning-rate decay for any vitzoo backbone, from the timm model's own ``group_matcher``.

The papers' dense recipes (HorNet, ConvNeXt-style ``stage_wise``; ViT-style ``layer_wise``) lower the
learning rate of early layers: layer ``i`` of ``L`` gets ``lr * rate ** (L - i)``, and the neck and heads
get the full rate.  OpenMMLab's own constructors find layers by module names of one backbone each;
this one asks the model: ``group_matcher(coarse=False)`` gives timm's per-block groups (``layer_wise``),
``coarse=True`` its per-stage groups (``stage_wise``), the same groups timm's
``param_groups_layer_decay`` uses.  Only trainable parameters count, so frozen stages and the parts a
dense model does not run (the classifier's final norm) take no layer.

In a config::

    optim_wrapper = dict(
        optimizer=dict(type="AdamW", lr=1e-4, weight_decay=0.05),
        constructor="LayerDecayOptimWrapperConstructor",
        paramwise_cfg=dict(layer_decay_rate=0.9, decay_type="stage_wise"))

``num_layers`` (optional) reproduces a paper's hand-set layer count: with more groups than
``num_layers`` the groups are merged evenly into ``num_layers`` layers (e.g. HorNet's detection recipe
counts 12 layers for a 27-block model), and the neck and heads sit at layer ``num_layers + 1``, so
the last backbone layer ``i`` gets ``rate ** (num_layers + 1 - i)`` as in the authors' constructors.

Weight decay is 0 for 1-D parameters (norms, biases, scales) and for the names the timm model lists in
``no_weight_decay()`` (position embeddings, relative position tables).
"""
from __future__ import annotations

import torch.nn as nn
from mmengine.logging import print_log
from mmengine.optim import DefaultOptimWrapperConstructor
from mmengine.registry import OPTIM_WRAPPER_CONSTRUCTORS
from timm.models import group_parameters

from .backbone import VitzooBackbone

__all__ = ["LayerDecayOptimWrapperConstructor", "backbone_layer_ids"]

DECAY_TYPES = {"layer_wise": False, "stage_wise": True}  # -> group_matcher(coarse=...)


def backbone_layer_ids(
    backbone: VitzooBackbone, decay_type: str, num_layers: int | None = None
) -> tuple[dict[str, int], int]:
    """(trainable parameter name inside ``backbone`` -> layer id, layer id of the neck and heads)."""
    if decay_type not in DECAY_TYPES:
        raise ValueError(f"decay_type must be one of {sorted(DECAY_TYPES)}, got {decay_type!r}")
    model = backbone.model
    if not hasattr(model, "group_matcher"):
        raise TypeError(f"{type(model).__name__} has no group_matcher(), so its layers are unknown to layer decay")
    group_of = group_parameters(model, model.group_matcher(coarse=DECAY_TYPES[decay_type]), reverse=True)
    trainable = {name for name, p in model.named_parameters() if p.requires_grad}
    groups = sorted({group_of[name] for name in trainable if name in group_of})
    if num_layers is None:
        layer_of_group = {group: layer for layer, group in enumerate(groups)}
        top = len(groups)
    else:
        if not isinstance(num_layers, int) or num_layers < 1:
            raise ValueError(f"paramwise_cfg.num_layers must be a positive integer, got {num_layers!r}")
        merge = max(1.0, len(groups) / num_layers)
        layer_of_group = {group: int(order / merge) for order, group in enumerate(groups)}
        top = num_layers + 1
    ids = {f"model.{name}": layer_of_group[group_of[name]] for name in trainable if name in group_of}
    return ids, top


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class LayerDecayOptimWrapperConstructor(DefaultOptimWrapperConstructor):
    """``paramwise_cfg``: ``layer_decay_rate`` (float in (0, 1]), ``decay_type`` ('layer_wise' or
    'stage_wise') and optional ``num_layers``. The model must hold one :class:`VitzooBackbone`."""

    def add_params(self, params: list, module: nn.Module, prefix: str = "", **kwargs) -> None:
        rate = self.paramwise_cfg.get("layer_decay_rate")
        decay_type = self.paramwise_cfg.get("decay_type", "layer_wise")
        if not isinstance(rate, (int, float)) or not 0 < rate <= 1:
            raise ValueError(f"paramwise_cfg.layer_decay_rate must be a number in (0, 1], got {rate!r}")
        backbones = [(name, m) for name, m in module.named_modules() if isinstance(m, VitzooBackbone)]
        if len(backbones) != 1:
            raise ValueError(
                f"LayerDecayOptimWrapperConstructor needs exactly one VitzooBackbone in the model, found {len(backbones)}"
            )
        backbone_prefix, backbone = backbones[0]
        layer_ids, top = backbone_layer_ids(backbone, decay_type, self.paramwise_cfg.get("num_layers"))
        no_decay_names = {f"model.{n}" for n in getattr(backbone.model, "no_weight_decay", lambda: set())()}
        base_lr, base_wd = self.base_lr, self.base_wd or 0.0
        groups: dict[tuple[int, bool], dict] = {}
        for name, param in module.named_parameters():
            if not param.requires_grad:
                continue
            inner = name[len(backbone_prefix) + 1:] if name.startswith(backbone_prefix + ".") else None
            # the neck and heads (and backbone parts outside the matcher's groups) learn at the full rate
            layer = layer_ids.get(inner, top) if inner is not None else top
            no_decay = param.ndim <= 1 or inner in no_decay_names
            key = (layer, no_decay)
            if key not in groups:
                scale = rate ** (top - layer)
                groups[key] = {"params": [], "lr": base_lr * scale, "weight_decay": 0.0 if no_decay else base_wd,
                               "lr_scale": scale}
            groups[key]["params"].append(param)
        print_log(
            f"layer decay {rate} ({decay_type}): backbone layers at lr scales {rate ** top:.3g}.."
            f"{rate ** (top - max(layer_ids.values(), default=0)):.3g}, neck and heads 1, {len(groups)} parameter groups",
            logger="current",
        )
        params.extend(groups[key] for key in sorted(groups))
