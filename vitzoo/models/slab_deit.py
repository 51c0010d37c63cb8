"""SLAB-DeiT and the PRepBN DeiT baselines, exact to xinghaochen/SLAB (``classification/models``).

Paper: "SLAB: Efficient Transformers with Simplified Linear Attention and Progressive Re-parameterized
Batch Normalization" (Guo et al., ICML 2024).

SLAB swaps two parts of a plain ViT/DeiT block:
* every LayerNorm becomes a progressive re-parameterised BatchNorm (:class:`ProgressiveRepBN`, the
  authors' ``LinearNorm``): LayerNorm early in training, RepBN (BatchNorm + ``alpha * x``) by the
  end, so that inference has only per-channel affine maps, which :meth:`reparameterize` folds into the
  neighbouring linear layers;
* softmax attention becomes simplified linear attention (SLA): ReLU feature maps for q and k (k with a
  learned per-token positional encoding), linear-cost attention, plus one depthwise convolution of v
  shared by all heads.

SLAB-DeiT has no class token in its forward (the authors' checkpoint carries an unused ``cls_token``,
dropped on load) and pools the mean of the normalised tokens.  The PRepBN baselines keep DeiT's softmax
attention and class-token pooling and only replace the norms (plain RepBN for the tiny model, the
progressive norm for the small one, as the authors' ``deit.py`` builds them).

Any input size runs: the image is padded to a multiple of the patch size, and the position embedding
and every SLA positional encoding, learned on the 14x14 grid of a 224 image, are resized to the token
grid (bilinear, as the authors' PVT resizes its position embeddings).

The SLAB PVT and Swin models reuse this module's :class:`LinearAttention` and :class:`Block`; the
mechanics every SLAB model shares live in :mod:`vitzoo.layers` (``prepbn``, ``linear_attention``,
``checkpointing``).
"""
from __future__ import annotations

from functools import partial
from typing import Callable, List, Optional, Tuple, Union

import torch
import torch.nn as nn
from timm.layers import DropPath, Mlp, PatchEmbed, calculate_drop_path_rates, resample_abs_pos_embed, to_2tuple, trunc_normal_
from timm.models import register_model
from timm.models._features import feature_take_indices
from timm.models.vision_transformer import Attention

from ..checkpoint import unwrap_state_dict
from ..layers import check_image_input
from ..layers.checkpointing import checkpoint_block, run_blocks
from ..layers.linear_attention import Grid, resize_grid_encoding, sla_mix
from ..layers.prepbn import ProgressiveRepBN, ReparameterizableMixin, RepBN, fold_norm
from ._builder import build_model, generate_default_cfgs
from ._contract import BlocksMixin, LinearHeadMixin, check_output_fmt, init_linear_weights

__all__ = [
    "SlabDeiT",
    "checkpoint_filter_fn",
    "LinearAttention",
    "Block",
]

