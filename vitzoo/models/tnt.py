"""TNT (Transformer in Transformer) and PyramidTNT, exact to huawei-noah/Efficient-AI-Backbones.

Papers: "Transformer in Transformer" (Han et al., NeurIPS 2021) and "PyramidTNT: Improved Transformer-in-
Transformer Baselines with Pyramid Architecture" (Han et al., 2022).

Every image patch ("sentence") is also a small sequence of sub-patches ("words"). An inner transformer
mixes the words of each patch; their flattened result is projected and added to the patch token; an outer
transformer then mixes the patch tokens.  PyramidTNT adds a convolutional stem, four stages with
word/sentence aggregation (stride-2 convolutions) between them, spatial-reduction attention and a learned
relative position bias per stage.

timm owns ``tnt_*`` names, so the whole family here is ``vz_*``.  vitzoo keeps the authors' parameter
names, so their checkpoints load unchanged; ``checkpoint_filter_fn`` also accepts timm's TNT layout.
Any input size runs: the image is padded to a multiple of the patch size (16 for TNT, 8 for PyramidTNT),
and position embeddings / relative position biases are resampled to the actual token grid.
"""
from __future__ import annotations

import math
import re
from typing import List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from timm.layers import DropPath, Mlp, calculate_drop_path_rates, resample_abs_pos_embed, trunc_normal_
from timm.models import register_model
from timm.models._features import feature_take_indices
from torch.utils.checkpoint import checkpoint

from ..checkpoint import unwrap_state_dict
from ..layers import check_image_input
from ._builder import build_model, generate_default_cfgs
from ._contract import BlocksMixin, LinearHeadMixin, check_output_fmt, init_linear_weights
from ._staged import StagesMixin

__all__ = ["TNT", "PyramidTNT", "checkpoint_filter_fn"]

WORDS_PER_SIDE = 4  # both models split every patch into 4x4 words


def _multi_head_attention(q, k, v, num_heads: int, bias=None, dropout: float = 0.0) -> torch.Tensor:
    """q: (B, N, C), k/v: (B, M, C) -> (B, N, C); bias broadcasts to (B, heads, N, M)."""
    B, N, C = q.shape
    q, k, v = (t.reshape(B, t.shape[1], num_heads, -1).transpose(1, 2) for t in (q, k, v))
    x = F.scaled_dot_product_attention(q, k, v, attn_mask=bias, dropout_p=dropout)
    return x.transpose(1, 2).reshape(B, N, -1)


def _run(module: nn.Module, use_checkpoint: bool, *args):
    if use_checkpoint and torch.is_grad_enabled():
        return checkpoint(module, *args, use_reentrant=False)
    return module(*args)


def _pad_to_multiple(x: torch.Tensor, multiple: int) -> torch.Tensor:
    H, W = x.shape[-2:]
    return F.pad(x, (0, (-W) % multiple, 0, (-H) % multiple))


def _tokens_to_nchw(tokens: torch.Tensor, grid: Tuple[int, int]) -> torch.Tensor:
    return tokens.transpose(1, 2).reshape(tokens.shape[0], -1, *grid).contiguous()


# ---------------------------------------------------------------------------------------------- TNT


class QkVAttention(nn.Module):
    """TNT attention: one projection for q and k, a separate one for v (keys ``qk``, ``v``)."""

    def __init__(self, dim: int, num_heads: int, qkv_bias: bool = False, attn_drop: float = 0.0, proj_drop: float = 0.0):
        super().__init__()
        self.num_heads = num_heads
        self.qk = nn.Linear(dim, dim * 2, bias=qkv_bias)
        self.v = nn.Linear(dim, dim, bias=qkv_bias)
        self.attn_drop = attn_drop
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(proj_drop)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q, k = self.qk(x).chunk(2, dim=-1)
        x = _multi_head_attention(q, k, self.v(x), self.num_heads, dropout=self.attn_drop if self.training else 0.0)
        return self.proj_drop(self.proj(x))


