"""Swin Transformer (v1), exact to microsoft/Swin-Transformer, ready for dense inputs.

Paper: "Swin Transformer: Hierarchical Vision Transformer using Shifted Windows" (Liu et al., ICCV 2021).

Differences from the authors' classification code, none of which change its outputs:
* Any input size: the image is padded to a multiple of the patch size, each block pads its map to a
  window multiple (the authors' detection backbone does the same), patch merging pads odd sides.
* Window and shift are decided from the actual stage size with the authors' rule (min(H, W) <=
  window -> one window of min(H, W), no shift), not fixed at construction.
* The shift mask and relative position index are computed, not stored; the whole shifted-window
  attention is one op, :func:`vitzoo.ops.window_attention` (torch reference or fused Triton kernel).

timm owns the ``swin_*`` names, so every model here is ``vz_swin_*``.  The state dict layout is
timm's (patch merging at the start of stages 1-3, ``head.fc``); ``checkpoint_filter_fn`` converts the
authors' layout (merging at the end of stages 0-2, ``head``) and accepts timm's own.
"""
from __future__ import annotations

import re
from typing import Callable, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from timm.layers import ClassifierHead, DropPath, Mlp, calculate_drop_path_rates, resize_rel_pos_bias_table, trunc_normal_
from timm.models import register_model

from ..checkpoint import unwrap_state_dict
from ..layers import check_image_input
from ..layers.checkpointing import run_blocks
from ..layers.window import effective_window
from ..ops import window_attention
from ._builder import build_model, generate_default_cfgs
from ._contract import HeadModuleMixin, init_linear_weights
from ._staged import StagedBackboneMixin

__all__ = ["SwinTransformer", "checkpoint_filter_fn"]


