"""SLAB-PVT (v1), its PRepBN baselines and SLAB-PVT-v2, exact to xinghaochen/SLAB (``classification/models``).

Paper: "SLAB: Efficient Transformers with Simplified Linear Attention and Progressive Re-parameterized
Batch Normalization" (Guo et al., ICML 2024); PVT v1/v2 by Wang et al. (ICCV 2021, CVMJ 2022).

Four stages at strides 4, 8, 16, 32.  Every norm is a progressive re-parameterised BatchNorm
(:class:`ProgressiveRepBN`, RepBN in eval).  Attention per stage is SLAB's simplified linear attention
("L": global, no spatial reduction -- the authors' configs pass ``la_sr_ratios='1111'``) or PVT's
spatial-reduction softmax attention ("S", the PRepBN baselines, reduction 8/4/2/1 with its own norm).

* PVT v1 layout (``slab_pvt_*``): non-overlapping patch embeddings (4x4, then 2x2) with a norm, a learned
  position embedding per stage, a plain MLP, no final norm: the mean of the last block's tokens goes to
  the head.
* PVT v2 layout (``slab_pvt_v2_*``): overlapping patch embeddings (7x7 s4, then 3x3 s2), no position
  embedding, an MLP with a 3x3 depthwise conv, a norm at the end of every stage.

Any input size runs.  v1 pads each stage's input to its patch stride (v2's padded convolutions already
give ceil(H / stride)).  The stage position embeddings (v1) and the SLA positional encodings, learned
on the grids of a 224 image, are resized bilinearly to the actual grid at run time -- the authors' own
rule for v1's position embeddings (their SLA encodings cannot change size at all).

vitzoo groups each stage as ``stages.{i}`` (``patch_embed``, ``pos_embed``, ``blocks``, ``norm``);
``checkpoint_filter_fn`` converts the authors' flat layout (``patch_embed1``, ``pos_embed1``,
``block1.0``, ``norm1``, ``mlp.dwconv.dwconv``).
"""
from __future__ import annotations

import math
import re
from typing import Callable, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from timm.layers import DropPath, Mlp, calculate_drop_path_rates, to_2tuple, trunc_normal_
from timm.models import register_model
from timm.models.pvt_v2 import MlpWithDepthwiseConv

from ..checkpoint import unwrap_state_dict
from ..hub import NO_WEIGHTS_NOTE
from ..layers import check_image_input
from ..layers.checkpointing import run_blocks
from ..layers.linear_attention import resize_grid_encoding
from ..layers.prepbn import ProgressiveRepBN, ReparameterizableMixin, fold_norm
from ._builder import build_model, generate_default_cfgs
from ._contract import LinearHeadMixin
from ._staged import StagedBackboneMixin
from .slab_deit import LinearAttention, _cfg

__all__ = ["SlabPyramidVisionTransformer", "checkpoint_filter_fn"]

Grid = Tuple[int, int]


def _tokens_to_nchw(x: torch.Tensor, grid: Grid) -> torch.Tensor:
    return x.transpose(1, 2).reshape(x.shape[0], -1, *grid)


class PatchEmbed(nn.Module):
    """Strided conv + norm: (B, C, H, W) -> tokens (B, H'*W', C') and their grid (H', W').

    Non-overlapping kernels (v1) see the map padded to a stride multiple; overlapping ones (v2) pad by
    half the kernel, as the authors' do.
    """

    def __init__(self, in_chans: int, embed_dim: int, patch_size: int, stride: int, norm_layer):
        super().__init__()
        self.stride = stride
        self.overlapping = patch_size > stride
        padding = patch_size // 2 if self.overlapping else 0
        self.proj = nn.Conv2d(in_chans, embed_dim, patch_size, stride=stride, padding=padding)
        self.norm = norm_layer(embed_dim)

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, Grid]:
        if not self.overlapping:
            s = self.stride
            x = F.pad(x, (0, (-x.shape[3]) % s, 0, (-x.shape[2]) % s))
        x = self.proj(x)
        grid = (x.shape[2], x.shape[3])
        return self.norm(x.flatten(2).transpose(1, 2)), grid


