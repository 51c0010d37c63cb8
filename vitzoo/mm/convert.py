"""The authors' own segmentation / detection checkpoints in :class:`VitzooBackbone`'s layout.

Their MMSeg / MMDet backbones hold the classification model's weights under ``backbone.`` plus one
output norm per stage (``backbone.norm{i}`` in Swin, HorNet and SLAB, ``backbone.extra_norms.{i}`` in
RMT, ``backbone.norm{i+1}`` in CSWin).  :func:`convert_dense_state_dict` maps the backbone through the
family's own ``checkpoint_filter_fn`` (the one ``timm.create_model`` uses) to ``backbone.model.*``, the
output norms to ``backbone.out_norms.{j}.*``, keeps the neck and heads as they are, and checks that every
weight the adapter uses is present.  ``tools/convert_dense_checkpoint.py`` does it for a file.
"""
from __future__ import annotations

import re
import sys
from collections.abc import Mapping

import torch

from ..checkpoint import CheckpointError
from .backbone import VitzooBackbone

__all__ = ["convert_dense_state_dict"]

_OUTPUT_NORM = re.compile(r"^(?:norm|extra_norms\.)(\d+)\.(weight|bias)$")


def _split_output_norms(backbone_sd: Mapping[str, torch.Tensor], num_stages: int):
    """(stage -> {weight, bias}, the other backbone keys); numbering from 0 or 1 is detected."""
    norms: dict[int, dict[str, torch.Tensor]] = {}
    rest = {}
    for key, value in backbone_sd.items():
        match = _OUTPUT_NORM.match(key)
        if match and value.ndim == 1:
            norms.setdefault(int(match[1]), {})[match[2]] = value
        else:
            rest[key] = value
    # a classification model's final norm is a bare `norm.*`, so it never matches; CSWin counts from 1
    if norms and min(norms) == 1 and max(norms) == num_stages:
        norms = {i - 1: v for i, v in norms.items()}
    return norms, rest


def convert_dense_state_dict(state_dict: Mapping[str, torch.Tensor], backbone: VitzooBackbone) -> dict:
    """The authors' dense state dict (``backbone.*``, ``neck.*``, ``decode_head.*``...) for ``backbone``'s model."""
    backbone_sd = {k[len("backbone."):]: v for k, v in state_dict.items() if k.startswith("backbone.")}
    if not backbone_sd:
        raise CheckpointError(
            "no backbone.* keys: this is not an MMSegmentation / MMDetection checkpoint (a classification "
            "checkpoint goes to VitzooBackbone(pretrained=FILE) instead)"
        )
    if any(k.startswith(("model.", "out_norms.")) for k in backbone_sd):
        raise CheckpointError("the checkpoint is already in VitzooBackbone's layout (backbone.model.*): load it as is")
    norms, rest = _split_output_norms(backbone_sd, len(backbone.model.feature_info))
    family = sys.modules[type(backbone.model).__module__]
    mapped = family.checkpoint_filter_fn(rest, backbone.model)

    converted = {k: v for k, v in state_dict.items() if not k.startswith("backbone.")}
    converted.update({f"backbone.model.{k}": v for k, v in mapped.items()})
    for position, stage in enumerate(backbone.out_indices):
        if isinstance(backbone.out_norms[position], torch.nn.Identity):
            continue
        if stage not in norms:
            raise CheckpointError(
                f"the checkpoint has no output norm for stage {stage} (found norms for stages {sorted(norms)}); "
                "build the backbone with out_norms=False if the authors' dense model has none"
            )
        for name, value in norms[stage].items():
            converted[f"backbone.out_norms.{position}.{name}"] = value

    persistent = set(backbone.state_dict())
    expected = {f"backbone.{k}" for k, p in backbone.named_parameters() if p.requires_grad}
    for module_name, module in backbone.named_modules():
        params = list(module.parameters())
        if params and not any(p.requires_grad for p in params):
            continue  # a part the adapter does not run (the classifier's norm): its buffers are not needed
        prefix = f"{module_name}." if module_name else ""
        expected |= {f"backbone.{prefix}{b}" for b, _ in module.named_buffers(recurse=False) if prefix + b in persistent}
    missing = sorted(k for k in expected if k not in converted)
    if missing:
        raise CheckpointError(
            f"the converted checkpoint lacks {len(missing)} weights that {backbone.model_name} uses, e.g. "
            f"{missing[:5]}: the checkpoint is of another model or variant"
        )
    unexpected = sorted(k for k in converted if k.startswith("backbone.") and k[len("backbone."):] not in persistent)
    if unexpected:
        raise CheckpointError(
            f"the checkpoint has {len(unexpected)} backbone weights that {backbone.model_name} does not, e.g. "
            f"{unexpected[:5]}: the checkpoint is of another model or variant"
        )
    return converted