class TNTBlock(nn.Module):
    """Inner (word) transformer layer, word -> patch projection added to the patch tokens, outer layer."""

    def __init__(
        self,
        outer_dim: int,
        inner_dim: int,
        outer_num_heads: int,
        inner_num_heads: int,
        num_words: int,
        mlp_ratio: float = 4.0,
        qkv_bias: bool = False,
        proj_drop: float = 0.0,
        attn_drop: float = 0.0,
        drop_path: float = 0.0,
    ):
        super().__init__()
        self.inner_norm1 = nn.LayerNorm(inner_dim)
        self.inner_attn = QkVAttention(inner_dim, inner_num_heads, qkv_bias, attn_drop, proj_drop)
        self.inner_norm2 = nn.LayerNorm(inner_dim)
        self.inner_mlp = Mlp(inner_dim, int(inner_dim * mlp_ratio), drop=proj_drop)
        self.proj_norm1 = nn.LayerNorm(num_words * inner_dim)
        self.proj = nn.Linear(num_words * inner_dim, outer_dim, bias=False)
        self.proj_norm2 = nn.LayerNorm(outer_dim)
        self.outer_norm1 = nn.LayerNorm(outer_dim)
        self.outer_attn = QkVAttention(outer_dim, outer_num_heads, qkv_bias, attn_drop, proj_drop)
        self.outer_norm2 = nn.LayerNorm(outer_dim)
        self.outer_mlp = Mlp(outer_dim, int(outer_dim * mlp_ratio), drop=proj_drop)
        self.drop_path = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()

    def forward(self, inner: torch.Tensor, outer: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """inner: (B*N, words, C_in) words of every patch; outer: (B, 1+N, C) cls + patch tokens."""
        inner = inner + self.drop_path(self.inner_attn(self.inner_norm1(inner)))
        inner = inner + self.drop_path(self.inner_mlp(self.inner_norm2(inner)))
        B, N1, _ = outer.shape
        words = self.proj_norm2(self.proj(self.proj_norm1(inner.reshape(B, N1 - 1, -1))))
        outer = torch.cat([outer[:, :1], outer[:, 1:] + words], dim=1)  # the cls token gets no words
        outer = outer + self.drop_path(self.outer_attn(self.outer_norm1(outer)))
        outer = outer + self.drop_path(self.outer_mlp(self.outer_norm2(outer)))
        return inner, outer


class WordEmbed(nn.Module):
    """Each patch separately (zero padding at patch borders) -> 7x7 stride-4 conv -> 4x4 words."""

    def __init__(self, patch_size: int, in_chans: int, inner_dim: int):
        super().__init__()
        self.patch_size = patch_size
        self.proj = nn.Conv2d(in_chans, inner_dim, kernel_size=7, padding=3, stride=patch_size // WORDS_PER_SIDE)

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, Tuple[int, int]]:
        B, C, H, W = x.shape
        p = self.patch_size
        grid = (H // p, W // p)
        patches = x.view(B, C, grid[0], p, grid[1], p).permute(0, 2, 4, 1, 3, 5).reshape(-1, C, p, p)
        words = self.proj(patches)  # (B*N, C_in, 4, 4)
        return words.flatten(2).transpose(1, 2), grid


class TNT(LinearHeadMixin, BlocksMixin, nn.Module):
    """TNT: isotropic transformer over 16x16 patches, each holding a 4x4 word transformer."""

    pool_types = ("token", "avg", "")

    def __init__(
        self,
        img_size: Union[int, Tuple[int, int]] = 224,
        patch_size: int = 16,
        in_chans: int = 3,
        num_classes: int = 1000,
        global_pool: str = "token",
        outer_dim: int = 384,
        inner_dim: int = 24,
        depth: int = 12,
        outer_num_heads: int = 6,
        inner_num_heads: int = 4,
        mlp_ratio: float = 4.0,
        qkv_bias: bool = False,
        drop_rate: float = 0.0,
        proj_drop_rate: float = 0.0,
        attn_drop_rate: float = 0.0,
        drop_path_rate: float = 0.0,
    ):
        super().__init__()
        if patch_size % WORDS_PER_SIDE:
            raise ValueError(f"patch_size {patch_size} must be a multiple of {WORDS_PER_SIDE}")
        img_size = (img_size, img_size) if isinstance(img_size, int) else tuple(img_size)
        self.patch_size = patch_size
        self.in_chans = in_chans
        self.num_classes = num_classes
        self.global_pool = self._checked_pool(global_pool)
        self.num_features = self.head_hidden_size = self.embed_dim = outer_dim
        self.num_prefix_tokens = 1
        self.grad_checkpointing = False
        self.pos_grid = (img_size[0] // patch_size, img_size[1] // patch_size)
        num_words = WORDS_PER_SIDE**2

        self.patch_embed = WordEmbed(patch_size, in_chans, inner_dim)
        self.proj_norm1 = nn.LayerNorm(num_words * inner_dim)
        self.proj = nn.Linear(num_words * inner_dim, outer_dim)
        self.proj_norm2 = nn.LayerNorm(outer_dim)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, outer_dim))
        self.outer_pos = nn.Parameter(torch.zeros(1, self.pos_grid[0] * self.pos_grid[1] + 1, outer_dim))
        self.inner_pos = nn.Parameter(torch.zeros(1, num_words, inner_dim))
        self.pos_drop = nn.Dropout(drop_rate)
        dpr = calculate_drop_path_rates(drop_path_rate, depth)
        self.blocks = nn.ModuleList(
            TNTBlock(outer_dim, inner_dim, outer_num_heads, inner_num_heads, num_words, mlp_ratio, qkv_bias,
                     proj_drop_rate, attn_drop_rate, dpr[i])
            for i in range(depth)
        )
        self.feature_info = [dict(num_chs=outer_dim, reduction=patch_size, module=f"blocks.{i}") for i in range(depth)]
        self.norm = nn.LayerNorm(outer_dim)
        self.head_drop = nn.Dropout(drop_rate)
        self.head = nn.Linear(outer_dim, num_classes) if num_classes > 0 else nn.Identity()
        for p in (self.cls_token, self.outer_pos, self.inner_pos):
            trunc_normal_(p, std=0.02)
        self.apply(init_linear_weights)

    @torch.jit.ignore
    def no_weight_decay(self) -> set:
        return {"outer_pos", "inner_pos", "cls_token"}

    @torch.jit.ignore
    def group_matcher(self, coarse: bool = False) -> dict:
        return dict(
            stem=r"^cls_token|outer_pos|inner_pos|patch_embed|proj_norm1|proj\.|proj_norm2",
            blocks=[(r"^blocks\.(\d+)", None), (r"^norm", (99999,))],
        )

    def embed(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor, Tuple[int, int]]:
        """(words (B*N, 16, C_in), tokens (B, 1+N, C), patch grid) ready for the first block."""
        check_image_input(x, self.in_chans, self.patch_size, type(self).__name__)
        B = x.shape[0]
        inner, grid = self.patch_embed(_pad_to_multiple(x, self.patch_size))
        inner = inner + self.inner_pos
        outer = self.proj_norm2(self.proj(self.proj_norm1(inner.reshape(B, grid[0] * grid[1], -1))))
        outer = torch.cat([self.cls_token.expand(B, -1, -1), outer], dim=1)
        pos = self.outer_pos
        if grid != self.pos_grid:
            pos = resample_abs_pos_embed(pos, new_size=grid, old_size=self.pos_grid, num_prefix_tokens=1)
        return inner, self.pos_drop(outer + pos), grid

    def forward_intermediates(
        self,
        x: torch.Tensor,
        indices: Optional[Union[int, List[int]]] = None,
        norm: bool = False,
        stop_early: bool = False,
        output_fmt: str = "NCHW",
        intermediates_only: bool = False,
    ) -> Union[List[torch.Tensor], Tuple[torch.Tensor, List[torch.Tensor]]]:
        """Patch tokens (cls dropped) after the selected blocks, as NCHW maps at stride 16 (or NLC)."""
        check_output_fmt(output_fmt, ("NCHW", "NLC"))
        take_indices, max_index = feature_take_indices(len(self.blocks), indices)
        inner, outer, grid = self.embed(x)
        blocks = self.blocks[: max_index + 1] if stop_early else self.blocks
        intermediates = []
        for i, block in enumerate(blocks):
            inner, outer = _run(block, self.grad_checkpointing, inner, outer)
            if i in take_indices:
                tokens = (self.norm(outer) if norm else outer)[:, 1:]
                intermediates.append(_tokens_to_nchw(tokens, grid) if output_fmt == "NCHW" else tokens)
        if intermediates_only:
            return intermediates
        return self.norm(outer), intermediates

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        inner, outer, _ = self.embed(x)
        for block in self.blocks:
            inner, outer = _run(block, self.grad_checkpointing, inner, outer)
        return self.norm(outer)


# ----------------------------------------------------------------------------------------- PyramidTNT


class SpatialReductionAttention(nn.Module):
    """q from every token; k, v from tokens average-pooled by ``sr_ratio`` (then linear + LayerNorm)."""

    def __init__(self, dim: int, num_heads: int, qkv_bias: bool = False, attn_drop: float = 0.0,
                 proj_drop: float = 0.0, sr_ratio: int = 1):
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"dim {dim} is not divisible by num_heads {num_heads}")
        self.num_heads = num_heads
        self.sr_ratio = sr_ratio
        self.q = nn.Linear(dim, dim, bias=qkv_bias)
        self.kv = nn.Linear(dim, dim * 2, bias=qkv_bias)
        self.attn_drop = attn_drop
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(proj_drop)
        if sr_ratio > 1:
            self.linear = nn.Linear(dim, dim)
            self.norm = nn.LayerNorm(dim)

    def forward(self, x: torch.Tensor, grid: Optional[Tuple[int, int]] = None, bias=None) -> torch.Tensor:
        source = x
        if self.sr_ratio > 1:
            B, N, C = x.shape
            pooled = F.avg_pool2d(x.transpose(1, 2).reshape(B, C, *grid), self.sr_ratio)
            source = self.norm(self.linear(pooled.flatten(2).transpose(1, 2)))
        k, v = self.kv(source).chunk(2, dim=-1)
        x = _multi_head_attention(
            self.q(x), k, v, self.num_heads, bias, dropout=self.attn_drop if self.training else 0.0
        )
        return self.proj_drop(self.proj(x))