class LinearAttention(nn.Module):
    """SLAB's simplified linear attention (SLA) over all tokens of a ``grid``.

    ``fused_qkv``: one qkv projection (DeiT) or separate q and kv projections (PVT), as the authors name
    them; the token mixing is :func:`sla_mix`.
    """

    def __init__(
        self, dim: int, num_heads: int, pos_grid: Grid, qkv_bias: bool = True, kernel_size: int = 5,
        proj_drop: float = 0.0, fused_qkv: bool = True,
    ):
        super().__init__()
        head_dim = dim // num_heads
        self.num_heads = num_heads
        self.pos_grid = pos_grid
        self.fused_qkv = fused_qkv
        if fused_qkv:
            self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        else:
            self.q = nn.Linear(dim, dim, bias=qkv_bias)
            self.kv = nn.Linear(dim, dim * 2, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(proj_drop)
        self.dwc = nn.Conv2d(head_dim, head_dim, kernel_size, padding=kernel_size // 2, groups=head_dim)
        self.positional_encoding = nn.Parameter(torch.zeros(1, pos_grid[0] * pos_grid[1], dim))

    def forward(self, x: torch.Tensor, grid: Grid) -> torch.Tensor:
        if self.fused_qkv:
            q, k, v = self.qkv(x).chunk(3, dim=-1)
        else:
            q = self.q(x)
            k, v = self.kv(x).chunk(2, dim=-1)
        x = sla_mix(q, k, v, self.positional_encoding, self.pos_grid, self.dwc, self.num_heads, grid)
        return self.proj_drop(self.proj(x))


class Block(nn.Module):
    """Pre-norm transformer block with SLA (``pos_grid`` given) or DeiT's softmax attention."""

    def __init__(
        self,
        dim: int,
        num_heads: int,
        mlp_ratio: float = 4.0,
        qkv_bias: bool = True,
        pos_grid: Optional[Grid] = None,
        kernel_size: int = 5,
        proj_drop: float = 0.0,
        attn_drop: float = 0.0,
        drop_path: float = 0.0,
        norm_layer: Callable[[int], nn.Module] = RepBN,
    ):
        super().__init__()
        self.linear_attention = pos_grid is not None
        self.norm1 = norm_layer(dim)
        if self.linear_attention:
            self.attn = LinearAttention(dim, num_heads, pos_grid, qkv_bias, kernel_size, proj_drop)
        else:
            self.attn = Attention(dim, num_heads, qkv_bias=qkv_bias, attn_drop=attn_drop, proj_drop=proj_drop)
        self.drop_path1 = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()
        self.norm2 = norm_layer(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), drop=proj_drop)
        self.drop_path2 = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()

    def forward(self, x: torch.Tensor, grid: Grid) -> torch.Tensor:
        y = self.norm1(x)
        x = x + self.drop_path1(self.attn(y, grid) if self.linear_attention else self.attn(y))
        return x + self.drop_path2(self.mlp(self.norm2(x)))


class SlabDeiT(ReparameterizableMixin, LinearHeadMixin, BlocksMixin, nn.Module):
    """DeiT with (progressive) RepBN norms and, with ``linear_attention=True``, SLA (SLAB-DeiT)."""

    pool_types = ("avg", "token", "")

    def __init__(
        self,
        img_size: Union[int, Grid] = 224,
        patch_size: int = 16,
        in_chans: int = 3,
        num_classes: int = 1000,
        global_pool: str = "avg",
        class_token: bool = False,
        embed_dim: int = 192,
        depth: int = 12,
        num_heads: int = 3,
        mlp_ratio: float = 4.0,
        qkv_bias: bool = True,
        linear_attention: bool = True,
        kernel_size: int = 5,
        drop_rate: float = 0.0,
        proj_drop_rate: float = 0.0,
        attn_drop_rate: float = 0.0,
        drop_path_rate: float = 0.0,
        norm_layer: Callable[[int], nn.Module] = RepBN,
    ):
        super().__init__()
        self.num_prefix_tokens = 1 if class_token else 0
        self.global_pool = self._checked_pool(global_pool)
        self.img_size = to_2tuple(img_size)
        self.patch_size = patch_size
        self.in_chans = in_chans
        self.num_classes = num_classes
        self.num_features = self.head_hidden_size = self.embed_dim = embed_dim
        # The grid the position embedding (and every SLA positional encoding) is learned on.
        self.pos_grid = (self.img_size[0] // patch_size, self.img_size[1] // patch_size)

        self.patch_embed = PatchEmbed(
            self.img_size, patch_size, in_chans, embed_dim, strict_img_size=False, dynamic_img_pad=True
        )
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim)) if class_token else None
        num_pos = self.pos_grid[0] * self.pos_grid[1] + self.num_prefix_tokens
        self.pos_embed = nn.Parameter(torch.zeros(1, num_pos, embed_dim))
        self.pos_drop = nn.Dropout(drop_rate)
        dpr = calculate_drop_path_rates(drop_path_rate, depth)
        self.blocks = nn.ModuleList(
            Block(
                embed_dim, num_heads, mlp_ratio, qkv_bias,
                pos_grid=self.pos_grid if linear_attention else None, kernel_size=kernel_size,
                proj_drop=proj_drop_rate, attn_drop=attn_drop_rate, drop_path=dpr[i], norm_layer=norm_layer,
            )
            for i in range(depth)
        )
        self.feature_info = [dict(num_chs=embed_dim, reduction=patch_size, module=f"blocks.{i}") for i in range(depth)]
        self.norm = norm_layer(embed_dim)
        self.head_drop = nn.Dropout(drop_rate)
        self.head = nn.Linear(embed_dim, num_classes) if num_classes > 0 else nn.Identity()
        self.grad_checkpointing = False

        trunc_normal_(self.pos_embed, std=0.02)
        if self.cls_token is not None:
            trunc_normal_(self.cls_token, std=0.02)
        self.apply(init_linear_weights)

    @torch.jit.ignore
    def no_weight_decay(self) -> set:
        return {"pos_embed", "cls_token"} if self.cls_token is not None else {"pos_embed"}

    @torch.jit.ignore
    def group_matcher(self, coarse: bool = False) -> dict:
        return dict(stem=r"^cls_token|pos_embed|patch_embed", blocks=[(r"^blocks\.(\d+)", None), (r"^norm", (99999,))])

    def _checked_pool(self, global_pool: str) -> str:
        if global_pool == "token" and not self.num_prefix_tokens:
            raise ValueError(f"global_pool='token' needs a class token: create {type(self).__name__} with class_token=True")
        return super()._checked_pool(global_pool)

    def embed(self, x: torch.Tensor) -> Tuple[torch.Tensor, Grid]:
        """Tokens ((B, [1 +] H*W, C), with position embedding) and the token grid (H, W)."""
        check_image_input(x, self.in_chans, self.patch_size, type(self).__name__)
        grid = self.patch_embed.dynamic_feat_size(x.shape[2:])
        x = self.patch_embed(x)  # pads the image to a patch multiple
        if self.cls_token is not None:
            x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1)
        pos = self.pos_embed
        if grid != self.pos_grid:
            pos = resample_abs_pos_embed(
                pos, new_size=list(grid), old_size=list(self.pos_grid), num_prefix_tokens=self.num_prefix_tokens,
                interpolation="bilinear", antialias=False,
            )
        return self.pos_drop(x + pos), grid

    def forward_intermediates(
        self,
        x: torch.Tensor,
        indices: Optional[Union[int, List[int]]] = None,
        norm: bool = False,
        stop_early: bool = False,
        output_fmt: str = "NCHW",
        intermediates_only: bool = False,
    ) -> Union[List[torch.Tensor], Tuple[torch.Tensor, List[torch.Tensor]]]:
        """Patch tokens after the selected blocks as NCHW maps at stride 16 (or NLC)."""
        check_output_fmt(output_fmt, ("NCHW", "NLC"))
        take_indices, max_index = feature_take_indices(len(self.blocks), indices)
        x, grid = self.embed(x)
        blocks = self.blocks[: max_index + 1] if stop_early else self.blocks
        intermediates = []
        for i, block in enumerate(blocks):
            x = checkpoint_block(block, x, grid) if self.grad_checkpointing and torch.is_grad_enabled() else block(x, grid)
            if i in take_indices:
                tokens = (self.norm(x) if norm else x)[:, self.num_prefix_tokens:]
                if output_fmt == "NCHW":
                    tokens = tokens.transpose(1, 2).reshape(x.shape[0], -1, *grid).contiguous()
                intermediates.append(tokens)
        if intermediates_only:
            return intermediates
        return self.norm(x), intermediates

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        x, grid = self.embed(x)
        x = run_blocks(self.blocks, x, grid, grad_checkpointing=self.grad_checkpointing)
        return self.norm(x)

    @torch.no_grad()
    def reparameterize(self) -> None:
        """Fold every eval RepBN into a linear layer for deployment (then the model is eval-only).

        Block norms go into qkv / fc1; the final norm, a per-channel map that commutes with the token
        pooling, goes into the head (into an affine map when there is no classifier).  Outputs stay
        equal; ``forward_features`` then returns the tokens before that affine map.
        """
        self.eval()
        for block in self.blocks:
            fold_norm(block, "norm1", into=[block.attn.qkv])
            fold_norm(block, "norm2", into=[block.mlp.fc1])
        fold_norm(self, "norm", into=[self.head] if isinstance(self.head, nn.Linear) else [])
        self.reparameterized = True


