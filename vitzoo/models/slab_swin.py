"""SLAB-Swin and PRepBN Swin-T, exact to xinghaochen/SLAB (``classification/models``).

Paper: "SLAB: Efficient Transformers with Simplified Linear Attention and Progressive Re-parameterized
Batch Normalization" (Guo et al., ICML 2024).

Both are vitzoo's Swin (:mod:`vitzoo.models.swin`: same patch embedding, patch merging, shifted-window
blocks, any input size) with two SLAB changes:

* every LayerNorm is a re-parameterisable BatchNorm: the progressive LayerNorm -> RepBN norm (the
  authors' ``LinearNorm``, 60000-step schedule, LayerNorm eps 1e-5) in SLAB-Swin, plain RepBN in
  PRepBN Swin-T (as the authors' ``swin_transformer.py`` builds it from ``cfgs/swin_t_prepbn.yaml``);
* SLAB-Swin (``attn_type='LLSS'``) runs simplified linear attention (SLA) in stages 1-2 and Swin's
  softmax window attention (window 7, shifted in odd blocks) in stages 3-4.

The authors' SLA stages use a window of ``min(56, stage size)``: at 224 that is the whole 56x56 / 28x28
map, so their SLA is global, with a positional encoding learned per token of that map.  vitzoo keeps
SLA global at every input size (linear attention costs O(H*W)) and resizes the positional encoding
to the stage map (bilinear, as every SLAB encoding in vitzoo, see
:func:`vitzoo.models.slab_deit.resize_grid_encoding`); at 224 nothing is resized and the outputs are
the authors'.  Stages 3-4 pad to window multiples as vitzoo's Swin does.

:meth:`SlabSwinTransformer.reparameterize` folds every eval RepBN for deployment (see there).
"""
from __future__ import annotations

import math
from functools import partial
from typing import Callable, Sequence, Tuple, Union

import torch
import torch.nn as nn
from timm.layers import calculate_drop_path_rates
from timm.models import register_model

from ..hub import NO_WEIGHTS_NOTE
from ..layers.linear_attention import resize_grid_encoding
from ..layers.prepbn import ProgressiveRepBN, ReparameterizableMixin, RepBN, fold_norm
from ._builder import build_model, generate_default_cfgs
from ._contract import init_linear_weights
from .slab_deit import _RELEASE, Block
from .slab_deit import _cfg as _slab_cfg
from .swin import PatchMerging, SwinTransformer
from .swin import checkpoint_filter_fn as swin_checkpoint_filter_fn

__all__ = ["SlabSwinTransformer", "checkpoint_filter_fn", "MapRepBN", "MapProgressiveRepBN"]


class _OverChannelsLast:
    """Apply a token norm (B, N, C) to a channels-last map (B, ..., C); eval BN is per channel, so exact."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.reshape(x.shape[0], -1, x.shape[-1])).reshape(x.shape)


class MapRepBN(_OverChannelsLast, RepBN):
    """:class:`RepBN` on Swin's channels-last maps (same keys)."""


class MapProgressiveRepBN(_OverChannelsLast, ProgressiveRepBN):
    """:class:`ProgressiveRepBN` on Swin's channels-last maps (same keys and schedule buffers)."""


class SlaBlock(Block):
    """SLAB's pre-norm block with SLA over the whole channels-last stage map (SLAB-Swin stages 1-2)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, H, W, C = x.shape
        return super().forward(x.reshape(B, H * W, C), (H, W)).view(B, H, W, C)


def _stage_grids(img_size: Tuple[int, int], patch_size: int, num_stages: int) -> list:
    """Each stage's map size for an ``img_size`` input (patch embedding and merging pad up)."""
    grid = tuple(math.ceil(s / patch_size) for s in img_size)
    grids = []
    for _ in range(num_stages):
        grids.append(grid)
        grid = tuple(math.ceil(s / 2) for s in grid)
    return grids


