"""SReT (Sliced Recursive Transformer), exact to szq0214/SReT, ready for dense inputs.

Paper: "Sliced Recursive Transformer" (Shen, Liu and Xing, ECCV 2022).

A convolutional stem (three stride-2 conv-BN-ReLU) makes a stride-8 map with a learned position embedding;
three stages follow (depth-wise strided conv pooling between them), and global average pooling, LayerNorm
and a linear classifier end the model.  In each stage a few transformer blocks are *shared across depth*:
every block is applied twice in a row, each application followed by its own small non-linear projection
(a pre-norm MLP with a learned residual scale).  Attention is *sliced*: the tokens (raster order) are cut
into contiguous groups that attend only within themselves, with fewer groups in the recursive (second)
application, whose tokens the authors shuffle with ``torch.randperm`` from the global RNG -- in eval too.

Differences from the authors' code:
* Sharing is real: each shared block is one module applied twice, so the state dict holds its weights
  once.  The authors' ``nn.ModuleList`` lists the block twice and their checkpoints hold it twice;
  ``checkpoint_filter_fn`` checks that both copies are equal and keeps one.
* ``token_shuffle='random'`` (default) draws exactly the authors' permutations (same calls, order, sizes
  and RNG), so a forward seeded like theirs gives their output.  ``token_shuffle='fixed'`` uses one
  permutation per token count from a private generator: deterministic, and the global RNG is untouched.
* Any input size: the position embedding is resampled (bicubic) to the stem's grid, and a token count
  that the group count does not divide is cut into groups whose sizes differ by at most one token (the
  authors' code needs the division to be exact and fails otherwise).  At the training size the outputs are
  the authors'.
"""
from __future__ import annotations

import re
from functools import lru_cache, partial
from typing import Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from timm.layers import (
    ConvNormAct,
    DropPath,
    LayerNorm2d,
    Mlp,
    NormMlpClassifierHead,
    resample_abs_pos_embed_nhwc,
    to_2tuple,
    trunc_normal_,
)
from timm.models import register_model

from ..checkpoint import CheckpointError, unwrap_state_dict
from ..layers import check_image_input
from ..layers.checkpointing import checkpoint_block
from ._builder import build_model, generate_default_cfgs
from ._contract import HeadModuleMixin
from ._staged import StagedBackboneMixin

__all__ = ["SReT", "checkpoint_filter_fn", "sliced_attention", "fixed_token_permutation"]

TOKEN_SHUFFLES = ("random", "fixed")
_FIXED_SHUFFLE_SEED = 0


@lru_cache(maxsize=32)
def fixed_token_permutation(num_tokens: int) -> torch.Tensor:
    """The permutation that ``token_shuffle='fixed'`` uses for ``num_tokens`` tokens (CPU, int64).

    Drawn once per token count from a private generator (seed 0), so the global RNG is not consumed.
    With seed 0 it equals the authors' first draw after ``torch.manual_seed(0)``.
    """
    return torch.randperm(num_tokens, generator=torch.Generator().manual_seed(_FIXED_SHUFFLE_SEED))


