"""``VitzooBackbone``: any vitzoo / timm model as an MMSegmentation or MMDetection backbone.

One adapter for every family: it builds the timm model (weights through the same checkpoint filter as
``timm.create_model``), takes the stage outputs from ``forward_intermediates`` as NCHW maps, and adds the
per-output norms that the papers' dense backbones put on top (Swin, HorNet, RMT: one LayerNorm per output).
"""
from __future__ import annotations

import difflib
from pathlib import Path
from typing import Sequence

import timm
import torch
import torch.nn as nn
from mmengine.model import BaseModule
from timm.layers import LayerNorm2d
from torch.nn.modules.batchnorm import _BatchNorm

__all__ = ["VitzooBackbone", "DENSE_OUTPUT_NORM_EPS"]

# LayerNorm eps of the output norms each family's own dense backbone adds, by vitzoo model module.
# A family whose dense code adds no output norms is not listed (out_norms='auto' then adds none).
# input of the dependency probe: small, and valid for every family (any size runs)
_PROBE_SIZE = (64, 64)

DENSE_OUTPUT_NORM_EPS = {
    "vitzoo.models.swin": 1e-5,
    "vitzoo.models.hornet": 1e-6,
    "vitzoo.models.rmt": 1e-5,
    "vitzoo.models.slab_swin": 1e-5,  # SLAB detection code: norm{i} LayerNorms like Swin
    "vitzoo.models.slab_cswin": 1e-5,  # CSWin segmentation code: norm1..norm4 LayerNorms
}


def _create_timm_model(model_name: str, pretrained, drop_path_rate, model_kwargs: dict) -> nn.Module:
    # the vitzoo models are registered: importing vitzoo.mm imported vitzoo first
    if not isinstance(model_name, str) or not model_name:
        raise ValueError(
            f"VitzooBackbone: model_name must be a timm / vitzoo model name, got {model_name!r}; set "
            "model.backbone.model_name in the config (the _base_ model files leave it for the family config)"
        )
    if not timm.is_model(model_name):
        close = difflib.get_close_matches(model_name, timm.list_models(), n=5, cutoff=0.6)
        raise ValueError(
            f"VitzooBackbone: unknown model_name {model_name!r}"
            + (f"; did you mean one of {close}?" if close else "; timm.list_models('vz_*') lists vitzoo's models")
        )
    kwargs = dict(model_kwargs)
    if drop_path_rate is not None:
        kwargs["drop_path_rate"] = drop_path_rate
    if isinstance(pretrained, (str, Path)):
        path = Path(pretrained).expanduser()
        if not path.is_file():
            raise FileNotFoundError(
                f"VitzooBackbone: pretrained={str(pretrained)!r} is not a file; pass a checkpoint path, "
                "True for the model's default weights, or False"
            )
        kwargs["pretrained_cfg_overlay"] = dict(file=str(path))
        pretrained = True
    elif pretrained not in (None, True, False):
        raise TypeError(f"VitzooBackbone: pretrained must be a file path, True or False, got {pretrained!r}")
    return timm.create_model(model_name, pretrained=bool(pretrained), num_classes=0, **kwargs)


def _dependencies(model: nn.Module, stage: int) -> tuple[set[int], list[nn.Module]]:
    """(ids of the parameters, the modules) that the output of ``stage`` depends on, found by running it once.

    A parameter counts when it gets a gradient from that output or belongs to a module the pass calls;
    the latter catches branches that only training runs (e.g. the LayerNorm of a progressive norm in
    eval mode).  Works for any family's layout, without naming its modules.
    """
    called: list[nn.Module] = []
    hooks = [m.register_forward_hook(lambda m, i, o: called.append(m)) for m in model.modules()]
    was_training = model.training
    try:
        model.eval()
        x = torch.zeros(1, getattr(model, "in_chans", 3), *_PROBE_SIZE)
        with torch.enable_grad():
            (out,) = model.forward_intermediates(x, indices=[stage], stop_early=True, intermediates_only=True)
            params = [p for p in model.parameters() if p.requires_grad]
            grads = [None] * len(params)
            if params and out.requires_grad:
                grads = torch.autograd.grad(out.float().pow(2).sum(), params, allow_unused=True)
    finally:
        for hook in hooks:
            hook.remove()
        model.train(was_training)
    modules = list(dict.fromkeys(called))
    used = {id(p) for p, g in zip(params, grads) if g is not None}
    used.update(id(p) for m in modules for p in m.parameters())
    return used, modules