class PatchEmbed(nn.Module):
    """Non-overlapping patch projection to a channels-last map; pads the image to a patch multiple."""

    def __init__(self, patch_size: int = 4, in_chans: int = 3, embed_dim: int = 96, norm_layer=nn.LayerNorm):
        super().__init__()
        self.patch_size = patch_size
        self.proj = nn.Conv2d(in_chans, embed_dim, kernel_size=patch_size, stride=patch_size)
        self.norm = norm_layer(embed_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        H, W = x.shape[-2:]
        p = self.patch_size
        x = F.pad(x, (0, (-W) % p, 0, (-H) % p))
        return self.norm(self.proj(x).permute(0, 2, 3, 1))


class PatchMerging(nn.Module):
    """2x2 neighbourhood -> channels (authors' order: (0,0), (1,0), (0,1), (1,1)), LayerNorm, linear 4C -> 2C."""

    def __init__(self, dim: int, out_dim: int, norm_layer=nn.LayerNorm):
        super().__init__()
        self.norm = norm_layer(4 * dim)
        self.reduction = nn.Linear(4 * dim, out_dim, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, H, W, C = x.shape
        x = F.pad(x, (0, 0, 0, W % 2, 0, H % 2))
        H, W = x.shape[1:3]
        # (B, H/2, row-in-pair, W/2, col-in-pair, C) -> channel groups ordered col-major: (0,0),(1,0),(0,1),(1,1)
        x = x.view(B, H // 2, 2, W // 2, 2, C).permute(0, 1, 3, 4, 2, 5).reshape(B, H // 2, W // 2, 4 * C)
        return self.reduction(self.norm(x))


class WindowAttention(nn.Module):
    """Multi-head self-attention inside (shifted) windows of a channels-last map, with a learned relative
    position bias; the bias table is sized for ``window_size``, a smaller runtime window uses its centre."""

    def __init__(
        self,
        dim: int,
        num_heads: int,
        window_size: int,
        qkv_bias: bool = True,
        attn_drop: float = 0.0,
        proj_drop: float = 0.0,
    ):
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"dim {dim} is not divisible by num_heads {num_heads}")
        self.dim = dim
        self.num_heads = num_heads
        self.window_size = window_size
        self.relative_position_bias_table = nn.Parameter(torch.zeros((2 * window_size - 1) ** 2, num_heads))
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.attn_drop = attn_drop
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(proj_drop)
        trunc_normal_(self.relative_position_bias_table, std=0.02)

    def forward(self, x: torch.Tensor, window: int, shift: int) -> torch.Tensor:
        """(B, H, W, C) map of any size -> (B, H, W, C); the map is zero-padded to window multiples before qkv."""
        x = window_attention(
            x,
            self.qkv.weight,
            self.qkv.bias,
            self.relative_position_bias_table,
            self.num_heads,
            window,
            shift,
            dropout_p=self.attn_drop if self.training else 0.0,
        )
        return self.proj_drop(self.proj(x))

    def extra_repr(self) -> str:
        return f"dim={self.dim}, window_size={self.window_size}, num_heads={self.num_heads}"


class SwinBlock(nn.Module):
    """Pre-norm block: (shifted) window attention, then MLP; channels-last in and out."""

    def __init__(
        self,
        dim: int,
        num_heads: int,
        window_size: int = 7,
        shift_size: int = 0,
        mlp_ratio: float = 4.0,
        qkv_bias: bool = True,
        proj_drop: float = 0.0,
        attn_drop: float = 0.0,
        drop_path: float = 0.0,
        norm_layer=nn.LayerNorm,
        act_layer=nn.GELU,
    ):
        super().__init__()
        if not 0 <= shift_size < window_size:
            raise ValueError(f"shift_size {shift_size} must be in [0, window_size={window_size})")
        self.window_size = window_size
        self.shift_size = shift_size
        self.norm1 = norm_layer(dim)
        self.attn = WindowAttention(dim, num_heads, window_size, qkv_bias, attn_drop, proj_drop)
        self.drop_path1 = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()
        self.norm2 = norm_layer(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), act_layer=act_layer, drop=proj_drop)
        self.drop_path2 = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()

    def _attend(self, x: torch.Tensor) -> torch.Tensor:
        window, shift = effective_window(x.shape[1], x.shape[2], self.window_size, self.shift_size)
        return self.attn(x, window, shift)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.drop_path1(self._attend(self.norm1(x)))
        return x + self.drop_path2(self.mlp(self.norm2(x)))


class SwinStage(nn.Module):
    def __init__(
        self,
        dim: int,
        out_dim: int,
        depth: int,
        num_heads: int,
        window_size: int,
        downsample: bool,
        drop_path: Sequence[float],
        norm_layer=nn.LayerNorm,
        **block_kwargs,
    ):
        super().__init__()
        self.downsample = PatchMerging(dim, out_dim, norm_layer) if downsample else nn.Identity()
        self.blocks = nn.ModuleList(
            SwinBlock(
                out_dim,
                num_heads,
                window_size,
                shift_size=0 if i % 2 == 0 else window_size // 2,
                drop_path=drop_path[i],
                norm_layer=norm_layer,
                **block_kwargs,
            )
            for i in range(depth)
        )
        self.grad_checkpointing = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.downsample(x)
        return run_blocks(self.blocks, x, grad_checkpointing=self.grad_checkpointing)


class SwinTransformer(HeadModuleMixin, StagedBackboneMixin, nn.Module):
    """Swin Transformer v1 (hierarchical, shifted windows); features are channels-last internally."""

    stages_attr = "layers"

    def __init__(
        self,
        img_size: Union[int, Tuple[int, int]] = 224,
        patch_size: int = 4,
        in_chans: int = 3,
        num_classes: int = 1000,
        global_pool: str = "avg",
        embed_dim: int = 96,
        depths: Sequence[int] = (2, 2, 6, 2),
        num_heads: Sequence[int] = (3, 6, 12, 24),
        window_size: int = 7,
        mlp_ratio: float = 4.0,
        qkv_bias: bool = True,
        drop_rate: float = 0.0,
        proj_drop_rate: float = 0.0,
        attn_drop_rate: float = 0.0,
        drop_path_rate: float = 0.1,
        norm_layer: Callable[..., nn.Module] = nn.LayerNorm,
    ):
        super().__init__()
        if len(depths) != len(num_heads):
            raise ValueError(f"depths {depths} and num_heads {num_heads} need one entry per stage")
        # img_size is the training resolution (kept for the pretrained cfg); any input size runs.
        self.img_size = (img_size, img_size) if isinstance(img_size, int) else tuple(img_size)
        self.patch_size = patch_size
        self.in_chans = in_chans
        self.num_classes = num_classes
        self.window_size = window_size
        self.output_fmt = "NHWC"
        self.num_layers = len(depths)
        dims = [int(embed_dim * 2**i) for i in range(self.num_layers)]
        self.num_features = self.head_hidden_size = dims[-1]

        self.patch_embed = PatchEmbed(patch_size, in_chans, embed_dim, norm_layer)
        dpr = calculate_drop_path_rates(drop_path_rate, list(depths), stagewise=True)  # linear over all blocks
        self.layers = nn.Sequential()
        self.feature_info = []
        for i, depth in enumerate(depths):
            self.layers.append(
                SwinStage(
                    dims[i - 1] if i else dims[0],
                    dims[i],
                    depth,
                    num_heads[i],
                    window_size,
                    downsample=i > 0,
                    drop_path=dpr[i],
                    norm_layer=norm_layer,
                    mlp_ratio=mlp_ratio,
                    qkv_bias=qkv_bias,
                    proj_drop=proj_drop_rate,
                    attn_drop=attn_drop_rate,
                )
            )
            self.feature_info.append(dict(num_chs=dims[i], reduction=patch_size * 2**i, module=f"layers.{i}"))
        self.norm = norm_layer(self.num_features)
        self.head = ClassifierHead(
            self.num_features, num_classes, pool_type=global_pool, drop_rate=drop_rate, input_fmt="NHWC"
        )
        self.apply(init_linear_weights)

    @torch.jit.ignore
    def no_weight_decay(self) -> set:
        return {n for n, _ in self.named_parameters() if "relative_position_bias_table" in n}

    @torch.jit.ignore
    def group_matcher(self, coarse: bool = False) -> dict:
        return dict(
            stem=r"^patch_embed",
            blocks=r"^layers\.(\d+)"
            if coarse
            else [(r"^layers\.(\d+)\.downsample", (0,)), (r"^layers\.(\d+)\.\w+\.(\d+)", None), (r"^norm", (99999,))],
        )

    def _stem(self, x: torch.Tensor) -> torch.Tensor:
        check_image_input(x, self.in_chans, self.patch_size, type(self).__name__)
        return self.patch_embed(x)


def checkpoint_filter_fn(state_dict, model: SwinTransformer) -> dict:
    """Convert the authors' (or timm's) Swin checkpoint to vitzoo's layout.

    Authors' layout: patch merging at the end of ``layers.{i}`` (i < 3) and a bare ``head``; their
    ``relative_position_index`` / ``attn_mask`` buffers are recomputed here, so they are dropped.
    Relative position bias tables are resized (bicubic) when the model's window differs.
    """
    state_dict = unwrap_state_dict(state_dict)
    authors_layout = "layers.0.downsample.reduction.weight" in state_dict
    out = {}
    for key, value in state_dict.items():
        if key.endswith(("relative_position_index", "attn_mask")):
            continue
        if authors_layout:
            key = re.sub(r"^layers\.(\d+)\.downsample", lambda m: f"layers.{int(m.group(1)) + 1}.downsample", key)
            key = re.sub(r"^head\.(weight|bias)$", r"head.fc.\1", key)
        if key.endswith("relative_position_bias_table"):
            table = model.get_submodule(key[: -len(".relative_position_bias_table")]).relative_position_bias_table
            if value.shape != table.shape:
                window = model.window_size
                value = resize_rel_pos_bias_table(value, new_window_size=(window, window), new_bias_shape=table.shape)
        out[key] = value
    return out


def _create_swin(variant: str, pretrained: bool = False, **kwargs) -> SwinTransformer:
    return build_model(SwinTransformer, variant, pretrained, checkpoint_filter_fn, **kwargs)


_RELEASE = "https://github.com/SwinTransformer/storage/releases/download"


def _cfg(url: str = "", **kwargs) -> dict:
    return {
        "url": url,
        "num_classes": 1000,
        "input_size": (3, 224, 224),
        "pool_size": (7, 7),
        "crop_pct": 0.875,
        "interpolation": "bicubic",
        "mean": (0.485, 0.456, 0.406),
        "std": (0.229, 0.224, 0.225),
        "first_conv": "patch_embed.proj",
        "classifier": "head.fc",
        "license": "mit",
        "origin_url": "https://github.com/microsoft/Swin-Transformer",
        "paper_ids": "arXiv:2103.14030",
        "paper_name": "Swin Transformer: Hierarchical Vision Transformer using Shifted Windows",
        **kwargs,
    }


_384 = dict(input_size=(3, 384, 384), pool_size=(12, 12), crop_pct=1.0)
_22K = dict(num_classes=21841)

default_cfgs = generate_default_cfgs(
    {
        "vz_swin_tiny_patch4_window7_224.ms_in1k": _cfg(f"{_RELEASE}/v1.0.0/swin_tiny_patch4_window7_224.pth"),
        "vz_swin_tiny_patch4_window7_224.ms_in22k_ft_in1k": _cfg(
            f"{_RELEASE}/v1.0.8/swin_tiny_patch4_window7_224_22kto1k_finetune.pth"
        ),
        "vz_swin_tiny_patch4_window7_224.ms_in22k": _cfg(f"{_RELEASE}/v1.0.8/swin_tiny_patch4_window7_224_22k.pth", **_22K),
        "vz_swin_tiny_c24_patch4_window8_256.ms_in1k": _cfg(
            f"{_RELEASE}/v1.0.5/swin_tiny_c24_patch4_window8_256.pth", input_size=(3, 256, 256), pool_size=(8, 8)
        ),
        "vz_swin_small_patch4_window7_224.ms_in1k": _cfg(f"{_RELEASE}/v1.0.0/swin_small_patch4_window7_224.pth"),
        "vz_swin_small_patch4_window7_224.ms_in22k_ft_in1k": _cfg(
            f"{_RELEASE}/v1.0.8/swin_small_patch4_window7_224_22kto1k_finetune.pth"
        ),
        "vz_swin_small_patch4_window7_224.ms_in22k": _cfg(
            f"{_RELEASE}/v1.0.8/swin_small_patch4_window7_224_22k.pth", **_22K
        ),
        "vz_swin_base_patch4_window7_224.ms_in1k": _cfg(f"{_RELEASE}/v1.0.0/swin_base_patch4_window7_224.pth"),
        "vz_swin_base_patch4_window7_224.ms_in22k_ft_in1k": _cfg(
            f"{_RELEASE}/v1.0.0/swin_base_patch4_window7_224_22kto1k.pth"
        ),
        "vz_swin_base_patch4_window7_224.ms_in22k": _cfg(f"{_RELEASE}/v1.0.0/swin_base_patch4_window7_224_22k.pth", **_22K),
        "vz_swin_base_patch4_window12_384.ms_in1k": _cfg(f"{_RELEASE}/v1.0.0/swin_base_patch4_window12_384.pth", **_384),
        "vz_swin_base_patch4_window12_384.ms_in22k_ft_in1k": _cfg(
            f"{_RELEASE}/v1.0.0/swin_base_patch4_window12_384_22kto1k.pth", **_384
        ),
        "vz_swin_base_patch4_window12_384.ms_in22k": _cfg(
            f"{_RELEASE}/v1.0.0/swin_base_patch4_window12_384_22k.pth", **_384, **_22K
        ),
        "vz_swin_large_patch4_window7_224.ms_in22k_ft_in1k": _cfg(
            f"{_RELEASE}/v1.0.0/swin_large_patch4_window7_224_22kto1k.pth"
        ),
        "vz_swin_large_patch4_window7_224.ms_in22k": _cfg(
            f"{_RELEASE}/v1.0.0/swin_large_patch4_window7_224_22k.pth", **_22K
        ),
        "vz_swin_large_patch4_window12_384.ms_in22k_ft_in1k": _cfg(
            f"{_RELEASE}/v1.0.0/swin_large_patch4_window12_384_22kto1k.pth", **_384
        ),
        "vz_swin_large_patch4_window12_384.ms_in22k": _cfg(
            f"{_RELEASE}/v1.0.0/swin_large_patch4_window12_384_22k.pth", **_384, **_22K
        ),
    }
)


@register_model
def vz_swin_tiny_patch4_window7_224(pretrained: bool = False, **kwargs) -> SwinTransformer:
    args = dict(embed_dim=96, depths=(2, 2, 6, 2), num_heads=(3, 6, 12, 24), window_size=7)
    return _create_swin("vz_swin_tiny_patch4_window7_224", pretrained, **dict(args, **kwargs))


@register_model
def vz_swin_tiny_c24_patch4_window8_256(pretrained: bool = False, **kwargs) -> SwinTransformer:
    args = dict(img_size=256, embed_dim=96, depths=(2, 2, 6, 2), num_heads=(4, 8, 16, 32), window_size=8)
    return _create_swin("vz_swin_tiny_c24_patch4_window8_256", pretrained, **dict(args, **kwargs))


@register_model
def vz_swin_small_patch4_window7_224(pretrained: bool = False, **kwargs) -> SwinTransformer:
    args = dict(embed_dim=96, depths=(2, 2, 18, 2), num_heads=(3, 6, 12, 24), window_size=7)
    return _create_swin("vz_swin_small_patch4_window7_224", pretrained, **dict(args, **kwargs))


@register_model
def vz_swin_base_patch4_window7_224(pretrained: bool = False, **kwargs) -> SwinTransformer:
    args = dict(embed_dim=128, depths=(2, 2, 18, 2), num_heads=(4, 8, 16, 32), window_size=7)
    return _create_swin("vz_swin_base_patch4_window7_224", pretrained, **dict(args, **kwargs))


@register_model
def vz_swin_base_patch4_window12_384(pretrained: bool = False, **kwargs) -> SwinTransformer:
    args = dict(img_size=384, embed_dim=128, depths=(2, 2, 18, 2), num_heads=(4, 8, 16, 32), window_size=12)
    return _create_swin("vz_swin_base_patch4_window12_384", pretrained, **dict(args, **kwargs))


@register_model
def vz_swin_large_patch4_window7_224(pretrained: bool = False, **kwargs) -> SwinTransformer:
    args = dict(embed_dim=192, depths=(2, 2, 18, 2), num_heads=(6, 12, 24, 48), window_size=7)
    return _create_swin("vz_swin_large_patch4_window7_224", pretrained, **dict(args, **kwargs))


@register_model
def vz_swin_large_patch4_window12_384(pretrained: bool = False, **kwargs) -> SwinTransformer:
    args = dict(img_size=384, embed_dim=192, depths=(2, 2, 18, 2), num_heads=(6, 12, 24, 48), window_size=12)
    return _create_swin("vz_swin_large_patch4_window12_384", pretrained, **dict(args, **kwargs))
