"""SLAB-CSWin, exact to xinghaochen/SLAB (``classification/models/slab_cswin.py``).

Paper: "SLAB: Efficient Transformers with Simplified Linear Attention and Progressive Re-parameterized
Batch Normalization" (Guo et al., ICML 2024), on CSWin Transformer (Dong et al., CVPR 2022).

CSWin: a 7x7 stride-4 conv stem, four stages joined by 3x3 stride-2 convs, and blocks whose attention
splits the channels into two halves, one attending inside vertical stripes (full height,
``split_size`` wide), the other inside horizontal stripes, each with LePE (a depthwise 3x3 conv of v
added to the output); the last stage attends over the whole map.  SLAB changes:

* every norm is the progressive LayerNorm -> RepBN norm (the authors' ``LinearNorm``, 120000-step
  schedule, LayerNorm eps 1e-5);
* ``attn_type='LLSS'``: stages 1-2 run simplified linear attention (SLA) with ``la_split_size``
  56 / 28, i.e. the whole 224-image map, so (as the authors' code decides for ``split == size``) one
  branch over all channels and heads; it adds both SLA's shared depthwise conv of v and CSWin's LePE.

Any input size runs.  The SLA stages stay global, with their per-token positional encodings resized
to the stage map (bilinear, :func:`vitzoo.models.slab_deit.resize_grid_encoding`); the stripe stages
pad q, k, v to stripe multiples, centred and unmasked, and crop the output, as the CSWin authors'
segmentation backbone does.  At 224 nothing is padded or resized.

Layout: ``stem``, ``stages.{i}.downsample`` / ``stages.{i}.blocks.{j}``, ``norm``, ``head.fc``;
``checkpoint_filter_fn`` converts the authors' ``stage1_conv_embed`` / ``stage{n}`` / ``merge{n}`` keys
and drops their SLA's unused ``scale`` parameter.
"""
from __future__ import annotations

import math
import re
from functools import partial
from typing import Callable, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from timm.layers import ClassifierHead, DropPath, Mlp, calculate_drop_path_rates, to_2tuple
from timm.models import register_model

from ..checkpoint import unwrap_state_dict
from ..layers import check_image_input
from ..layers.checkpointing import run_blocks
from ..layers.linear_attention import Grid, resize_grid_encoding, sla_mix
from ..layers.prepbn import ReparameterizableMixin, fold_norm
from ..layers.window import window_partition, window_reverse
from ._builder import build_model, generate_default_cfgs
from ._contract import HeadModuleMixin, init_linear_weights
from ._staged import StagedBackboneMixin
from .slab_deit import _RELEASE
from .slab_deit import _cfg as _slab_cfg
from .slab_swin import _NO_WEIGHTS, MapProgressiveRepBN

__all__ = ["SlabCSWinTransformer", "checkpoint_filter_fn"]


class ConvEmbed(nn.Module):
    """Strided conv, then a norm over the channels-last output (CSWin's stem); NCHW in, NHWC out."""

    def __init__(self, in_chs: int, out_chs: int, kernel_size: int, stride: int, padding: int, norm_layer):
        super().__init__()
        self.conv = nn.Conv2d(in_chs, out_chs, kernel_size, stride, padding)
        self.norm = norm_layer(out_chs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(self.conv(x).permute(0, 2, 3, 1))


class MergeBlock(ConvEmbed):
    """CSWin's Merge_Block between stages (3x3 stride-2 conv, norm); channels-last in and out."""

    def __init__(self, in_chs: int, out_chs: int, norm_layer):
        super().__init__(in_chs, out_chs, 3, 2, 1, norm_layer)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.permute(0, 3, 1, 2))


def _lepe(conv: nn.Conv2d, v: torch.Tensor) -> torch.Tensor:
    """CSWin's locally-enhanced positional encoding: a depthwise conv of the (B, H, W, C) map v."""
    return conv(v.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)