class PyramidBlock(nn.Module):
    """Optional inner (word) layer with LayerNorms over all words of a patch jointly, then the outer layer."""

    def __init__(self, outer_dim: int, inner_dim: int, outer_heads: int, inner_heads: int, num_words: int,
                 has_inner: bool, mlp_ratio: float, qkv_bias: bool, proj_drop: float, attn_drop: float,
                 drop_path: float, sr_ratio: int):
        super().__init__()
        self.has_inner = has_inner
        if has_inner:
            self.inner_norm1 = nn.LayerNorm(num_words * inner_dim)
            self.inner_attn = SpatialReductionAttention(inner_dim, inner_heads, qkv_bias, attn_drop, proj_drop)
            self.inner_norm2 = nn.LayerNorm(num_words * inner_dim)
            self.inner_mlp = Mlp(inner_dim, int(inner_dim * mlp_ratio), drop=proj_drop)
            self.proj_norm1 = nn.LayerNorm(num_words * inner_dim)
            self.proj = nn.Linear(num_words * inner_dim, outer_dim, bias=False)
            self.proj_norm2 = nn.LayerNorm(outer_dim)
        self.outer_norm1 = nn.LayerNorm(outer_dim)
        self.outer_attn = SpatialReductionAttention(outer_dim, outer_heads, qkv_bias, attn_drop, proj_drop, sr_ratio)
        self.outer_norm2 = nn.LayerNorm(outer_dim)
        self.outer_mlp = Mlp(outer_dim, int(outer_dim * mlp_ratio), drop=proj_drop)
        self.drop_path = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()

    def forward(self, inner, outer, grid: Tuple[int, int], relative_pos):
        B, N, _ = outer.shape
        if self.has_inner:
            words = inner.shape[1]

            def patchwise(norm, t):  # one LayerNorm over all words of a patch
                return norm(t.reshape(B, N, -1)).reshape(B * N, words, -1)

            inner = inner + self.drop_path(self.inner_attn(patchwise(self.inner_norm1, inner)))
            inner = inner + self.drop_path(self.inner_mlp(patchwise(self.inner_norm2, inner)))
            outer = outer + self.proj_norm2(self.proj(self.proj_norm1(inner.reshape(B, N, -1))))
        outer = outer + self.drop_path(self.outer_attn(self.outer_norm1(outer), grid, relative_pos))
        outer = outer + self.drop_path(self.outer_mlp(self.outer_norm2(outer)))
        return inner, outer


