"""ViT-ResNAS, exact to yilunliao/vit-search, ready for dense inputs.

Paper: "Searching for Efficient Multi-Stage Vision Transformers" (Liao, Karaman, Sze, 2021).

A DeiT-style transformer (one cls token, pre-norm blocks) made multi-stage: a convolutional stem
(stride 14), then three stages whose token maps shrink by 2 and widen at *residual spatial reduction*
blocks.  The blocks' head counts, head widths and MLP widths were found by architecture search; the
authors' code takes them as one flat ``network_def`` tuple, vitzoo spells them out per stage
(:class:`StageDef` / :class:`BlockDef`).

Differences from the authors' code, none of which change its outputs at the training resolution:
* Any input size: the image is padded to a multiple of 14, the skip path's average pool keeps an odd
  last row/column (as the strided conv does), and every position embedding is resized (bicubic, as the
  authors' fine-tuning code resizes them) to the actual token grid.
* The skip path's channel padding is ``F.pad`` (the authors keep a zeros tensor that they move to CUDA
  in ``__init__``).
* ``forward_features`` normalises every token (the authors normalise the cls token only; LayerNorm acts
  per token, so the cls token is the same), so ``forward_head`` can pool the cls token ('token', the
  authors' classifier input) or the patch tokens ('avg', 'max', 'avgmax').
* ``patch_head`` (the authors' per-patch classifier for their token-mixup training loss, unused in their
  eval forward) is not part of the model: ``checkpoint_filter_fn`` drops it.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import partial
from typing import Callable, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from timm.data import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD
from timm.layers import (
    Attention,
    ConvNormAct,
    DropPath,
    Mlp,
    calculate_drop_path_rates,
    resample_abs_pos_embed,
    to_2tuple,
    trunc_normal_,
)
from timm.models import register_model
from timm.models._features import feature_take_indices

from ..checkpoint import unwrap_state_dict
from ..layers import check_image_input
from ..layers.checkpointing import run_blocks
from ._builder import build_model, generate_default_cfgs
from ._contract import LinearHeadMixin, check_output_fmt, init_linear_weights
from ._staged import StagesMixin

__all__ = ["BlockDef", "StageDef", "ViTResNAS", "checkpoint_filter_fn"]

Grid = Tuple[int, int]


@dataclass(frozen=True)
class BlockDef:
    """One searched transformer block: attention ``num_heads`` x ``head_dim`` wide, MLP ``mlp_hidden`` wide."""

    num_heads: int
    head_dim: int
    mlp_hidden: int


@dataclass(frozen=True)
class StageDef:
    """One stage: its token width and its blocks (stages after the first start with a spatial reduction)."""

    width: int
    blocks: Tuple[BlockDef, ...]


def _stage(width: int, head_dim: int, heads: Sequence[int], mlp_hidden: Sequence[int]) -> StageDef:
    if len(heads) != len(mlp_hidden):
        raise ValueError(f"stage of width {width}: {len(heads)} head counts but {len(mlp_hidden)} MLP widths")
    return StageDef(width, tuple(BlockDef(h, head_dim, m) for h, m in zip(heads, mlp_hidden)))


# The searched networks: the network_def strings of scripts/vit-sr-nas/searched_net/{tiny,small_mac@2.9G,
# medium_mac@4.6G}.sh, one _stage per run of transformer blocks (the fine-tune scripts reuse Medium's).
VIT_RESNAS_TINY = (
    _stage(176, head_dim=32, heads=(3, 3, 3, 4, 4), mlp_hidden=(704, 576, 640, 576, 704)),
    _stage(352, head_dim=48, heads=(10, 8, 8, 8, 10, 10), mlp_hidden=(1408, 1408, 1280, 1408, 1280, 1024)),
    _stage(704, head_dim=64, heads=(10, 10, 10, 8, 8), mlp_hidden=(2560, 1792, 2816, 2816, 2560)),
)
VIT_RESNAS_SMALL = (
    _stage(220, head_dim=32, heads=(5, 5, 7, 5, 5, 5), mlp_hidden=(880, 880, 800, 720, 720, 720)),
    _stage(440, head_dim=48, heads=(10, 10, 10, 10, 12, 12), mlp_hidden=(1760, 1440, 1920, 1600, 1600, 1440)),
    _stage(880, head_dim=64, heads=(16, 12, 16, 12, 14), mlp_hidden=(3200, 3200, 2880, 2240, 2560)),
)
VIT_RESNAS_MEDIUM = (
    _stage(240, head_dim=32, heads=(7, 6, 7, 8, 7, 8, 6), mlp_hidden=(960, 960, 800, 960, 880, 880, 800)),
    _stage(640, head_dim=48, heads=(10, 14, 14, 16, 14, 16, 16), mlp_hidden=(1120, 1760, 1920, 1760, 1440, 1760, 1920)),
    _stage(880, head_dim=64, heads=(16, 10, 16, 12, 16, 14), mlp_hidden=(3200, 3840, 3840, 3200, 3520, 3520)),
)


def _resize_pos_embed(
    pos_embed: torch.Tensor, grid: Sequence[int], trained_grid: Sequence[int], num_prefix_tokens: int
) -> torch.Tensor:
    """``pos_embed`` for a ``grid`` token map; it was learned for ``trained_grid``.

    Bicubic without antialiasing, the rule of the authors' fine-tuning code
    (network_utils/finetune_state_dict.py), so that their 280/336/392 models start from the same tables.
    """
    if tuple(grid) == tuple(trained_grid):
        return pos_embed
    return resample_abs_pos_embed(
        pos_embed, list(grid), list(trained_grid), num_prefix_tokens=num_prefix_tokens, antialias=False
    )


def _tokens_to_map(tokens: torch.Tensor, grid: Grid) -> torch.Tensor:
    return tokens.transpose(1, 2).reshape(tokens.shape[0], tokens.shape[2], *grid)


class ConvStem(nn.Module):
    """Patch embedding of stride ``patch_size`` (14): a stride-2 conv, two convs with a skip around them
    (3x3 conv-BN-ReLU each), then a non-overlapping projection; pads the image to a patch multiple."""

    def __init__(self, in_chans: int, embed_dim: int, mid_chs: int = 24, patch_size: int = 14):
        super().__init__()
        if patch_size % 2:
            raise ValueError(f"patch_size must be even (a stride-2 conv, then patch_size // 2), got {patch_size}")
        self.patch_size = patch_size
        self.conv1 = ConvNormAct(in_chans, mid_chs, 3, stride=2)
        self.conv2 = ConvNormAct(mid_chs, mid_chs, 3)
        self.conv3 = ConvNormAct(mid_chs, mid_chs, 3)
        self.proj = nn.Conv2d(mid_chs, embed_dim, patch_size // 2, stride=patch_size // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        H, W = x.shape[-2:]
        p = self.patch_size
        x = self.conv1(F.pad(x, (0, (-W) % p, 0, (-H) % p)))
        x = x + self.conv3(self.conv2(x))
        return self.proj(x)


class ResidualSpatialReduction(nn.Module):
    """Halves the token map and widens the tokens between two stages.

    Main path: LayerNorm, then a 3x3 stride-2 conv on the patch tokens (plus this stage's own position
    embedding) and a linear layer on the cls token.  Skip path, free of parameters: a 2x2 average pool of
    the un-normalised patch tokens (the cls token as it is), zero-padded to the new width.
    """

    def __init__(self, in_dim: int, out_dim: int, grid_size: Grid, norm_layer: Callable[..., nn.Module]):
        super().__init__()
        if out_dim < in_dim:
            raise ValueError(f"a spatial reduction cannot narrow the tokens ({in_dim} -> {out_dim})")
        self.grid_size = grid_size  # the grid its position embedding was learned for
        self.pad_channels = out_dim - in_dim
        self.norm = norm_layer(in_dim)
        self.conv = nn.Conv2d(in_dim, out_dim, 3, stride=2, padding=1)
        self.cls_proj = nn.Linear(in_dim, out_dim)
        # ceil_mode: an odd map keeps its last row/column (averaged alone), the grid of the strided conv
        self.pool = nn.AvgPool2d(2, stride=2, ceil_mode=True)
        self.pos_embed = nn.Parameter(torch.zeros(1, grid_size[0] * grid_size[1], out_dim))
        trunc_normal_(self.pos_embed, std=0.02)

    def forward(self, x: torch.Tensor, grid: Grid) -> Tuple[torch.Tensor, Grid]:
        normed = self.norm(x)
        patches = self.conv(_tokens_to_map(normed[:, 1:], grid))
        new_grid = tuple(patches.shape[-2:])
        patches = patches.flatten(2).transpose(1, 2) + _resize_pos_embed(self.pos_embed, new_grid, self.grid_size, 0)
        skip = torch.cat((x[:, :1], self.pool(_tokens_to_map(x[:, 1:], grid)).flatten(2).transpose(1, 2)), dim=1)
        x = torch.cat((self.cls_proj(normed[:, :1]), patches), dim=1) + F.pad(skip, (0, self.pad_channels))
        return x, new_grid


class Block(nn.Module):
    """Pre-norm transformer block with its searched attention and MLP widths."""

    def __init__(
        self,
        dim: int,
        block: BlockDef,
        proj_drop: float = 0.0,
        attn_drop: float = 0.0,
        drop_path: float = 0.0,
        norm_layer: Callable[..., nn.Module] = nn.LayerNorm,
        act_layer: Callable[..., nn.Module] = nn.GELU,
    ):
        super().__init__()
        self.norm1 = norm_layer(dim)
        self.attn = Attention(
            dim, block.num_heads, attn_head_dim=block.head_dim, qkv_bias=True, attn_drop=attn_drop, proj_drop=proj_drop
        )
        self.drop_path1 = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()
        self.norm2 = norm_layer(dim)
        self.mlp = Mlp(dim, block.mlp_hidden, act_layer=act_layer, drop=proj_drop)
        self.drop_path2 = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.drop_path1(self.attn(self.norm1(x)))
        return x + self.drop_path2(self.mlp(self.norm2(x)))


class ViTResNASStage(nn.Module):
    def __init__(
        self,
        in_dim: int,
        stage: StageDef,
        grid_size: Grid,
        downsample: bool,
        drop_path: Sequence[float],
        norm_layer: Callable[..., nn.Module],
        **block_kwargs,
    ):
        super().__init__()
        self.downsample = ResidualSpatialReduction(in_dim, stage.width, grid_size, norm_layer) if downsample else None
        self.blocks = nn.Sequential(
            *(
                Block(stage.width, block, drop_path=dp, norm_layer=norm_layer, **block_kwargs)
                for block, dp in zip(stage.blocks, drop_path)
            )
        )
        self.grad_checkpointing = False

    def forward(self, x: torch.Tensor, grid: Grid) -> Tuple[torch.Tensor, Grid]:
        if self.downsample is not None:
            x, grid = self.downsample(x, grid)
        return run_blocks(self.blocks, x, grad_checkpointing=self.grad_checkpointing), grid


class ViTResNAS(LinearHeadMixin, StagesMixin, nn.Module):
    """Multi-stage ViT with residual spatial reduction; tokens are (B, 1 + H*W, C), cls token first."""

    pool_types = ("token", "avg", "avgmax", "max", "")

    def __init__(
        self,
        stages: Sequence[StageDef] = VIT_RESNAS_TINY,
        img_size: Union[int, Tuple[int, int]] = 224,
        patch_size: int = 14,
        in_chans: int = 3,
        stem_chs: int = 24,
        num_classes: int = 1000,
        global_pool: str = "token",
        drop_rate: float = 0.0,
        pos_drop_rate: float = 0.0,
        proj_drop_rate: float = 0.0,
        attn_drop_rate: float = 0.0,
        drop_path_rate: float = 0.0,
        norm_layer: Optional[Callable[..., nn.Module]] = None,
    ):
        super().__init__()
        norm_layer = norm_layer or partial(nn.LayerNorm, eps=1e-6)
        # img_size is the training resolution: it sizes the position embeddings; any input size runs.
        self.img_size = to_2tuple(img_size)
        self.patch_size = patch_size
        self.in_chans = in_chans
        self.num_classes = num_classes
        self.global_pool = self._checked_pool(global_pool)
        self.num_prefix_tokens = 1
        self.num_features = self.head_hidden_size = stages[-1].width
        self.grid_size = (self.img_size[0] // patch_size, self.img_size[1] // patch_size)

        embed_dim = stages[0].width
        self.patch_embed = ConvStem(in_chans, embed_dim, stem_chs, patch_size)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, 1 + self.grid_size[0] * self.grid_size[1], embed_dim))
        self.pos_drop = nn.Dropout(pos_drop_rate)

        dpr = calculate_drop_path_rates(drop_path_rate, [len(s.blocks) for s in stages], stagewise=True)
        self.stages = nn.ModuleList()
        self.feature_info = []
        grid, in_dim = self.grid_size, embed_dim
        for i, stage in enumerate(stages):
            if i:
                grid = (grid[0] // 2, grid[1] // 2)
            self.stages.append(
                ViTResNASStage(
                    in_dim,
                    stage,
                    grid,
                    downsample=i > 0,
                    drop_path=dpr[i],
                    norm_layer=norm_layer,
                    proj_drop=proj_drop_rate,
                    attn_drop=attn_drop_rate,
                )
            )
            in_dim = stage.width
            self.feature_info.append(dict(num_chs=stage.width, reduction=patch_size * 2**i, module=f"stages.{i}"))
        self.norm = norm_layer(self.num_features)
        self.head_drop = nn.Dropout(drop_rate)
        self.head = nn.Linear(self.num_features, num_classes) if num_classes > 0 else nn.Identity()

        trunc_normal_(self.pos_embed, std=0.02)
        trunc_normal_(self.cls_token, std=0.02)
        self.apply(init_linear_weights)

    @torch.jit.ignore
    def no_weight_decay(self) -> set:
        # The authors exempt only the cls token; their position embeddings are decayed.
        return {"cls_token"}

    @torch.jit.ignore
    def group_matcher(self, coarse: bool = False) -> dict:
        return dict(
            stem=r"^cls_token|^pos_embed|^patch_embed",
            blocks=r"^stages\.(\d+)"
            if coarse
            else [(r"^stages\.(\d+)\.downsample", (0,)), (r"^stages\.(\d+)\.blocks\.(\d+)", None), (r"^norm", (99999,))],
        )

    def _embed(self, x: torch.Tensor) -> Tuple[torch.Tensor, Grid]:
        check_image_input(x, self.in_chans, self.patch_size, type(self).__name__)
        x = self.patch_embed(x)
        grid = tuple(x.shape[-2:])
        x = torch.cat((self.cls_token.expand(x.shape[0], -1, -1), x.flatten(2).transpose(1, 2)), dim=1)
        return self.pos_drop(x + _resize_pos_embed(self.pos_embed, grid, self.grid_size, self.num_prefix_tokens)), grid

    def forward_intermediates(
        self,
        x: torch.Tensor,
        indices: Optional[Union[int, List[int]]] = None,
        norm: bool = False,
        stop_early: bool = False,
        output_fmt: str = "NCHW",
        intermediates_only: bool = False,
        return_prefix_tokens: bool = False,
    ) -> Union[List, Tuple[torch.Tensor, List]]:
        """Stage outputs (before the next spatial reduction), patch tokens only, as NCHW maps or NLC tokens.

        ``return_prefix_tokens`` pairs each with its cls token (B, 1, C).  ``norm`` applies the final norm
        to the last stage's output, the only one it is sized for.
        """
        check_output_fmt(output_fmt, ("NCHW", "NLC"))
        take_indices, max_index = feature_take_indices(len(self.stages), indices)
        stages = self.stages[: max_index + 1] if stop_early else self.stages
        last = len(self.stages) - 1
        intermediates = []
        x, grid = self._embed(x)
        for i, stage in enumerate(stages):
            x, grid = stage(x, grid)
            if i in take_indices:
                feat = self.norm(x) if norm and i == last else x
                patches = _tokens_to_map(feat[:, 1:], grid) if output_fmt == "NCHW" else feat[:, 1:]
                intermediates.append((patches, feat[:, :1]) if return_prefix_tokens else patches)
        if intermediates_only:
            return intermediates
        if len(stages) == len(self.stages):
            x = self.norm(x)
        return x, intermediates

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        x, grid = self._embed(x)
        for stage in self.stages:
            x, grid = stage(x, grid)
        return self.norm(x)


# The authors' names that vitzoo spells differently (after their flat block list is split into stages).
_AUTHORS_RENAMES = (
    (r"^tokens$", "cls_token"),
    (r"^cls_head\.", "head."),
    (r"^patch_embed\.conv_proj\.", "patch_embed.proj."),
    (r"\.downsample\.patch_reduce\.", ".downsample.conv."),
    (r"\.downsample\.token_transform\.", ".downsample.cls_proj."),
)


def _authors_block_prefixes(model: ViTResNAS) -> List[str]:
    """vitzoo's prefix for each entry of the authors' flat ``blocks`` list (spatial reductions in between)."""
    prefixes = []
    for s, stage in enumerate(model.stages):
        if stage.downsample is not None:
            prefixes.append(f"stages.{s}.downsample")
        prefixes += [f"stages.{s}.blocks.{j}" for j in range(len(stage.blocks))]
    return prefixes


def _square_grid(num_patches: int) -> Optional[Grid]:
    side = math.isqrt(num_patches)
    return (side, side) if side * side == num_patches else None


def checkpoint_filter_fn(state_dict, model: ViTResNAS) -> dict:
    """Convert the authors' (or vitzoo's) ViT-ResNAS checkpoint to vitzoo's layout.

    Authors' layout: one flat ``blocks`` list with the spatial reductions between the stages, ``tokens``,
    ``cls_head``; their training-only ``patch_head`` is dropped.  Position embeddings learned for another
    (square) resolution are resized to the model's ``img_size``.
    """
    state_dict = unwrap_state_dict(state_dict)
    if "tokens" in state_dict:
        prefixes = _authors_block_prefixes(model)

        def block_prefix(m: re.Match) -> str:
            i = int(m.group(1))
            # blocks past the model's end stay as they are: the builder reports them as another variant's
            return prefixes[i] if i < len(prefixes) else m.group(0)

        converted = {}
        for key, value in state_dict.items():
            if key.startswith("patch_head."):
                continue
            key = re.sub(r"^blocks\.(\d+)", block_prefix, key)
            for pattern, replacement in _AUTHORS_RENAMES:
                key = re.sub(pattern, replacement, key)
            converted[key] = value
        state_dict = converted

    model_params = dict(model.named_parameters())
    out = {}
    for key, value in state_dict.items():
        target = model_params.get(key)
        if key.endswith("pos_embed") and target is not None and value.shape != target.shape:
            num_prefix = model.num_prefix_tokens if key == "pos_embed" else 0
            trained_grid = _square_grid(value.shape[1] - num_prefix)
            if trained_grid is not None and value.shape[-1] == target.shape[-1]:
                owner = model if key == "pos_embed" else model.get_submodule(key[: -len(".pos_embed")])
                value = _resize_pos_embed(value, owner.grid_size, trained_grid, num_prefix)
        out[key] = value
    return out


def _create_vit_resnas(variant: str, pretrained: bool = False, **kwargs) -> ViTResNAS:
    return build_model(ViTResNAS, variant, pretrained, checkpoint_filter_fn, **kwargs)


_ORIGIN = "https://github.com/yilunliao/vit-search"
_DROPBOX = "https://www.dropbox.com/sh/x3momdvo7dkyv4o/AAB5orUSm7aWk6wQM_QFcKDsa?dl=0"


def _cfg(size: int = 224, **kwargs) -> dict:
    return {
        "url": "",
        "num_classes": 1000,
        "input_size": (3, size, size),
        "pool_size": None,
        "crop_pct": 0.875,
        "interpolation": "bicubic",
        "mean": IMAGENET_DEFAULT_MEAN,
        "std": IMAGENET_DEFAULT_STD,
        "first_conv": "patch_embed.conv1.conv",
        "classifier": "head",
        "license": "cc-by-nc-4.0",
        "origin_url": _ORIGIN,
        "paper_ids": "arXiv:2109.00642",
        "paper_name": "Searching for Efficient Multi-Stage Vision Transformers",
        "notes": (
            f"The authors share their weights in a Dropbox folder ({_DROPBOX}), not as direct links; their "
            "training checkpoints (*.pth.tar with 'model', 'model_ema' and 'args') load as they are.",
            "Weights and code are licensed CC-BY-NC 4.0: non-commercial use only.",
        ),
        **kwargs,
    }


default_cfgs = generate_default_cfgs(
    {
        "vit_resnas_tiny.in1k": _cfg(),
        "vit_resnas_small.in1k": _cfg(),
        "vit_resnas_medium.in1k": _cfg(),
        "vit_resnas_medium_280.in1k": _cfg(280),
        "vit_resnas_medium_336.in1k": _cfg(336),
        "vit_resnas_medium_392.in1k": _cfg(392),
    }
)


@register_model
def vit_resnas_tiny(pretrained: bool = False, **kwargs) -> ViTResNAS:
    args = dict(stages=VIT_RESNAS_TINY)
    return _create_vit_resnas("vit_resnas_tiny", pretrained, **dict(args, **kwargs))


@register_model
def vit_resnas_small(pretrained: bool = False, **kwargs) -> ViTResNAS:
    args = dict(stages=VIT_RESNAS_SMALL)
    return _create_vit_resnas("vit_resnas_small", pretrained, **dict(args, **kwargs))


@register_model
def vit_resnas_medium(pretrained: bool = False, **kwargs) -> ViTResNAS:
    args = dict(stages=VIT_RESNAS_MEDIUM)
    return _create_vit_resnas("vit_resnas_medium", pretrained, **dict(args, **kwargs))


@register_model
def vit_resnas_medium_280(pretrained: bool = False, **kwargs) -> ViTResNAS:
    args = dict(stages=VIT_RESNAS_MEDIUM, img_size=280)
    return _create_vit_resnas("vit_resnas_medium_280", pretrained, **dict(args, **kwargs))


@register_model
def vit_resnas_medium_336(pretrained: bool = False, **kwargs) -> ViTResNAS:
    args = dict(stages=VIT_RESNAS_MEDIUM, img_size=336)
    return _create_vit_resnas("vit_resnas_medium_336", pretrained, **dict(args, **kwargs))


@register_model
def vit_resnas_medium_392(pretrained: bool = False, **kwargs) -> ViTResNAS:
    args = dict(stages=VIT_RESNAS_MEDIUM, img_size=392)
    return _create_vit_resnas("vit_resnas_medium_392", pretrained, **dict(args, **kwargs))