def sliced_attention(qkv: torch.Tensor, num_heads: int, num_groups: int, dropout_p: float = 0.0) -> torch.Tensor:
    """Softmax attention within contiguous token groups: (B, N, 3C) stacked q, k, v -> (B, N, C).

    When ``num_groups`` does not divide N, the first N % num_groups groups take one token more.
    """
    B, N, C3 = qkv.shape
    C = C3 // 3
    num_groups = min(num_groups, N)
    size, extra = divmod(N, num_groups)
    split = extra * (size + 1)
    outs = []
    for start, stop, group_size in ((0, split, size + 1), (split, N, size)):
        if stop == start:
            continue
        groups = (stop - start) // group_size
        # groups become batch entries; for the whole sequence this is a view of qkv (no copy)
        q, k, v = (
            qkv[:, start:stop]
            .reshape(B * groups, group_size, 3, num_heads, C // num_heads)
            .permute(2, 0, 3, 1, 4)
            .unbind(0)
        )
        x = F.scaled_dot_product_attention(q, k, v, dropout_p=dropout_p)
        outs.append(x.transpose(1, 2).reshape(B, stop - start, C))
    return outs[0] if len(outs) == 1 else torch.cat(outs, dim=1)


class SlicedGroupAttention(nn.Module):
    """Multi-head attention within contiguous token groups, optionally on shuffled tokens."""

    def __init__(
        self,
        dim: int,
        num_heads: int,
        qkv_bias: bool = True,
        attn_drop: float = 0.0,
        proj_drop: float = 0.0,
        token_shuffle: str = "random",
    ):
        super().__init__()
        if token_shuffle not in TOKEN_SHUFFLES:
            raise ValueError(f"token_shuffle must be one of {TOKEN_SHUFFLES}, got {token_shuffle!r}")
        self.num_heads = num_heads
        self.token_shuffle = token_shuffle
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.attn_drop = attn_drop
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(proj_drop)

    def _permutation(self, num_tokens: int) -> torch.Tensor:
        if self.token_shuffle == "random":
            # The authors' call: the default (CPU) generator, one draw of N per shuffled application.
            return torch.randperm(num_tokens)
        return fixed_token_permutation(num_tokens)

    def forward(self, x: torch.Tensor, num_groups: int, shuffle: bool) -> torch.Tensor:
        order = None
        if shuffle and num_groups > 1:
            order = self._permutation(x.shape[1]).to(x.device)
            x = x[:, order]
        x = sliced_attention(self.qkv(x), self.num_heads, num_groups, self.attn_drop if self.training else 0.0)
        if order is not None:
            x = x[:, torch.argsort(order)]
        return self.proj_drop(self.proj(x))


class RecursiveBlock(nn.Module):
    """Pre-norm transformer block with learned scalar weights on both residual paths (authors' Transformer_Block)."""

    def __init__(
        self,
        dim: int,
        num_heads: int,
        mlp_ratio: float,
        drop_path: float = 0.0,
        proj_drop: float = 0.0,
        attn_drop: float = 0.0,
        token_shuffle: str = "random",
    ):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = SlicedGroupAttention(dim, num_heads, True, attn_drop, proj_drop, token_shuffle)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), drop=proj_drop)
        self.drop_path = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()
        self.skip_scale1 = nn.Parameter(torch.ones(1))
        self.attn_scale = nn.Parameter(torch.ones(1))
        self.skip_scale2 = nn.Parameter(torch.ones(1))
        self.mlp_scale = nn.Parameter(torch.ones(1))

    def forward(self, x: torch.Tensor, num_groups: int, shuffle: bool) -> torch.Tensor:
        x = x * self.skip_scale1 + self.drop_path(self.attn(self.norm1(x), num_groups, shuffle)) * self.attn_scale
        return x * self.skip_scale2 + self.drop_path(self.mlp(self.norm2(x))) * self.mlp_scale