def resample_relative_pos(bias: torch.Tensor, grid: Tuple[int, int], new_grid: Tuple[int, int], sr_ratio: int):
    """A (1, heads, N, M) bias learned on ``grid`` for another token grid.

    Query axis (grid) and key axis (grid // sr_ratio) are each resampled bicubically as 2-D maps.
    """
    if tuple(grid) == tuple(new_grid):
        return bias
    heads = bias.shape[1]
    key_grid = (grid[0] // sr_ratio, grid[1] // sr_ratio)
    new_key_grid = (new_grid[0] // sr_ratio, new_grid[1] // sr_ratio)
    M, N = key_grid[0] * key_grid[1], new_grid[0] * new_grid[1]
    bias = bias.reshape(heads, *grid, M).permute(0, 3, 1, 2).reshape(1, heads * M, *grid)
    bias = F.interpolate(bias, size=new_grid, mode="bicubic", align_corners=False)
    bias = bias.reshape(heads, M, N).transpose(1, 2).reshape(1, heads * N, *key_grid)
    bias = F.interpolate(bias, size=new_key_grid, mode="bicubic", align_corners=False)
    return bias.reshape(1, heads, N, new_key_grid[0] * new_key_grid[1])


class PyramidStage(nn.Module):
    """Blocks sharing one learned relative position bias (heads, N, N / sr^2) for the stage's grid."""

    def __init__(self, depth: int, grid: Tuple[int, int], outer_dim: int, inner_dim: int, outer_heads: int,
                 inner_heads: int, num_words: int, sr_ratio: int, drop_path: Sequence[float], **block_kwargs):
        super().__init__()
        self.grid = grid
        self.sr_ratio = sr_ratio
        # The authors give the first block (and the second in stages deeper than 6) a word transformer.
        self.blocks = nn.ModuleList(
            PyramidBlock(outer_dim, inner_dim, outer_heads, inner_heads, num_words,
                         has_inner=j == 0 or (j == 1 and depth > 6), drop_path=drop_path[j], sr_ratio=sr_ratio,
                         **block_kwargs)
            for j in range(depth)
        )
        key_grid = (grid[0] // sr_ratio, grid[1] // sr_ratio)
        self.relative_pos = nn.Parameter(torch.randn(1, outer_heads, grid[0] * grid[1], key_grid[0] * key_grid[1]))
        self.grad_checkpointing = False

    def relative_position_bias(self, grid: Tuple[int, int]) -> torch.Tensor:
        return resample_relative_pos(self.relative_pos, self.grid, grid, self.sr_ratio)

    def forward(self, inner, outer, grid):
        bias = self.relative_position_bias(grid)
        for block in self.blocks:
            inner, outer = _run(block, self.grad_checkpointing, inner, outer, grid, bias)
        return inner, outer


class Stem(nn.Module):
    """Overlapping conv stem: a shared 3x3 s2 conv, then words (4x4 per 8x8-pixel patch) and patch tokens."""

    def __init__(self, in_chans: int, outer_dim: int, inner_dim: int):
        super().__init__()
        self.inner_dim = inner_dim

        def conv_bn_relu(cin, cout, stride):
            return [nn.Conv2d(cin, cout, 3, stride, 1), nn.BatchNorm2d(cout), nn.ReLU()]

        self.common_conv = nn.Sequential(*conv_bn_relu(in_chans, inner_dim * 2, 2))
        self.inner_convs = nn.Sequential(*conv_bn_relu(inner_dim * 2, inner_dim, 1))
        self.outer_convs = nn.Sequential(
            *conv_bn_relu(inner_dim * 2, inner_dim * 4, 2),
            *conv_bn_relu(inner_dim * 4, inner_dim * 8, 2),
            *conv_bn_relu(inner_dim * 8, outer_dim, 1),
        )

    def forward(self, x: torch.Tensor):
        x = self.common_conv(x)
        words = self.inner_convs(x)  # (B, C_in, H/2, W/2): every 4x4 block is one patch's words
        B, C, H2, W2 = words.shape
        grid = (H2 // WORDS_PER_SIDE, W2 // WORDS_PER_SIDE)
        words = words.view(B, C, grid[0], WORDS_PER_SIDE, grid[1], WORDS_PER_SIDE)
        inner = words.permute(0, 2, 4, 3, 5, 1).reshape(B * grid[0] * grid[1], WORDS_PER_SIDE**2, C)
        outer = self.outer_convs(x).flatten(2).transpose(1, 2)
        return inner, outer, grid


class WordAggregation(nn.Module):
    """Merge the 4x4 words of 2x2 neighbouring patches into an 8x8 grid, then a 3x3 s2 conv back to 4x4."""

    def __init__(self, dim_in: int, dim_out: int):
        super().__init__()
        self.norm = nn.LayerNorm(dim_in)
        self.conv = nn.Conv2d(dim_in, dim_out, kernel_size=3, padding=1, stride=2)

    def forward(self, inner: torch.Tensor, grid: Tuple[int, int]) -> torch.Tensor:
        s = WORDS_PER_SIDE
        x = self.norm(inner).reshape(-1, grid[0], grid[1], s, s, inner.shape[-1])
        # odd patch grids (dense inputs) gain a zero row / column of patches, as the authors' detector does
        x = F.pad(x.permute(0, 3, 4, 5, 1, 2), (0, grid[1] % 2, 0, grid[0] % 2)).permute(0, 4, 5, 1, 2, 3)
        B, Hp, Wp, _, _, C = x.shape
        # (B, H/2, row-in-pair, W/2, col-in-pair, word-row, word-col, C) -> 8x8 word grid per merged patch
        x = x.reshape(B, Hp // 2, 2, Wp // 2, 2, s, s, C).permute(0, 1, 3, 7, 2, 5, 4, 6)
        x = self.conv(x.reshape(-1, C, 2 * s, 2 * s))
        return x.flatten(2).transpose(1, 2)


class SentenceAggregation(nn.Module):
    """LayerNorm, then a 3x3 stride-2 conv over the patch-token map."""

    def __init__(self, dim_in: int, dim_out: int):
        super().__init__()
        self.norm = nn.LayerNorm(dim_in)
        self.conv = nn.Conv2d(dim_in, dim_out, kernel_size=3, padding=1, stride=2)

    def forward(self, outer: torch.Tensor, grid: Tuple[int, int]):
        x = self.conv(_tokens_to_nchw(self.norm(outer), grid))
        return x.flatten(2).transpose(1, 2), (x.shape[2], x.shape[3])


class PyramidTNT(LinearHeadMixin, StagesMixin, nn.Module):
    """PyramidTNT: conv stem and four TNT stages at strides 8, 16, 32, 64."""

    pool_types = ("avg", "")

    def __init__(
        self,
        img_size: Union[int, Tuple[int, int]] = 256,
        in_chans: int = 3,
        num_classes: int = 1000,
        global_pool: str = "avg",
        depths: Sequence[int] = (2, 8, 4, 2),
        outer_dims: Sequence[int] = (128, 256, 512, 512),
        inner_dims: Sequence[int] = (8, 16, 32, 32),
        outer_heads: Sequence[int] = (4, 8, 16, 16),
        inner_heads: Sequence[int] = (2, 4, 8, 8),
        sr_ratios: Sequence[int] = (4, 2, 1, 1),
        mlp_ratio: float = 4.0,
        qkv_bias: bool = False,
        drop_rate: float = 0.0,
        proj_drop_rate: float = 0.0,
        attn_drop_rate: float = 0.0,
        drop_path_rate: float = 0.0,
    ):
        super().__init__()
        img_size = (img_size, img_size) if isinstance(img_size, int) else tuple(img_size)
        self.in_chans = in_chans
        self.num_classes = num_classes
        self.global_pool = self._checked_pool(global_pool)
        self.num_prefix_tokens = 0
        self.num_features = self.head_hidden_size = outer_dims[-1]
        self.stem_stride = 8
        num_words = WORDS_PER_SIDE**2
        self.pos_grid = (img_size[0] // self.stem_stride, img_size[1] // self.stem_stride)

        self.patch_embed = Stem(in_chans, outer_dims[0], inner_dims[0])
        self.outer_pos = nn.Parameter(torch.zeros(1, self.pos_grid[0] * self.pos_grid[1], outer_dims[0]))
        self.inner_pos = nn.Parameter(torch.zeros(1, num_words, inner_dims[0]))
        self.pos_drop = nn.Dropout(drop_rate)
        dpr = calculate_drop_path_rates(drop_path_rate, list(depths), stagewise=True)
        self.word_merges = nn.ModuleList(WordAggregation(inner_dims[i - 1], inner_dims[i]) for i in range(1, len(depths)))
        self.sentence_merges = nn.ModuleList(
            SentenceAggregation(outer_dims[i - 1], outer_dims[i]) for i in range(1, len(depths))
        )
        self.stages = nn.ModuleList()
        self.feature_info = []
        for i, depth in enumerate(depths):
            grid = (self.pos_grid[0] // 2**i, self.pos_grid[1] // 2**i)
            self.stages.append(
                PyramidStage(depth, grid, outer_dims[i], inner_dims[i], outer_heads[i], inner_heads[i], num_words,
                             sr_ratios[i], dpr[i], mlp_ratio=mlp_ratio, qkv_bias=qkv_bias,
                             proj_drop=proj_drop_rate, attn_drop=attn_drop_rate)
            )
            self.feature_info.append(
                dict(num_chs=outer_dims[i], reduction=self.stem_stride * 2**i, module=f"stages.{i}")
            )
        self.norm = nn.LayerNorm(self.num_features)
        self.head_drop = nn.Dropout(drop_rate)
        self.head = nn.Linear(self.num_features, num_classes) if num_classes > 0 else nn.Identity()
        trunc_normal_(self.outer_pos, std=0.02)
        trunc_normal_(self.inner_pos, std=0.02)
        self.apply(init_linear_weights)

    @torch.jit.ignore
    def no_weight_decay(self) -> set:
        return {"outer_pos", "inner_pos"} | {f"stages.{i}.relative_pos" for i in range(len(self.stages))}

    @torch.jit.ignore
    def group_matcher(self, coarse: bool = False) -> dict:
        return dict(
            stem=r"^patch_embed|outer_pos|inner_pos",
            blocks=r"^stages\.(\d+)|^(?:word|sentence)_merges\.(\d+)"
            if coarse
            else [(r"^stages\.(\d+)\.blocks\.(\d+)", None), (r"^stages\.(\d+)\.relative_pos", (0,)),
                  (r"^(?:word|sentence)_merges\.(\d+)", (0,)), (r"^norm", (99999,))],
        )

    def embed(self, x: torch.Tensor):
        """(words (B*N, 16, C_in), patch tokens (B, N, C), grid) after the stem and position embeddings."""
        check_image_input(x, self.in_chans, self.stem_stride, type(self).__name__)
        inner, outer, grid = self.patch_embed(_pad_to_multiple(x, self.stem_stride))
        pos = self.outer_pos
        if grid != self.pos_grid:
            pos = resample_abs_pos_embed(pos, new_size=grid, old_size=self.pos_grid, num_prefix_tokens=0)
        return inner + self.inner_pos, outer + self.pos_drop(pos), grid

    def _run_stages(self, x: torch.Tensor, last_stage: int):
        """Yield (stage index, words, patch tokens, grid) after each stage up to ``last_stage``."""
        inner, outer, grid = self.embed(x)
        for i in range(last_stage + 1):
            if i > 0:
                inner = self.word_merges[i - 1](inner, grid)
                outer, grid = self.sentence_merges[i - 1](outer, grid)
            inner, outer = self.stages[i](inner, outer, grid)
            yield i, inner, outer, grid

    def forward_intermediates(
        self,
        x: torch.Tensor,
        indices: Optional[Union[int, List[int]]] = None,
        norm: bool = False,
        stop_early: bool = False,
        output_fmt: str = "NCHW",
        intermediates_only: bool = False,
    ) -> Union[List[torch.Tensor], Tuple[torch.Tensor, List[torch.Tensor]]]:
        """Patch tokens after each selected stage as NCHW maps (strides 8, 16, 32, 64).

        ``norm`` applies the final norm to the last stage's map (the only one it is sized for).
        """
        check_output_fmt(output_fmt, ("NCHW",))
        take_indices, max_index = feature_take_indices(len(self.stages), indices)
        last = len(self.stages) - 1
        intermediates = []
        for i, _, outer, grid in self._run_stages(x, max_index if stop_early else last):
            if i in take_indices:
                intermediates.append(_tokens_to_nchw(self.norm(outer) if norm and i == last else outer, grid))
        if intermediates_only:
            return intermediates
        return self.norm(outer), intermediates

    def prune_intermediate_layers(
        self, indices: Union[int, List[int]] = 1, prune_norm: bool = False, prune_head: bool = True
    ) -> List[int]:
        take_indices = super().prune_intermediate_layers(indices, prune_norm, prune_head)
        # the merges lead into stages 1, 2, ...: those of the kept stages stay
        self.word_merges = self.word_merges[: len(self.stages) - 1]
        self.sentence_merges = self.sentence_merges[: len(self.stages) - 1]
        return take_indices

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        *_, (_, _, outer, _) = self._run_stages(x, len(self.stages) - 1)
        return self.norm(outer)


# ----------------------------------------------------------------------------------------- checkpoints

# timm's TNT names -> the authors' (vitzoo's) names
_TIMM_TO_AUTHORS = [
    (r"^patch_pos$", "outer_pos"),
    (r"^pixel_embed\.", "patch_embed."),
    (r"(^|\.)norm1_proj\.", r"\1proj_norm1."),
    (r"(^|\.)norm2_proj\.", r"\1proj_norm2."),
    (r"\.norm_in\.", ".inner_norm1."),
    (r"\.attn_in\.", ".inner_attn."),
    (r"\.norm_mlp_in\.", ".inner_norm2."),
    (r"\.mlp_in\.", ".inner_mlp."),
    (r"\.norm_out\.", ".outer_norm1."),
    (r"\.attn_out\.", ".outer_attn."),
    (r"\.norm_mlp\.", ".outer_norm2."),
    (r"^(blocks\.\d+)\.mlp\.", r"\1.outer_mlp."),
]


def checkpoint_filter_fn(state_dict, model: nn.Module) -> dict:
    """Load the authors' TNT / PyramidTNT checkpoints (and timm's TNT layout) into vitzoo's models.

    The authors' TNT stores an unused ``outer_tokens`` parameter (dropped); PyramidTNT's aggregation
    convs sit in one-element ``nn.Sequential``s (``conv.0`` -> ``conv``).  Position embeddings and
    relative position biases of another resolution are resampled to the model's.
    """
    state_dict = unwrap_state_dict(state_dict)
    out = {}
    if "pixel_pos" in state_dict:  # timm layout: (1, C, 4, 4) word position map -> (1, 16, C)
        for key, value in state_dict.items():
            for pattern, replacement in _TIMM_TO_AUTHORS:
                key = re.sub(pattern, replacement, key)
            out["inner_pos" if key == "pixel_pos" else key] = value
        out["inner_pos"] = out["inner_pos"].flatten(2).transpose(1, 2)
        state_dict = out
    out = {}
    expected = model.state_dict()
    for key, value in state_dict.items():
        if key == "outer_tokens":
            continue
        key = re.sub(r"_merges\.(\d+)\.conv\.0\.", r"_merges.\1.conv.", key)
        if key == "outer_pos" and key in expected and value.shape != expected[key].shape:
            prefix = value.shape[1] - int(math.isqrt(value.shape[1])) ** 2  # TNT's cls position comes first
            old = int(math.isqrt(value.shape[1] - prefix))
            value = resample_abs_pos_embed(value, new_size=model.pos_grid, old_size=(old, old), num_prefix_tokens=prefix)
        elif key.endswith("relative_pos") and key in expected and value.shape != expected[key].shape:
            stage = model.get_submodule(key[: -len(".relative_pos")])
            old_side = int(math.isqrt(value.shape[2]))
            value = resample_relative_pos(value, (old_side, old_side), stage.grid, stage.sr_ratio)
        out[key] = value
    return out


def _create(model_cls, variant: str, pretrained: bool, default_out_indices, **kwargs):
    return build_model(model_cls, variant, pretrained, checkpoint_filter_fn, default_out_indices, **kwargs)


_ORIGIN = "https://github.com/huawei-noah/Efficient-AI-Backbones/tree/master/tnt_pytorch"
_RELEASE = "https://github.com/huawei-noah/Efficient-AI-Backbones/releases/download/tnt"


def _cfg(url: str = "", **kwargs) -> dict:
    return {
        "url": url,
        "num_classes": 1000,
        "input_size": (3, 224, 224),
        "pool_size": None,
        "crop_pct": 0.9,
        "interpolation": "bicubic",
        "mean": (0.5, 0.5, 0.5),
        "std": (0.5, 0.5, 0.5),
        "first_conv": "patch_embed.proj",
        "classifier": "head",
        "license": "apache-2.0",
        "origin_url": _ORIGIN,
        **kwargs,
    }


def _pyramid_cfg(password: str, **kwargs) -> dict:
    kwargs.setdefault("input_size", (3, 256, 256))
    return _cfg(
        first_conv="patch_embed.common_conv.0",
        paper_ids="arXiv:2201.00978",
        notes=(f"PyramidTNT weights are on BaiduDisk only (password {password}); the links are in the "
               "README of tnt_pytorch.",),
        **kwargs,
    )


default_cfgs = generate_default_cfgs(
    {
        "vz_tnt_s_patch16_224.in1k": _cfg(f"{_RELEASE}/tnt_s_81.5.pth.tar", paper_ids="arXiv:2103.00112"),
        "vz_tnt_b_patch16_224.in1k": _cfg(f"{_RELEASE}/tnt_b_82.9.pth.tar", paper_ids="arXiv:2103.00112"),
        "vz_pyramid_tnt_ti.in1k": _pyramid_cfg("0r5t", input_size=(3, 192, 192)),
        "vz_pyramid_tnt_s.in1k": _pyramid_cfg("v5w5"),
        "vz_pyramid_tnt_m.in1k": _pyramid_cfg("jqm3"),
        "vz_pyramid_tnt_b.in1k": _pyramid_cfg("ns4t"),
    }
)


def _pyramid_args(outer_dim: int, inner_dim: int, outer_heads: int, inner_heads: int, depths) -> dict:
    """The authors' width rule: stage widths x1, x2, x4, x4 of the first stage's."""
    return dict(
        depths=depths,
        outer_dims=tuple(outer_dim * m for m in (1, 2, 4, 4)),
        inner_dims=tuple(inner_dim * m for m in (1, 2, 4, 4)),
        outer_heads=tuple(outer_heads * m for m in (1, 2, 4, 4)),
        inner_heads=tuple(inner_heads * m for m in (1, 2, 4, 4)),
    )


@register_model
def vz_tnt_s_patch16_224(pretrained: bool = False, **kwargs) -> TNT:
    args = dict(outer_dim=384, inner_dim=24, outer_num_heads=6, inner_num_heads=4)
    return _create(TNT, "vz_tnt_s_patch16_224", pretrained, (11,), **dict(args, **kwargs))


@register_model
def vz_tnt_b_patch16_224(pretrained: bool = False, **kwargs) -> TNT:
    args = dict(outer_dim=640, inner_dim=40, outer_num_heads=10, inner_num_heads=4)
    return _create(TNT, "vz_tnt_b_patch16_224", pretrained, (11,), **dict(args, **kwargs))


@register_model
def vz_pyramid_tnt_ti(pretrained: bool = False, **kwargs) -> PyramidTNT:
    args = dict(img_size=192, **_pyramid_args(80, 5, 2, 1, (2, 6, 3, 2)))
    return _create(PyramidTNT, "vz_pyramid_tnt_ti", pretrained, (0, 1, 2, 3), **dict(args, **kwargs))


@register_model
def vz_pyramid_tnt_s(pretrained: bool = False, **kwargs) -> PyramidTNT:
    args = _pyramid_args(128, 8, 4, 2, (2, 8, 4, 2))
    return _create(PyramidTNT, "vz_pyramid_tnt_s", pretrained, (0, 1, 2, 3), **dict(args, **kwargs))


@register_model
def vz_pyramid_tnt_m(pretrained: bool = False, **kwargs) -> PyramidTNT:
    args = _pyramid_args(192, 12, 4, 2, (2, 8, 6, 2))
    return _create(PyramidTNT, "vz_pyramid_tnt_m", pretrained, (0, 1, 2, 3), **dict(args, **kwargs))


@register_model
def vz_pyramid_tnt_b(pretrained: bool = False, **kwargs) -> PyramidTNT:
    args = _pyramid_args(256, 16, 4, 2, (2, 10, 6, 2))
    return _create(PyramidTNT, "vz_pyramid_tnt_b", pretrained, (0, 1, 2, 3), **dict(args, **kwargs))