class VitzooBackbone(BaseModule):
    """A timm/vitzoo model returning a tuple of NCHW feature maps for any input size.

    Args:
        model_name: a timm or vitzoo model name (``timm.list_models('vz_*')``, ``rmt_t``, ...).
        pretrained: a checkpoint file (the authors' or timm's layout), True for the model's released
            weights, or False.
        out_indices: which stages to return (``model.feature_info`` numbers them).
        frozen_stages: stages 0..frozen_stages (and everything they depend on, the stem included) get
            no gradient and stay in eval mode; -1 freezes nothing.
        norm_eval: keep every BatchNorm in eval mode while training (frozen statistics).
        drop_path_rate: stochastic depth of the backbone (None: the model's default).
        with_cp: gradient checkpointing inside the backbone.
        out_norms: 'auto' (the output norms of the family's own dense backbone), True (LayerNorm on every
            output, eps 1e-6 or the family's), or False.
        model_kwargs: more ``timm.create_model`` arguments (e.g. ``img_size``, ``window_size``).
    """

    def __init__(
        self,
        model_name: str,
        pretrained=False,
        out_indices: Sequence[int] = (0, 1, 2, 3),
        frozen_stages: int = -1,
        norm_eval: bool = False,
        drop_path_rate: float | None = None,
        with_cp: bool = False,
        out_norms="auto",
        model_kwargs: dict | None = None,
        init_cfg=None,
    ):
        super().__init__(init_cfg=init_cfg)
        self.model = _create_timm_model(model_name, pretrained, drop_path_rate, model_kwargs or {})
        feature_info = getattr(self.model, "feature_info", None)
        if not feature_info:
            raise ValueError(f"VitzooBackbone: {model_name} has no feature_info, so it has no stages to return")
        num_stages = len(feature_info)
        out_indices = tuple(out_indices)
        if not out_indices or any(not isinstance(i, int) or not 0 <= i < num_stages for i in out_indices):
            raise ValueError(
                f"VitzooBackbone: out_indices {out_indices} must be stage numbers in 0..{num_stages - 1} "
                f"({model_name} has {num_stages} stages)"
            )
        if list(out_indices) != sorted(set(out_indices)):
            raise ValueError(f"VitzooBackbone: out_indices {out_indices} must be increasing and distinct")
        if not -1 <= frozen_stages < num_stages:
            raise ValueError(f"VitzooBackbone: frozen_stages={frozen_stages} must be in -1..{num_stages - 1}")
        self.model_name = model_name
        self.out_indices = out_indices
        self.channels = tuple(feature_info[i]["num_chs"] for i in out_indices)
        self.reductions = tuple(feature_info[i]["reduction"] for i in out_indices)
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval
        if with_cp:
            self.model.set_grad_checkpointing(True)
        eps = DENSE_OUTPUT_NORM_EPS.get(type(self.model).__module__)
        if out_norms == "auto":
            out_norms = eps is not None
        elif out_norms not in (True, False):
            raise ValueError(f"VitzooBackbone: out_norms must be 'auto', True or False, got {out_norms!r}")
        self.out_norms = nn.ModuleList(
            LayerNorm2d(ch, eps=eps or 1e-6) if out_norms else nn.Identity() for ch in self.channels
        )
        # what the model holds beyond the requested outputs (later stages' norms, the head) gets no gradient:
        # excluded from training, so that distributed training needs no find_unused_parameters
        used, _ = _dependencies(self.model, max(out_indices))
        for p in self.model.parameters():
            if id(p) not in used:
                p.requires_grad_(False)
        self._frozen_modules: list[nn.Module] = []
        if frozen_stages >= 0:
            frozen, self._frozen_modules = _dependencies(self.model, frozen_stages)
            for p in self.model.parameters():
                if id(p) in frozen:
                    p.requires_grad_(False)

    def train(self, mode: bool = True) -> "VitzooBackbone":
        super().train(mode)
        if mode:
            for module in self._frozen_modules:
                module.eval()
            if self.norm_eval:
                for module in self.modules():
                    if isinstance(module, _BatchNorm):
                        module.eval()
        return self

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        feats = self.model.forward_intermediates(
            x, indices=list(self.out_indices), stop_early=True, intermediates_only=True, output_fmt="NCHW"
        )
        return tuple(norm(f) for norm, f in zip(self.out_norms, feats))