class RecursionProjection(nn.Module):
    """The non-linear projection after each application of a shared block (authors' Non_proj)."""

    def __init__(self, dim: int, mlp_ratio: float, proj_drop: float = 0.0):
        super().__init__()
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), drop=proj_drop)
        self.skip_scale = nn.Parameter(torch.ones(1))
        self.mlp_scale = nn.Parameter(torch.ones(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.skip_scale + self.mlp(self.norm(x)) * self.mlp_scale


class SReTStage(nn.Module):
    """Optional depth-wise conv pooling, then ``depth`` applications of ``num_shared`` shared blocks; NCHW in/out.

    Shared block i is applied ``depth // num_shared`` times in a row.  The first application attends within
    ``groups`` groups; the later (recursive) ones within ``recursive_groups`` groups of shuffled tokens.
    """

    def __init__(
        self,
        in_dim: int,
        dim: int,
        depth: int,
        num_shared: int,
        num_heads: int,
        groups: int,
        recursive_groups: int,
        mlp_ratio: float,
        proj_mlp_ratio: float,
        drop_path: Sequence[float],
        downsample: bool,
        proj_drop: float = 0.0,
        attn_drop: float = 0.0,
        token_shuffle: str = "random",
    ):
        super().__init__()
        if depth % num_shared:
            raise ValueError(f"depth {depth} must be a multiple of the number of shared blocks {num_shared}")
        self.loops = depth // num_shared
        # The authors' pooling: a grouped conv (channel multiplier out/in), kernel 3, stride 2.
        self.downsample = (
            nn.Conv2d(in_dim, dim, kernel_size=3, stride=2, padding=1, groups=in_dim) if downsample else nn.Identity()
        )
        self.blocks = nn.ModuleList(
            RecursiveBlock(dim, num_heads, mlp_ratio, drop_path[i], proj_drop, attn_drop, token_shuffle)
            for i in range(num_shared)
        )
        self.projections = nn.ModuleList(RecursionProjection(dim, proj_mlp_ratio, proj_drop) for _ in range(depth))
        self.groups = groups
        self.recursive_groups = recursive_groups
        self.grad_checkpointing = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.downsample(x)
        B, C, H, W = x.shape
        x = x.flatten(2).transpose(1, 2)
        use_checkpoint = self.grad_checkpointing and torch.is_grad_enabled()
        for i, projection in enumerate(self.projections):
            block = self.blocks[i // self.loops]
            recursive = i % self.loops > 0
            num_groups = self.recursive_groups if recursive else self.groups
            if use_checkpoint:
                # checkpoint restores the RNG state for the recompute, so a shuffle draws the same permutation
                x = checkpoint_block(projection, checkpoint_block(block, x, num_groups, recursive))
            else:
                x = projection(block(x, num_groups, recursive))
        return x.transpose(1, 2).reshape(B, C, H, W)


class SReT(HeadModuleMixin, StagedBackboneMixin, nn.Module):
    """Sliced Recursive Transformer; stage maps are NCHW at strides 8, 16, 32."""

    stage_fmt = "NCHW"

    def __init__(
        self,
        img_size: Union[int, Tuple[int, int]] = 224,
        in_chans: int = 3,
        num_classes: int = 1000,
        global_pool: str = "avg",
        embed_dims: Sequence[int] = (64, 128, 256),
        depths: Sequence[int] = (4, 10, 6),
        num_shared: Sequence[int] = (2, 5, 3),
        num_heads: Sequence[int] = (2, 4, 8),
        groups: Sequence[int] = (8, 4, 1),
        recursive_groups: Sequence[int] = (2, 1, 1),
        mlp_ratio: float = 3.6,
        proj_mlp_ratio: float = 1.0,
        token_shuffle: str = "random",
        drop_rate: float = 0.0,
        pos_drop_rate: float = 0.0,
        proj_drop_rate: float = 0.0,
        attn_drop_rate: float = 0.0,
        drop_path_rate: float = 0.1,
    ):
        super().__init__()
        per_stage = (embed_dims, depths, num_shared, num_heads, groups, recursive_groups)
        if len({len(a) for a in per_stage}) != 1:
            raise ValueError(
                "embed_dims, depths, num_shared, num_heads, groups and recursive_groups need one entry per stage"
            )
        # img_size is the training resolution: it sizes the position embedding; any input size runs.
        self.img_size = to_2tuple(img_size)
        self.in_chans = in_chans
        self.num_classes = num_classes
        self.num_features = self.head_hidden_size = embed_dims[-1]

        stem_dim = embed_dims[0]
        self.stem = nn.Sequential(
            ConvNormAct(in_chans, stem_dim // 2, 3, stride=2, padding=1, bias=True),
            ConvNormAct(stem_dim // 2, stem_dim, 3, stride=2, padding=1, bias=True),
            ConvNormAct(stem_dim, stem_dim, 3, stride=2, padding=1, bias=True),
        )
        self.pos_embed = nn.Parameter(torch.zeros(1, stem_dim, *(-(-s // 8) for s in self.img_size)))
        self.pos_drop = nn.Dropout(pos_drop_rate)

        # Authors' rates: block i of a stage whose blocks start at index `first` (counting applications)
        # gets rate * (first + i) / sum(depths); only the shared blocks have drop path.
        total = sum(depths)
        self.stages = nn.Sequential()
        self.feature_info = []
        first = 0
        for i, dim in enumerate(embed_dims):
            self.stages.append(
                SReTStage(
                    embed_dims[i - 1] if i else dim,
                    dim,
                    depths[i],
                    num_shared[i],
                    num_heads[i],
                    groups[i],
                    recursive_groups[i],
                    mlp_ratio,
                    proj_mlp_ratio,
                    [drop_path_rate * (first + j) / total for j in range(num_shared[i])],
                    downsample=i > 0,
                    proj_drop=proj_drop_rate,
                    attn_drop=attn_drop_rate,
                    token_shuffle=token_shuffle,
                )
            )
            first += depths[i]
            self.feature_info.append(dict(num_chs=dim, reduction=8 * 2**i, module=f"stages.{i}"))
        self.head = NormMlpClassifierHead(
            self.num_features,
            num_classes,
            pool_type=global_pool,
            drop_rate=drop_rate,
            norm_layer=partial(LayerNorm2d, eps=1e-6),
        )
        # The authors initialise only the position embedding (and LayerNorms to their defaults).
        trunc_normal_(self.pos_embed, std=0.02)

    @torch.jit.ignore
    def no_weight_decay(self) -> set:
        return {"pos_embed"}

    @torch.jit.ignore
    def group_matcher(self, coarse: bool = False) -> dict:
        return dict(
            stem=r"^pos_embed|^stem",
            blocks=r"^stages\.(\d+)"
            if coarse
            else [
                (r"^stages\.(\d+)\.downsample", (0,)),
                (r"^stages\.(\d+)\.blocks\.(\d+)", None),
                # a stage's projections follow its shared blocks, which are applied between them
                (r"^stages\.(\d+)\.projections\.", (99999,)),
            ],
        )

    def _stem(self, x: torch.Tensor) -> torch.Tensor:
        # Below 8 pixels a side the stride-8 stem has less than one pixel per token.
        check_image_input(x, self.in_chans, 8, type(self).__name__)
        x = self.stem(x)
        pos_embed = self.pos_embed
        if x.shape[-2:] != pos_embed.shape[-2:]:
            pos_embed = resample_pos_embed(pos_embed, x.shape[-2:])
        return self.pos_drop(x + pos_embed)


def resample_pos_embed(pos_embed: torch.Tensor, grid: Sequence[int]) -> torch.Tensor:
    """A (1, C, H, W) position embedding resampled (bicubic, timm's helper) to ``grid``."""
    return resample_abs_pos_embed_nhwc(pos_embed.permute(0, 2, 3, 1), list(grid)).permute(0, 3, 1, 2)


_AUTHORS_BLOCK_KEYS = {
    "coefficient1.bias": "skip_scale1",
    "coefficient2.bias": "attn_scale",
    "coefficient3.bias": "skip_scale2",
    "coefficient4.bias": "mlp_scale",
}
_AUTHORS_PROJECTION_KEYS = {"coefficient1.bias": "skip_scale", "coefficient2.bias": "mlp_scale"}


def _convert_authors_key(key: str, model: SReT) -> Tuple[str, Optional[int]]:
    """(vitzoo key, the application whose copy this is when the key belongs to a shared block, else None)."""
    if m := re.match(r"^patch_embed\.(conv|bn)(\d)\.(.+)$", key):
        return f"stem.{int(m.group(2)) - 1}.{m.group(1)}.{m.group(3)}", None
    if m := re.match(r"^pools\.(\d+)\.conv\.(.+)$", key):
        return f"stages.{int(m.group(1)) + 1}.downsample.{m.group(2)}", None
    if m := re.match(r"^norm\.(weight|bias)$", key):
        return f"head.norm.{m.group(1)}", None
    if m := re.match(r"^head\.(weight|bias)$", key):
        return f"head.fc.{m.group(1)}", None
    if m := re.match(r"^transformers\.(\d+)\.blocks\.(\d+)\.(.+)$", key):
        stage, index, rest = int(m.group(1)), int(m.group(2)), m.group(3)
        # The authors' list is [B0, P0, B0, P1, B1, P2, B1, P3, ...]: application a is entry 2a, its projection 2a+1.
        application = index // 2
        if index % 2:
            rest = _AUTHORS_PROJECTION_KEYS.get(rest, re.sub(r"^norm1\.", "norm.", rest))
            return f"stages.{stage}.projections.{application}.{rest}", None
        block = application // model.stages[stage].loops
        return f"stages.{stage}.blocks.{block}.{_AUTHORS_BLOCK_KEYS.get(rest, rest)}", application
    return key, None


def checkpoint_filter_fn(state_dict, model: SReT) -> dict:
    """Convert the authors' SReT checkpoint (or vitzoo's own layout) to vitzoo's layout.

    The authors' state dict holds every shared block once per application (list entries 2a for
    application a); all copies must be equal -- anything else is not a SReT checkpoint as the authors'
    code saves it -- and one is kept.  The position embedding is resampled when the model's grid differs.
    """
    state_dict = unwrap_state_dict(state_dict)
    authors_layout = "patch_embed.conv1.weight" in state_dict
    out = {}
    first_copy = {}
    for key, value in state_dict.items():
        if authors_layout:
            key, application = _convert_authors_key(key, model)
            if application is not None:
                if key in out:
                    if value.shape != out[key].shape or not torch.equal(value, out[key]):
                        raise CheckpointError(
                            f"shared block weight {key} differs between its copies (application "
                            f"{first_copy[key]} and {application}); SReT checkpoints hold every shared block once "
                            "per application with identical values, so this file is not a SReT checkpoint as the "
                            "authors' code saves it (or it was edited)"
                        )
                    continue
                first_copy[key] = application
        if key == "pos_embed" and value.ndim == 4 and value.shape != model.pos_embed.shape:
            value = resample_pos_embed(value, model.pos_embed.shape[-2:])
        out[key] = value
    return out


def _create_sret(variant: str, pretrained: bool = False, **kwargs) -> SReT:
    return build_model(SReT, variant, pretrained, checkpoint_filter_fn, **kwargs)


_ORIGIN = "https://github.com/szq0214/SReT"


def _cfg(weights: str = "", **kwargs) -> dict:
    """``weights``: the README's name of the row whose Google Drive link holds this variant's weights."""
    return {
        "url": "",
        "num_classes": 1000,
        "input_size": (3, 224, 224),
        "pool_size": (7, 7),
        "crop_pct": 0.875,
        "interpolation": "bicubic",
        "mean": (0.485, 0.456, 0.406),
        "std": (0.229, 0.224, 0.225),
        "first_conv": "stem.0.conv",
        "classifier": "head.fc",
        "license": "mit",
        "origin_url": _ORIGIN,
        "paper_ids": "arXiv:2111.05297",
        "paper_name": "Sliced Recursive Transformer",
        "notes": (
            f"The authors host the weights on Google Drive only: README table 'Pre-trained Model', row {weights}, "
            "column 'weights (last)'. The file is a training checkpoint ({'model': state_dict}).",
        ),
        **kwargs,
    }


def _at(size: int) -> dict:
    return dict(input_size=(3, size, size), pool_size=(size // 32, size // 32))


default_cfgs = generate_default_cfgs(
    {
        "sret_t.in1k": _cfg("SReT_T"),
        "sret_t.in1k_dist": _cfg("SReT_T_Distill"),
        "sret_lt.in1k": _cfg("SReT_LT [8-4-1,2-1-1]"),
        "sret_lt.in1k_dist": _cfg("SReT_LT_Distill"),
        "sret_lt_16_14_1.in1k": _cfg("SReT_LT [16-14-1,1-1-1]"),
        "sret_s.in1k": _cfg("SReT_S"),
        "sret_t_wo_slice.in1k": _cfg("SReT_⋇T"),
        "sret_t_wo_slice.in1k_dist": _cfg("SReT_⋇T_Distill"),
        "sret_lt_wo_slice.in1k": _cfg("SReT_⋇LT"),
        "sret_lt_wo_slice.in1k_dist": _cfg("SReT_⋇LT_Distill"),
        "sret_s_wo_slice.in1k": _cfg("SReT_⋇S"),
        "sret_t_wo_slice_384.in1k_dist": _cfg("SReT_⋇T_Distill_Finetune384", **_at(384)),
        "sret_s_wo_slice_384.in1k_dist": _cfg("SReT_⋇S_Distill_Finetune384", **_at(384)),
        "sret_s_wo_slice_512.in1k_dist": _cfg("SReT_⋇S_Distill_Finetune512", **_at(512)),
    }
)

# The authors' SReT_T / SReT_LT / SReT_S (SReT.py); the `_wo_slice` models (SReT_wo_slice.py) attend globally.
_T = dict(embed_dims=(64, 128, 256), num_heads=(2, 4, 8), mlp_ratio=3.6, proj_mlp_ratio=1.0)
_LT = dict(_T, mlp_ratio=4.0)
_S = dict(embed_dims=(126, 252, 504), num_heads=(3, 6, 12), mlp_ratio=3.0, proj_mlp_ratio=2.0)
# Without slicing every attention is global; the authors' RecursiveTransformer defaults to no drop path.
_NO_SLICE = dict(groups=(1, 1, 1), recursive_groups=(1, 1, 1), drop_path_rate=0.0)
_T_WO = dict(_T, **_NO_SLICE)
_LT_WO = dict(_LT, **_NO_SLICE)
_S_WO = dict(_S, **_NO_SLICE)


@register_model
def sret_t(pretrained: bool = False, **kwargs) -> SReT:
    return _create_sret("sret_t", pretrained, **dict(_T, **kwargs))


@register_model
def sret_lt(pretrained: bool = False, **kwargs) -> SReT:
    return _create_sret("sret_lt", pretrained, **dict(_LT, **kwargs))


@register_model
def sret_lt_16_14_1(pretrained: bool = False, **kwargs) -> SReT:
    """SReT-LT with groups [16, 14, 1] and no recursive slicing ([1, 1, 1]): no token shuffle."""
    args = dict(_LT, groups=(16, 14, 1), recursive_groups=(1, 1, 1))
    return _create_sret("sret_lt_16_14_1", pretrained, **dict(args, **kwargs))


@register_model
def sret_s(pretrained: bool = False, **kwargs) -> SReT:
    return _create_sret("sret_s", pretrained, **dict(_S, **kwargs))


@register_model
def sret_t_wo_slice(pretrained: bool = False, **kwargs) -> SReT:
    return _create_sret("sret_t_wo_slice", pretrained, **dict(_T_WO, **kwargs))


@register_model
def sret_lt_wo_slice(pretrained: bool = False, **kwargs) -> SReT:
    return _create_sret("sret_lt_wo_slice", pretrained, **dict(_LT_WO, **kwargs))


@register_model
def sret_s_wo_slice(pretrained: bool = False, **kwargs) -> SReT:
    return _create_sret("sret_s_wo_slice", pretrained, **dict(_S_WO, **kwargs))


@register_model
def sret_t_wo_slice_384(pretrained: bool = False, **kwargs) -> SReT:
    return _create_sret("sret_t_wo_slice_384", pretrained, **dict(dict(_T_WO, img_size=384), **kwargs))


@register_model
def sret_s_wo_slice_384(pretrained: bool = False, **kwargs) -> SReT:
    return _create_sret("sret_s_wo_slice_384", pretrained, **dict(dict(_S_WO, img_size=384), **kwargs))


@register_model
def sret_s_wo_slice_512(pretrained: bool = False, **kwargs) -> SReT:
    return _create_sret("sret_s_wo_slice_512", pretrained, **dict(dict(_S_WO, img_size=512), **kwargs))