def checkpoint_filter_fn(state_dict, model: SlabDeiT) -> dict:
    """Load the authors' SLAB-DeiT / PRepBN-DeiT checkpoints (and vitzoo's own).

    The keys are the authors'; SLAB-DeiT's unused ``cls_token`` is dropped, and the position embedding
    and the SLA positional encodings are resized (bilinear) when the model's grid differs.
    """
    state_dict = unwrap_state_dict(state_dict)
    expected = model.state_dict()
    out = {}
    for key, value in state_dict.items():
        if key == "cls_token" and model.cls_token is None:
            continue
        if key in expected and value.ndim == 3 and value.shape != expected[key].shape:
            if key == "pos_embed":
                prefix = model.num_prefix_tokens
                side = int(round((value.shape[1] - prefix) ** 0.5))
                value = resample_abs_pos_embed(
                    value, new_size=list(model.pos_grid), old_size=[side, side], num_prefix_tokens=prefix,
                    interpolation="bilinear", antialias=False,
                )
            elif key.endswith("positional_encoding"):
                side = int(round(value.shape[1] ** 0.5))
                value = resize_grid_encoding(value, (side, side), model.pos_grid)
        out[key] = value
    return out


def _create(variant: str, pretrained: bool = False, **kwargs) -> SlabDeiT:
    return build_model(SlabDeiT, variant, pretrained, checkpoint_filter_fn, default_out_indices=3, **kwargs)