class SlabSwinTransformer(ReparameterizableMixin, SwinTransformer):
    """Swin with (progressive) RepBN norms; stages marked 'L' in ``attn_types`` use global SLA."""

    def __init__(
        self,
        img_size: Union[int, Tuple[int, int]] = 224,
        patch_size: int = 4,
        embed_dim: int = 96,
        depths: Sequence[int] = (2, 2, 6, 2),
        num_heads: Sequence[int] = (3, 6, 12, 24),
        attn_types: str = "LLSS",
        window_size: int = 7,
        mlp_ratio: float = 4.0,
        qkv_bias: bool = True,
        kernel_size: int = 5,
        proj_drop_rate: float = 0.0,
        drop_path_rate: float = 0.2,
        norm_layer: Callable[[int], nn.Module] = partial(MapProgressiveRepBN, step=60000, ln_eps=1e-5),
        **kwargs,
    ):
        if len(attn_types) != len(depths) or set(attn_types) - {"L", "S"}:
            raise ValueError(f"attn_types needs one 'L' (SLA) or 'S' (softmax windows) per stage, got {attn_types!r}")
        super().__init__(
            img_size=img_size, patch_size=patch_size, embed_dim=embed_dim, depths=depths, num_heads=num_heads,
            window_size=window_size, mlp_ratio=mlp_ratio, qkv_bias=qkv_bias, proj_drop_rate=proj_drop_rate,
            drop_path_rate=drop_path_rate, norm_layer=norm_layer, **kwargs,
        )
        self.attn_types = attn_types
        dpr = calculate_drop_path_rates(drop_path_rate, list(depths), stagewise=True)
        grids = _stage_grids(self.img_size, patch_size, len(depths))
        for i, stage in enumerate(self.layers):
            if attn_types[i] != "L":
                continue
            # Swin's window blocks, built by the parent class, give way to SLA blocks (same keys otherwise).
            stage.blocks = nn.ModuleList(
                SlaBlock(
                    self.feature_info[i]["num_chs"], num_heads[i], mlp_ratio, qkv_bias, pos_grid=grids[i],
                    kernel_size=kernel_size, proj_drop=proj_drop_rate, drop_path=dpr[i][j], norm_layer=norm_layer,
                )
                for j in range(depths[i])
            )
            stage.blocks.apply(init_linear_weights)

    @torch.no_grad()
    def reparameterize(self) -> None:
        """Fold every eval RepBN away for deployment; outputs stay equal, the model becomes eval-only.

        patch-embed norm -> the embedding conv; merging norms -> the reduction linear (the odd-side
        padding comes before the norm, so the fold is exact); SLA blocks' norm1 -> qkv; every norm2 ->
        fc1; the final norm -> the classifier (it commutes with the mean pool), or an affine map when
        there is none.  The window blocks' norm1 output is zero-padded to window multiples before qkv,
        so folding it would change the padded tokens: it becomes an exact per-channel affine map.
        After this, ``forward_features`` / ``forward_intermediates(norm=True)`` return features
        before the folded final norm.
        """
        self.eval()
        fold_norm(self.patch_embed, "norm", after=self.patch_embed.proj)
        for stage in self.layers:
            if isinstance(stage.downsample, PatchMerging):
                fold_norm(stage.downsample, "norm", into=[stage.downsample.reduction])
            for block in stage.blocks:
                fold_norm(block, "norm1", into=[block.attn.qkv] if isinstance(block, SlaBlock) else [])
                fold_norm(block, "norm2", into=[block.mlp.fc1])
        fold_norm(self, "norm", into=[self.head.fc] if isinstance(self.head.fc, nn.Linear) else [])
        self.reparameterized = True


def checkpoint_filter_fn(state_dict, model: SlabSwinTransformer) -> dict:
    """Load the authors' SLAB-Swin / PRepBN-Swin checkpoints (and vitzoo's own).

    Swin's conversion (merging moved to the next stage, ``head`` -> ``head.fc``, derived buffers
    dropped, bias tables resized), then the SLA positional encodings, learned on the square stage maps
    of a 224 image, are resized when the model's ``img_size`` gives other maps.
    """
    try:
        out = swin_checkpoint_filter_fn(state_dict, model)
    except AttributeError as e:  # e.g. window-attention tables for a stage that runs SLA here
        raise ValueError(f"its attention layers are not {type(model).__name__}'s ({e})") from e
    params = dict(model.named_parameters())
    for key, value in out.items():
        if key.endswith("positional_encoding") and key in params and value.shape != params[key].shape:
            side = math.isqrt(value.shape[1])
            if side * side != value.shape[1]:
                raise ValueError(f"{key} has {value.shape[1]} tokens, not a square map to resize")
            pos_grid = model.get_submodule(key[: -len(".positional_encoding")]).pos_grid
            out[key] = resize_grid_encoding(value, (side, side), pos_grid)
    return out


def _create(variant: str, pretrained: bool = False, **kwargs) -> SlabSwinTransformer:
    return build_model(SlabSwinTransformer, variant, pretrained, checkpoint_filter_fn, **kwargs)


def _cfg(url: str = "", **kwargs) -> dict:
    return _slab_cfg(url, pool_size=(7, 7), first_conv="patch_embed.proj", classifier="head.fc", **kwargs)


_NO_WEIGHTS = ("The authors' repository has no license file.", NO_WEIGHTS_NOTE)

default_cfgs = generate_default_cfgs(
    {
        "slab_swin_tiny.in1k": _cfg(f"{_RELEASE}/slab_swin_tiny.pth"),
        "slab_swin_small.in1k": _cfg(f"{_RELEASE}/slab_swin_small.pth"),
        "slab_swin_base": _cfg(notes=_NO_WEIGHTS),
        "slab_swin_tiny_prepbn.in1k": _cfg(f"{_RELEASE}/swin_tiny_prepbn.pth"),
    }
)


@register_model
def slab_swin_tiny(pretrained: bool = False, **kwargs) -> SlabSwinTransformer:
    args = dict(embed_dim=96, depths=(2, 2, 6, 2), num_heads=(3, 6, 12, 24), drop_path_rate=0.2)
    return _create("slab_swin_tiny", pretrained, **dict(args, **kwargs))


@register_model
def slab_swin_small(pretrained: bool = False, **kwargs) -> SlabSwinTransformer:
    args = dict(embed_dim=96, depths=(2, 2, 18, 2), num_heads=(3, 6, 12, 24), drop_path_rate=0.3)
    return _create("slab_swin_small", pretrained, **dict(args, **kwargs))


@register_model
def slab_swin_base(pretrained: bool = False, **kwargs) -> SlabSwinTransformer:
    args = dict(embed_dim=128, depths=(2, 2, 18, 2), num_heads=(4, 8, 16, 32), drop_path_rate=0.5)
    return _create("slab_swin_base", pretrained, **dict(args, **kwargs))


@register_model
def slab_swin_tiny_prepbn(pretrained: bool = False, **kwargs) -> SlabSwinTransformer:
    """Swin-T with softmax window attention everywhere and every norm a plain RepBN."""
    args = dict(attn_types="SSSS", embed_dim=96, depths=(2, 2, 6, 2), num_heads=(3, 6, 12, 24), drop_path_rate=0.1)
    return _create("slab_swin_tiny_prepbn", pretrained, **dict(dict(args, norm_layer=MapRepBN), **kwargs))