class LinearAttentionBranch(nn.Module):
    """SLA over the whole map with the shared DWC of v, plus CSWin's LePE (SLAB-CSWin stages 1-2)."""

    def __init__(self, dim: int, num_heads: int, pos_grid: Grid, kernel_size: int = 5):
        super().__init__()
        head_dim = dim // num_heads
        self.num_heads = num_heads
        self.pos_grid = pos_grid
        self.get_v = nn.Conv2d(dim, dim, 3, padding=1, groups=dim)
        self.dwc = nn.Conv2d(head_dim, head_dim, kernel_size, padding=kernel_size // 2, groups=head_dim)
        self.positional_encoding = nn.Parameter(torch.zeros(1, pos_grid[0] * pos_grid[1], dim))

    def forward(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        B, H, W, C = v.shape
        q, k, v_tokens = (t.reshape(B, H * W, C) for t in (q, k, v))
        x = sla_mix(q, k, v_tokens, self.positional_encoding, self.pos_grid, self.dwc, self.num_heads, (H, W))
        return x.view(B, H, W, C) + _lepe(self.get_v, v)


class StripeAttention(nn.Module):
    """CSWin's LePE attention: softmax attention inside stripes, plus a depthwise 3x3 conv of v per stripe.

    ``axis`` 0: stripes of full height and ``split_size`` columns; 1: full width and ``split_size``
    rows; None: the whole map (CSWin's last stage).
    """

    def __init__(self, dim: int, num_heads: int, split_size: int = 7, axis: Optional[int] = None, attn_drop: float = 0.0):
        super().__init__()
        self.num_heads = num_heads
        self.split_size = split_size
        self.axis = axis
        self.attn_drop = attn_drop
        self.get_v = nn.Conv2d(dim, dim, 3, padding=1, groups=dim)

    def forward(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        B, H, W, C = q.shape
        stripe = {None: (H, W), 0: (H, self.split_size), 1: (self.split_size, W)}[self.axis]
        pad_h, pad_w = (-H) % stripe[0], (-W) % stripe[1]
        top, left = pad_h // 2, pad_w // 2
        if pad_h or pad_w:
            q, k, v = (F.pad(t, (0, 0, left, pad_w - left, top, pad_h - top)) for t in (q, k, v))
        q, k, v = (window_partition(t, stripe) for t in (q, k, v))  # (B * stripes, N, C)
        # LePE runs on each stripe alone: its 3x3 conv sees zeros beyond the stripe's edges.
        lepe = _lepe(self.get_v, v.view(-1, *stripe, C)).reshape(v.shape)
        q, k, v = (t.view(t.shape[0], -1, self.num_heads, C // self.num_heads).transpose(1, 2) for t in (q, k, v))
        x = F.scaled_dot_product_attention(q, k, v, dropout_p=self.attn_drop if self.training else 0.0)
        x = window_reverse(x.transpose(1, 2).reshape(lepe.shape) + lepe, stripe, H + pad_h, W + pad_w)
        return x[:, top : top + H, left : left + W]

    def extra_repr(self) -> str:
        return f"num_heads={self.num_heads}, split_size={self.split_size}, axis={self.axis}"


class CSWinBlock(nn.Module):
    """Pre-norm block: shared qkv, attention branches over channel groups, proj; then MLP (channels-last).

    ``attn``: 'linear' (one global SLA branch), 'stripes' (vertical and horizontal stripes on the two
    channel halves) or 'global' (one softmax branch over the whole map).
    """

    def __init__(
        self,
        dim: int,
        num_heads: int,
        attn: str,
        split_size: int = 7,
        pos_grid: Optional[Grid] = None,
        mlp_ratio: float = 4.0,
        qkv_bias: bool = True,
        kernel_size: int = 5,
        proj_drop: float = 0.0,
        attn_drop: float = 0.0,
        drop_path: float = 0.0,
        norm_layer: Callable[[int], nn.Module] = MapProgressiveRepBN,
    ):
        super().__init__()
        self.norm1 = norm_layer(dim)
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        if attn == "linear":
            branches = [LinearAttentionBranch(dim, num_heads, pos_grid, kernel_size)]
        elif attn == "stripes":
            branches = [StripeAttention(dim // 2, num_heads // 2, split_size, axis, attn_drop) for axis in (0, 1)]
        elif attn == "global":
            branches = [StripeAttention(dim, num_heads, split_size, None, attn_drop)]
        else:
            raise ValueError(f"attn must be 'linear', 'stripes' or 'global', got {attn!r}")
        self.attns = nn.ModuleList(branches)
        # The authors define a dropout after proj but never apply it.
        self.proj = nn.Linear(dim, dim)
        self.drop_path1 = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()
        self.norm2 = norm_layer(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), drop=proj_drop)
        self.drop_path2 = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q, k, v = self.qkv(self.norm1(x)).chunk(3, dim=-1)
        groups = len(self.attns)
        y = torch.cat(
            [attn(*qkv) for attn, *qkv in zip(self.attns, q.chunk(groups, -1), k.chunk(groups, -1), v.chunk(groups, -1))],
            dim=-1,
        )
        x = x + self.drop_path1(self.proj(y))
        return x + self.drop_path2(self.mlp(self.norm2(x)))


class CSWinStage(nn.Module):
    def __init__(self, in_dim: int, dim: int, depth: int, downsample: bool, drop_path: Sequence[float], norm_layer, **block_kwargs):
        super().__init__()
        self.downsample = MergeBlock(in_dim, dim, norm_layer) if downsample else nn.Identity()
        self.blocks = nn.ModuleList(
            CSWinBlock(dim, drop_path=drop_path[i], norm_layer=norm_layer, **block_kwargs) for i in range(depth)
        )
        self.grad_checkpointing = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.downsample(x)
        return run_blocks(self.blocks, x, grad_checkpointing=self.grad_checkpointing)


class SlabCSWinTransformer(ReparameterizableMixin, HeadModuleMixin, StagedBackboneMixin, nn.Module):
    """CSWin with progressive RepBN norms; stages marked 'L' in ``attn_types`` use global SLA."""

    def __init__(
        self,
        img_size: Union[int, Tuple[int, int]] = 224,
        in_chans: int = 3,
        num_classes: int = 1000,
        global_pool: str = "avg",
        embed_dim: int = 64,
        depths: Sequence[int] = (2, 4, 18, 1),
        num_heads: Sequence[int] = (2, 4, 8, 16),
        split_sizes: Sequence[int] = (1, 2, 7, 7),
        attn_types: str = "LLSS",
        mlp_ratio: float = 4.0,
        qkv_bias: bool = True,
        kernel_size: int = 5,
        drop_rate: float = 0.0,
        proj_drop_rate: float = 0.0,
        attn_drop_rate: float = 0.0,
        drop_path_rate: float = 0.1,
        norm_layer: Callable[[int], nn.Module] = partial(MapProgressiveRepBN, step=120000, ln_eps=1e-5),
    ):
        super().__init__()
        if not len(depths) == len(num_heads) == len(split_sizes) == len(attn_types) or set(attn_types) - {"L", "S"}:
            raise ValueError("depths, num_heads, split_sizes and attn_types ('L' or 'S') need one entry per stage")
        # img_size is the training resolution: it sizes the SLA positional encodings; any input size runs.
        self.img_size = to_2tuple(img_size)
        self.in_chans = in_chans
        self.num_classes = num_classes
        self.output_fmt = "NHWC"
        num_stages = len(depths)
        dims = [embed_dim * 2**i for i in range(num_stages)]
        self.num_features = self.head_hidden_size = dims[-1]
        # stage map sizes for img_size: the stem conv (7, stride 4, pad 2), then the stride-2 merges
        grid = tuple((s - 3) // 4 + 1 for s in self.img_size)

        self.stem = ConvEmbed(in_chans, embed_dim, 7, 4, 2, norm_layer)
        dpr = calculate_drop_path_rates(drop_path_rate, list(depths), stagewise=True)
        self.stages = nn.Sequential()
        self.feature_info = []
        for i in range(num_stages):
            if attn_types[i] == "L":
                attn = "linear"
            else:
                attn = "global" if i == num_stages - 1 else "stripes"
            self.stages.append(
                CSWinStage(
                    dims[i - 1] if i else dims[0], dims[i], depths[i], downsample=i > 0, drop_path=dpr[i],
                    norm_layer=norm_layer, num_heads=num_heads[i], attn=attn, split_size=split_sizes[i],
                    pos_grid=grid, mlp_ratio=mlp_ratio, qkv_bias=qkv_bias, kernel_size=kernel_size,
                    proj_drop=proj_drop_rate, attn_drop=attn_drop_rate,
                )
            )
            self.feature_info.append(dict(num_chs=dims[i], reduction=4 * 2**i, module=f"stages.{i}"))
            grid = tuple(math.ceil(s / 2) for s in grid)
        self.norm = norm_layer(self.num_features)
        self.head = ClassifierHead(
            self.num_features, num_classes, pool_type=global_pool, drop_rate=drop_rate, input_fmt="NHWC"
        )
        self.apply(init_linear_weights)

    @torch.jit.ignore
    def no_weight_decay(self) -> set:
        return set()

    @torch.jit.ignore
    def group_matcher(self, coarse: bool = False) -> dict:
        return dict(
            stem=r"^stem",
            blocks=r"^stages\.(\d+)"
            if coarse
            else [(r"^stages\.(\d+)\.downsample", (0,)), (r"^stages\.(\d+)\.blocks\.(\d+)", None), (r"^norm", (99999,))],
        )

    def _stem(self, x: torch.Tensor) -> torch.Tensor:
        # the 7x7 stride-4 stem with padding 2 needs at least 3 pixels a side
        check_image_input(x, self.in_chans, 3, type(self).__name__)
        return self.stem(x)

    @torch.no_grad()
    def reparameterize(self) -> None:
        """Fold every eval RepBN away for deployment; outputs stay equal, the model becomes eval-only.

        stem / merge norms -> their conv; norm1 -> qkv (the stripes pad q, k, v after qkv, so the
        fold is exact); norm2 -> fc1; the final norm -> the classifier (it commutes with the mean
        pool), or an affine map when there is none.  After this, ``forward_features`` returns
        features before the folded final norm.
        """
        self.eval()
        fold_norm(self.stem, "norm", after=self.stem.conv)
        for stage in self.stages:
            if isinstance(stage.downsample, MergeBlock):
                fold_norm(stage.downsample, "norm", after=stage.downsample.conv)
            for block in stage.blocks:
                fold_norm(block, "norm1", into=[block.qkv])
                fold_norm(block, "norm2", into=[block.mlp.fc1])
        fold_norm(self, "norm", into=[self.head.fc] if isinstance(self.head.fc, nn.Linear) else [])
        self.reparameterized = True


_AUTHORS_KEYS = (
    (r"^stage1_conv_embed\.0\.", "stem.conv."),
    (r"^stage1_conv_embed\.2\.", "stem.norm."),
    (r"^stage(\d)\.", lambda m: f"stages.{int(m.group(1)) - 1}.blocks."),
    (r"^merge(\d)\.", lambda m: f"stages.{m.group(1)}.downsample."),
    (r"^head\.(weight|bias)$", r"head.fc.\1"),
)


def checkpoint_filter_fn(state_dict, model: SlabCSWinTransformer) -> dict:
    """Load the authors' SLAB-CSWin checkpoints (and vitzoo's own).

    Renames the authors' modules to vitzoo's layout, drops the SLA's unused ``scale`` parameter, and
    resizes the SLA positional encodings (learned on the square maps of a 224 image, bilinear) when
    the model's ``img_size`` gives other maps.
    """
    state_dict = unwrap_state_dict(state_dict)
    params = dict(model.named_parameters())
    out = {}
    for key, value in state_dict.items():
        for pattern, repl in _AUTHORS_KEYS:
            key = re.sub(pattern, repl, key)
        if re.search(r"\.attns\.\d+\.scale$", key):
            continue
        if key.endswith("positional_encoding") and key in params and value.shape != params[key].shape:
            side = math.isqrt(value.shape[1])
            if side * side != value.shape[1]:
                raise ValueError(f"{key} has {value.shape[1]} tokens, not a square map to resize")
            pos_grid = model.get_submodule(key[: -len(".positional_encoding")]).pos_grid
            value = resize_grid_encoding(value, (side, side), pos_grid)
        out[key] = value
    return out


def _create(variant: str, pretrained: bool = False, **kwargs) -> SlabCSWinTransformer:
    return build_model(SlabCSWinTransformer, variant, pretrained, checkpoint_filter_fn, **kwargs)


def _cfg(url: str = "", **kwargs) -> dict:
    return _slab_cfg(url, pool_size=(7, 7), first_conv="stem.conv", classifier="head.fc", **kwargs)


default_cfgs = generate_default_cfgs(
    {
        "slab_cswin_tiny.in1k": _cfg(f"{_RELEASE}/slab_cswin_tiny.pth"),
        "slab_cswin_small": _cfg(notes=_NO_WEIGHTS),
    }
)


@register_model
def slab_cswin_tiny(pretrained: bool = False, **kwargs) -> SlabCSWinTransformer:
    args = dict(embed_dim=64, depths=(2, 4, 18, 1), num_heads=(2, 4, 8, 16), drop_path_rate=0.1)
    return _create("slab_cswin_tiny", pretrained, **dict(args, **kwargs))


@register_model
def slab_cswin_small(pretrained: bool = False, **kwargs) -> SlabCSWinTransformer:
    args = dict(embed_dim=64, depths=(2, 4, 32, 2), num_heads=(2, 4, 8, 16), drop_path_rate=0.3)
    return _create("slab_cswin_small", pretrained, **dict(args, **kwargs))