_RELEASE = "https://github.com/xinghaochen/SLAB/releases/download/ckpts"


def _cfg(url: str = "", **kwargs) -> dict:
    return {
        "url": url,
        "num_classes": 1000,
        "input_size": (3, 224, 224),
        "pool_size": None,
        "crop_pct": 0.875,
        "interpolation": "bicubic",
        "mean": (0.485, 0.456, 0.406),
        "std": (0.229, 0.224, 0.225),
        "first_conv": "patch_embed.proj",
        "classifier": "head",
        "license": "unknown",
        "origin_url": "https://github.com/xinghaochen/SLAB",
        "paper_ids": "arXiv:2405.11582",
        "paper_name": "SLAB: Efficient Transformers with Simplified Linear Attention and Progressive "
                      "Re-parameterized Batch Normalization",
        "notes": ("The authors' repository has no license file.",),
        **kwargs,
    }


default_cfgs = generate_default_cfgs(
    {
        "slab_deit_tiny.in1k": _cfg(f"{_RELEASE}/slab_deit_tiny.pth"),
        "slab_deit_small.in1k": _cfg(f"{_RELEASE}/slab_deit_small.pth"),
        "slab_deit_tiny_prepbn.in1k": _cfg(f"{_RELEASE}/deit_tiny_prepbn.pth"),
        "slab_deit_small_prepbn.in1k": _cfg(f"{_RELEASE}/deit_small_prepbn.pth"),
    }
)

# The authors' LinearNorm schedules: 60000 steps for SLAB-DeiT, the default 300000 for deit_s_prepbn.
_slab_norm = partial(ProgressiveRepBN, step=60000)
_TINY = dict(embed_dim=192, depth=12, num_heads=3)
_SMALL = dict(embed_dim=384, depth=12, num_heads=6)
_PREPBN = dict(linear_attention=False, class_token=True, global_pool="token")


@register_model
def slab_deit_tiny(pretrained: bool = False, **kwargs) -> SlabDeiT:
    return _create("slab_deit_tiny", pretrained, **dict(dict(_TINY, norm_layer=_slab_norm), **kwargs))


@register_model
def slab_deit_small(pretrained: bool = False, **kwargs) -> SlabDeiT:
    return _create("slab_deit_small", pretrained, **dict(dict(_SMALL, norm_layer=_slab_norm), **kwargs))


@register_model
def slab_deit_tiny_prepbn(pretrained: bool = False, **kwargs) -> SlabDeiT:
    """PRepBN DeiT-T: softmax attention, every norm a plain RepBN (no LayerNorm phase)."""
    return _create("slab_deit_tiny_prepbn", pretrained, **dict(dict(_TINY, **_PREPBN, norm_layer=RepBN), **kwargs))


@register_model
def slab_deit_small_prepbn(pretrained: bool = False, **kwargs) -> SlabDeiT:
    """PRepBN DeiT-S: softmax attention, progressive norms with the default 300000-step schedule."""
    args = dict(_SMALL, **_PREPBN, norm_layer=ProgressiveRepBN)
    return _create("slab_deit_small_prepbn", pretrained, **dict(args, **kwargs))