class SpatialReductionAttention(nn.Module):
    """PVT's softmax attention; keys and values from a map shrunk by a ``sr_ratio``-strided conv + norm."""

    def __init__(
        self, dim: int, num_heads: int, sr_ratio: int, qkv_bias: bool = True, attn_drop: float = 0.0,
        proj_drop: float = 0.0, norm_layer=ProgressiveRepBN,
    ):
        super().__init__()
        self.num_heads = num_heads
        self.sr_ratio = sr_ratio
        self.attn_drop = attn_drop
        self.q = nn.Linear(dim, dim, bias=qkv_bias)
        self.kv = nn.Linear(dim, dim * 2, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(proj_drop)
        if sr_ratio > 1:
            self.sr = nn.Conv2d(dim, dim, kernel_size=sr_ratio, stride=sr_ratio)
            self.norm = norm_layer(dim)

    def forward(self, x: torch.Tensor, grid: Grid) -> torch.Tensor:
        B, N, C = x.shape
        q = self.q(x)
        if self.sr_ratio > 1:
            x = self.norm(self.sr(_tokens_to_nchw(x, grid)).flatten(2).transpose(1, 2))
        k, v = self.kv(x).chunk(2, dim=-1)
        q, k, v = (t.reshape(B, t.shape[1], self.num_heads, -1).transpose(1, 2) for t in (q, k, v))
        x = F.scaled_dot_product_attention(q, k, v, dropout_p=self.attn_drop if self.training else 0.0)
        return self.proj_drop(self.proj(x.transpose(1, 2).reshape(B, N, C)))


class Block(nn.Module):
    def __init__(
        self,
        dim: int,
        num_heads: int,
        mlp_ratio: float,
        pos_grid: Grid,
        linear_attention: bool = True,
        sr_ratio: int = 1,
        dwconv_mlp: bool = False,
        qkv_bias: bool = True,
        kernel_size: int = 5,
        proj_drop: float = 0.0,
        attn_drop: float = 0.0,
        drop_path: float = 0.0,
        norm_layer: Callable[[int], nn.Module] = ProgressiveRepBN,
    ):
        super().__init__()
        self.norm1 = norm_layer(dim)
        if linear_attention:
            self.attn = LinearAttention(dim, num_heads, pos_grid, qkv_bias, kernel_size, proj_drop, fused_qkv=False)
        else:
            self.attn = SpatialReductionAttention(dim, num_heads, sr_ratio, qkv_bias, attn_drop, proj_drop, norm_layer)
        self.drop_path1 = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()
        self.norm2 = norm_layer(dim)
        hidden = int(dim * mlp_ratio)
        self.dwconv_mlp = dwconv_mlp
        self.mlp = MlpWithDepthwiseConv(dim, hidden, drop=proj_drop) if dwconv_mlp else Mlp(dim, hidden, drop=proj_drop)
        self.drop_path2 = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()

    def forward(self, x: torch.Tensor, grid: Grid) -> torch.Tensor:
        x = x + self.drop_path1(self.attn(self.norm1(x), grid))
        y = self.norm2(x)
        return x + self.drop_path2(self.mlp(y, grid) if self.dwconv_mlp else self.mlp(y))


class PvtStage(nn.Module):
    """Patch embedding, (v1) position embedding, blocks, (v2) stage norm; NCHW map in and out."""

    def __init__(
        self,
        in_chans: int,
        dim: int,
        depth: int,
        patch_size: int,
        stride: int,
        pos_grid: Grid,
        version: int,
        drop_path: Sequence[float],
        drop_rate: float = 0.0,
        norm_layer: Callable[[int], nn.Module] = ProgressiveRepBN,
        **block_kwargs,
    ):
        super().__init__()
        self.pos_grid = pos_grid
        self.patch_embed = PatchEmbed(in_chans, dim, patch_size, stride, norm_layer)
        if version == 1:
            self.pos_embed = nn.Parameter(torch.zeros(1, pos_grid[0] * pos_grid[1], dim))
            self.pos_drop = nn.Dropout(drop_rate)
        else:
            self.pos_embed = None
        self.blocks = nn.ModuleList(
            Block(dim, pos_grid=pos_grid, dwconv_mlp=version == 2, drop_path=drop_path[i], norm_layer=norm_layer,
                  **block_kwargs)
            for i in range(depth)
        )
        self.norm = norm_layer(dim) if version == 2 else nn.Identity()
        self.grad_checkpointing = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x, grid = self.patch_embed(x)
        if self.pos_embed is not None:
            pos = self.pos_embed
            if grid != self.pos_grid:
                pos = resize_grid_encoding(pos, self.pos_grid, grid)
            x = self.pos_drop(x + pos)
        x = run_blocks(self.blocks, x, grid, grad_checkpointing=self.grad_checkpointing)
        return _tokens_to_nchw(self.norm(x), grid)


class SlabPyramidVisionTransformer(ReparameterizableMixin, LinearHeadMixin, StagedBackboneMixin, nn.Module):
    """PVT v1 / v2 with progressive RepBN norms and SLA ('L') or spatial-reduction ('S') attention.

    Stage outputs are NCHW maps at strides 4, 8, 16, 32 (v2: after the stage norm).  There is no final
    norm (v1 has none, v2's is each stage's own), so ``forward_intermediates(norm=True)`` changes nothing.
    """

    stage_fmt = "NCHW"
    pool_types = ("avg", "")

    def __init__(
        self,
        img_size: Union[int, Grid] = 224,
        in_chans: int = 3,
        num_classes: int = 1000,
        global_pool: str = "avg",
        version: int = 1,
        embed_dims: Sequence[int] = (64, 128, 320, 512),
        num_heads: Sequence[int] = (1, 2, 5, 8),
        mlp_ratios: Sequence[float] = (8, 8, 4, 4),
        depths: Sequence[int] = (2, 2, 2, 2),
        attn_types: str = "LLLL",
        sr_ratios: Sequence[int] = (8, 4, 2, 1),
        qkv_bias: bool = True,
        kernel_size: int = 5,
        drop_rate: float = 0.0,
        proj_drop_rate: float = 0.0,
        attn_drop_rate: float = 0.0,
        drop_path_rate: float = 0.0,
        norm_layer: Callable[[int], nn.Module] = ProgressiveRepBN,
    ):
        super().__init__()
        if version not in (1, 2):
            raise ValueError(f"version must be 1 (PVT) or 2 (PVT-v2), got {version}")
        if len(attn_types) != len(depths) or set(attn_types) - {"L", "S"}:
            raise ValueError(f"attn_types needs one 'L' (linear) or 'S' (softmax) per stage, got {attn_types!r}")
        if version == 2 and "S" in attn_types:
            raise ValueError("SLAB's PVT-v2 is built with linear attention ('L') in every stage")
        self.img_size = to_2tuple(img_size)
        self.in_chans = in_chans
        self.num_classes = num_classes
        self.global_pool = self._checked_pool(global_pool)
        self.num_features = self.head_hidden_size = embed_dims[-1]

        dpr = calculate_drop_path_rates(drop_path_rate, list(depths), stagewise=True)  # linear over all blocks
        self.stages = nn.Sequential()
        self.feature_info = []
        for i, depth in enumerate(depths):
            stride = 4 if i == 0 else 2
            reduction = 4 * 2**i
            self.stages.append(
                PvtStage(
                    in_chans if i == 0 else embed_dims[i - 1],
                    embed_dims[i],
                    depth,
                    patch_size=(7 if i == 0 else 3) if version == 2 else stride,
                    stride=stride,
                    # the grid the authors size the encodings for: img_size // reduction
                    pos_grid=(self.img_size[0] // reduction, self.img_size[1] // reduction),
                    version=version,
                    drop_path=dpr[i],
                    drop_rate=drop_rate,
                    norm_layer=norm_layer,
                    num_heads=num_heads[i],
                    mlp_ratio=mlp_ratios[i],
                    linear_attention=attn_types[i] == "L",
                    sr_ratio=sr_ratios[i],
                    qkv_bias=qkv_bias,
                    kernel_size=kernel_size,
                    proj_drop=proj_drop_rate,
                    attn_drop=attn_drop_rate,
                )
            )
            self.feature_info.append(dict(num_chs=embed_dims[i], reduction=reduction, module=f"stages.{i}"))
        self.head_drop = nn.Dropout(drop_rate)
        self.head = nn.Linear(self.num_features, num_classes) if num_classes > 0 else nn.Identity()

        for stage in self.stages:
            if stage.pos_embed is not None:
                trunc_normal_(stage.pos_embed, std=0.02)
        self.apply(self._init_weights)

    @staticmethod
    def _init_weights(m: nn.Module) -> None:
        if isinstance(m, nn.Linear):
            trunc_normal_(m.weight, std=0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Conv2d):
            fan_out = m.kernel_size[0] * m.kernel_size[1] * m.out_channels // m.groups
            nn.init.normal_(m.weight, 0, math.sqrt(2.0 / fan_out))
            if m.bias is not None:
                nn.init.zeros_(m.bias)

    @torch.jit.ignore
    def no_weight_decay(self) -> set:
        return {n for n, _ in self.named_parameters() if n.endswith("pos_embed")}

    @torch.jit.ignore
    def group_matcher(self, coarse: bool = False) -> dict:
        return dict(
            stem=r"^stages\.0\.patch_embed",
            blocks=r"^stages\.(\d+)"
            if coarse
            else [(r"^stages\.(\d+)\.blocks\.(\d+)", None), (r"^stages\.(\d+)\.(?:patch_embed|pos_embed|norm)", (0,))],
        )

    def _stem(self, x: torch.Tensor) -> torch.Tensor:
        # the patch embeddings are the stages' own: the model's stem only checks the input
        check_image_input(x, self.in_chans, 32, type(self).__name__)
        return x

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        """``x``: the last stage's NCHW map."""
        if self.global_pool == "avg":
            x = x.mean(dim=(2, 3))
        x = self.head_drop(x)
        return x if pre_logits else self.head(x)

    @torch.no_grad()
    def reparameterize(self) -> None:
        """Fold every eval RepBN into a neighbouring linear / conv for deployment (then eval-only).

        Patch-embedding norms go into their conv, block pre-norms into q and kv (and into the unpadded
        spatial-reduction conv, whose norm goes into kv), MLP norms into fc1.  v2's stage norms stay as
        exact per-channel affine maps: their output is a feature map and is zero-padded before the
        next patch embedding, so no fold would be exact.
        """
        self.eval()
        for stage in self.stages:
            fold_norm(stage.patch_embed, "norm", after=stage.patch_embed.proj)
            for block in stage.blocks:
                attn = block.attn
                if isinstance(attn, SpatialReductionAttention) and attn.sr_ratio > 1:
                    fold_norm(block, "norm1", into=[attn.q, attn.sr])
                    fold_norm(attn, "norm", into=[attn.kv])
                else:
                    fold_norm(block, "norm1", into=[attn.q, attn.kv])
                fold_norm(block, "norm2", into=[block.mlp.fc1])
            if not isinstance(stage.norm, nn.Identity):
                fold_norm(stage, "norm")
        self.reparameterized = True


_AUTHORS_KEYS = [
    (r"^patch_embed(\d)\.", lambda m: f"stages.{int(m.group(1)) - 1}.patch_embed."),
    (r"^pos_embed(\d)$", lambda m: f"stages.{int(m.group(1)) - 1}.pos_embed"),
    (r"^block(\d)\.", lambda m: f"stages.{int(m.group(1)) - 1}.blocks."),
    (r"^norm(\d)\.", lambda m: f"stages.{int(m.group(1)) - 1}.norm."),
    (r"\.mlp\.dwconv\.dwconv\.", lambda m: ".mlp.dwconv."),
]


def checkpoint_filter_fn(state_dict, model: SlabPyramidVisionTransformer) -> dict:
    """Load the authors' SLAB-PVT / PRepBN-PVT / SLAB-PVT-v2 checkpoints (and vitzoo's own layout).

    Position embeddings and SLA positional encodings of another grid (a square one in the authors'
    checkpoints) are resized bilinearly to the model's.
    """
    state_dict = unwrap_state_dict(state_dict)
    expected = model.state_dict()
    out = {}
    for key, value in state_dict.items():
        for pattern, replacement in _AUTHORS_KEYS:
            key = re.sub(pattern, replacement, key)
        if key.endswith(("pos_embed", "positional_encoding")) and key in expected:
            if value.shape != expected[key].shape:
                side = int(round(value.shape[1] ** 0.5))
                stage = model.stages[int(key.split(".")[1])]
                value = resize_grid_encoding(value, (side, side), stage.pos_grid)
        out[key] = value
    return out


def _create(variant: str, pretrained: bool = False, **kwargs) -> SlabPyramidVisionTransformer:
    return build_model(SlabPyramidVisionTransformer, variant, pretrained, checkpoint_filter_fn, **kwargs)


_RELEASE = "https://github.com/xinghaochen/SLAB/releases/download/ckpts"
_NO_WEIGHTS = dict(notes=(NO_WEIGHTS_NOTE, "The authors' repository has no license file."))
_PVT = dict(first_conv="stages.0.patch_embed.proj", pool_size=(7, 7))

default_cfgs = generate_default_cfgs(
    {
        "slab_pvt_tiny.in1k": _cfg(f"{_RELEASE}/slab_pvt_tiny.pth", **_PVT),
        "slab_pvt_small": _cfg(**_PVT, **_NO_WEIGHTS),
        "slab_pvt_medium": _cfg(**_PVT, **_NO_WEIGHTS),
        "slab_pvt_tiny_prepbn.in1k": _cfg(f"{_RELEASE}/pvt_tiny_prepbn.pth", **_PVT),
        "slab_pvt_small_prepbn.in1k": _cfg(f"{_RELEASE}/pvt_small_prepbn.pth", **_PVT),
        "slab_pvt_medium_prepbn.in1k": _cfg(f"{_RELEASE}/pvt_medium_prepbn.pth", **_PVT),
        **{f"slab_pvt_v2_b{i}": _cfg(**_PVT, **_NO_WEIGHTS) for i in range(6)},
    }
)

# cfgs/*.yaml: drop_path 0.0 / 0.1 / 0.3 for tiny / small / medium; config.py's 0.1 for PVT-v2.
_TINY = dict(depths=(2, 2, 2, 2))
_SMALL = dict(depths=(3, 4, 6, 3), drop_path_rate=0.1)
_MEDIUM = dict(depths=(3, 4, 18, 3), drop_path_rate=0.3)
_PREPBN = dict(attn_types="SSSS")


def _v2(depths, embed_dims=(64, 128, 320, 512), mlp_ratios=(8, 8, 4, 4)) -> dict:
    return dict(version=2, depths=depths, embed_dims=embed_dims, mlp_ratios=mlp_ratios, drop_path_rate=0.1)


@register_model
def slab_pvt_tiny(pretrained: bool = False, **kwargs) -> SlabPyramidVisionTransformer:
    return _create("slab_pvt_tiny", pretrained, **dict(_TINY, **kwargs))


@register_model
def slab_pvt_small(pretrained: bool = False, **kwargs) -> SlabPyramidVisionTransformer:
    return _create("slab_pvt_small", pretrained, **dict(_SMALL, **kwargs))


@register_model
def slab_pvt_medium(pretrained: bool = False, **kwargs) -> SlabPyramidVisionTransformer:
    return _create("slab_pvt_medium", pretrained, **dict(_MEDIUM, **kwargs))


@register_model
def slab_pvt_tiny_prepbn(pretrained: bool = False, **kwargs) -> SlabPyramidVisionTransformer:
    return _create("slab_pvt_tiny_prepbn", pretrained, **dict(dict(_TINY, **_PREPBN), **kwargs))


@register_model
def slab_pvt_small_prepbn(pretrained: bool = False, **kwargs) -> SlabPyramidVisionTransformer:
    return _create("slab_pvt_small_prepbn", pretrained, **dict(dict(_SMALL, **_PREPBN), **kwargs))


@register_model
def slab_pvt_medium_prepbn(pretrained: bool = False, **kwargs) -> SlabPyramidVisionTransformer:
    return _create("slab_pvt_medium_prepbn", pretrained, **dict(dict(_MEDIUM, **_PREPBN), **kwargs))


@register_model
def slab_pvt_v2_b0(pretrained: bool = False, **kwargs) -> SlabPyramidVisionTransformer:
    return _create("slab_pvt_v2_b0", pretrained, **dict(_v2((2, 2, 2, 2), embed_dims=(32, 64, 160, 256)), **kwargs))


@register_model
def slab_pvt_v2_b1(pretrained: bool = False, **kwargs) -> SlabPyramidVisionTransformer:
    return _create("slab_pvt_v2_b1", pretrained, **dict(_v2((2, 2, 2, 2)), **kwargs))


@register_model
def slab_pvt_v2_b2(pretrained: bool = False, **kwargs) -> SlabPyramidVisionTransformer:
    return _create("slab_pvt_v2_b2", pretrained, **dict(_v2((3, 4, 6, 3)), **kwargs))


@register_model
def slab_pvt_v2_b3(pretrained: bool = False, **kwargs) -> SlabPyramidVisionTransformer:
    return _create("slab_pvt_v2_b3", pretrained, **dict(_v2((3, 4, 18, 3)), **kwargs))


@register_model
def slab_pvt_v2_b4(pretrained: bool = False, **kwargs) -> SlabPyramidVisionTransformer:
    return _create("slab_pvt_v2_b4", pretrained, **dict(_v2((3, 8, 27, 3)), **kwargs))


@register_model
def slab_pvt_v2_b5(pretrained: bool = False, **kwargs) -> SlabPyramidVisionTransformer:
    return _create("slab_pvt_v2_b5", pretrained, **dict(_v2((3, 6, 40, 3), mlp_ratios=(4, 4, 4, 4)), **kwargs))
