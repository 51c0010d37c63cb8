"""SOFT and SOFT-Norm (softmax-free transformers), exact to fudan-zvg/SOFT in pure PyTorch.

Papers: "SOFT: Softmax-free Transformer with Linear Complexity" (Lu et al., NeurIPS 2021) and
"Softmax-free Linear Transformers" (Lu et al., IJCV 2024; the normalised SOFT-Norm).

Four stages at strides 4, 8, 16, 32, each a convolutional patch embedding (conv-BN-ReLU; three of them
in the first) plus a learned position embedding.  Stages 1-3 use softmax-free attention: queries are
also the keys; ``m`` landmarks come from a strided conv over the query map (LayerNorm + GELU), and the
attention is ``K(Q, L) K(L, L)^+ K(L, Q) V`` with the Gaussian kernel ``K(a, b) = exp(-|a - b|^2 / 2)``
and the pseudo-inverse from Newton iterations (:mod:`vitzoo.layers.newton_inverse`), plus a depthwise
conv on V.  Their blocks are post-norm (``x = norm(x + f(x))``) with a tanh-GELU MLP of ratio 4 whatever
the variant's ``mlp_ratios`` say, as the authors' code builds them.  Stage 4 prepends a cls token and
uses pre-norm softmax blocks; the final norm's cls token goes to the head.

SOFT-Norm (``soft_norm_*``) differs only in the inverse: ``D^-1/2 K(L, L)^-1 D^-1/2`` with ``D`` the
row sums, from a batch-wide Newton scale without the ``+0.01 I`` ridge.

The authors need a CUDA extension for the exact ``sum_c (q_c - k_c)^2`` kernel; their ``torch`` path
computes the same distances as ``|q|^2 + |k|^2 - 2 q.k``, which is what runs here on every device.  The
kernel matrices and their inverse are computed in float32 with autocast off.

Any input of at least 29x29 pixels runs (the stage-1 landmark conv needs an 8x8 token grid).  Landmark
convs drop the last rows/columns that do not fill a stride, as the authors' do.  Position embeddings are
learned on the grids of ``img_size`` and resized bilinearly to the actual grid at run time (the authors'
rule); ``checkpoint_filter_fn`` resizes them on load when ``img_size`` differs.

vitzoo groups each stage as ``stages.{i}`` (``patch_embed``, ``pos_embed``, ``cls_token``, ``blocks``);
``checkpoint_filter_fn`` converts the authors' flat layout (``patch_embed1``, ``block1.0.att.mha.W_q``).
"""
from __future__ import annotations

import math
import re
from functools import partial
from typing import List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from timm.layers import (
    DropPath,
    Mlp,
    calculate_drop_path_rates,
    global_pool_nlc,
    resample_abs_pos_embed,
    to_2tuple,
    trunc_normal_,
)
from timm.models import register_model
from timm.models._features import feature_take_indices
from timm.models.pvt_v2 import Attention as SoftmaxAttention

from ..checkpoint import CheckpointError, unwrap_state_dict
from ..hub import NO_WEIGHTS_NOTE
from ..layers import check_image_input
from ..layers.checkpointing import run_blocks
from ..layers.newton_inverse import newton_inverse, newton_inverse_shared_scale
from ._builder import build_model, generate_default_cfgs
from ._contract import LinearHeadMixin, check_output_fmt, init_linear_weights
from ._staged import StagesMixin

__all__ = ["SoftmaxFreeVisionTransformer", "checkpoint_filter_fn"]

Grid = Tuple[int, int]

# Smallest image side: the stride-4 grid must hold one 8x8 landmark window (ceil(29 / 4) = 8).
MIN_IMAGE_SIZE = 29


def _tokens_to_nchw(x: torch.Tensor, grid: Grid) -> torch.Tensor:
    return x.transpose(1, 2).reshape(x.shape[0], -1, *grid)


def _resize_pos_embed(pos: torch.Tensor, old_grid: Grid, new_grid: Grid, num_prefix_tokens: int) -> torch.Tensor:
    """Bilinear, align_corners=False, no antialias: the authors' run-time resize of their embeddings."""
    return resample_abs_pos_embed(
        pos, new_size=list(new_grid), old_size=list(old_grid), num_prefix_tokens=num_prefix_tokens,
        interpolation="bilinear", antialias=False,
    )


def gaussian_kernel(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``exp(-|a_i - b_j|^2 / 2)`` for (..., N, d) ``a`` and (..., M, d) ``b``, in ``a``'s dtype."""
    sq_dist = a.pow(2).sum(-1, keepdim=True) + b.pow(2).sum(-1).unsqueeze(-2) - 2 * (a @ b.transpose(-1, -2))
    return torch.exp(-sq_dist / 2)


class ConvPatchEmbed(nn.Module):
    """Stride-2 3x3 conv-BN-ReLU (stage 1: stride 2, 1 and 2 through 32 channels): a map -> tokens and grid."""

    def __init__(self, in_chans: int, embed_dim: int, deep: bool):
        super().__init__()

        def conv_bn_relu(cin, cout, stride):
            return [nn.Conv2d(cin, cout, 3, stride, 1), nn.BatchNorm2d(cout), nn.ReLU()]

        layers = (
            conv_bn_relu(in_chans, 32, 2) + conv_bn_relu(32, 32, 1) + conv_bn_relu(32, embed_dim, 2)
            if deep
            else conv_bn_relu(in_chans, embed_dim, 2)
        )
        self.proj = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, Grid]:
        x = self.proj(x)
        return x.flatten(2).transpose(1, 2), (x.shape[2], x.shape[3])


class SoftmaxFreeAttention(nn.Module):
    """Gaussian-kernel attention through conv landmarks and a Newton pseudo-inverse, plus a conv on V."""

    def __init__(
        self,
        dim: int,
        num_heads: int,
        landmark_stride: int,
        v_conv_size: int,
        newton_iters: int = 20,
        normalized: bool = False,
    ):
        super().__init__()
        if landmark_stride < 2:
            raise ValueError(f"landmark_stride must be >= 2 (a strided conv), got {landmark_stride}")
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.newton_iters = newton_iters
        self.normalized = normalized
        self.q = nn.Linear(dim, dim)
        self.v = nn.Linear(dim, dim)
        # One landmark conv for all heads, over each head's (head_dim, H, W) query map.
        self.landmark_conv = nn.Conv2d(self.head_dim, self.head_dim, landmark_stride, landmark_stride, bias=False)
        self.landmark_norm = nn.LayerNorm(self.head_dim)
        self.landmark_act = nn.GELU()
        # One filter per head, shared by the head's channels.
        self.v_conv = nn.Conv2d(
            num_heads, num_heads, v_conv_size, padding=v_conv_size // 2, groups=num_heads, bias=False
        )
        self.proj = nn.Linear(dim, dim)

    def _landmarks(self, q: torch.Tensor, grid: Grid) -> torch.Tensor:
        B, nh, _, hd = q.shape
        x = self.landmark_conv(q.reshape(B * nh, *grid, hd).permute(0, 3, 1, 2))
        x = x.flatten(2).transpose(1, 2).reshape(B, nh, -1, hd)
        return self.landmark_act(self.landmark_norm(x))

    def _kernel_mix(self, q: torch.Tensor, landmarks: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        """``K(Q, L) inv(K(L, L)) K(L, Q) V`` in float32 (autocast off), returned in float32."""
        dtype = torch.promote_types(q.dtype, torch.float32)
        with torch.autocast(device_type=q.device.type, enabled=False):
            q, landmarks, v = q.to(dtype), landmarks.to(dtype), v.to(dtype)
            to_landmarks = gaussian_kernel(q, landmarks)
            among_landmarks = gaussian_kernel(landmarks, landmarks)
            if self.normalized:
                d = among_landmarks.sum(-1, keepdim=True).rsqrt()
                inv = d * newton_inverse_shared_scale(among_landmarks, self.newton_iters) * d.transpose(-1, -2)
            else:
                inv = newton_inverse(among_landmarks, self.newton_iters)
            return (to_landmarks @ inv) @ (to_landmarks.transpose(-1, -2) @ v)

    def _conv_v(self, v: torch.Tensor, grid: Grid) -> torch.Tensor:
        B, nh, N, hd = v.shape
        x = v.reshape(B, nh, *grid, hd).permute(0, 4, 1, 2, 3).reshape(B * hd, nh, *grid)
        return self.v_conv(x).reshape(B, hd, nh, N).permute(0, 2, 3, 1)

    def forward(self, x: torch.Tensor, grid: Grid) -> torch.Tensor:
        B, N, C = x.shape
        q = self.q(x).reshape(B, N, self.num_heads, self.head_dim).transpose(1, 2)
        v = self.v(x).reshape(B, N, self.num_heads, self.head_dim).transpose(1, 2)
        q = q / math.sqrt(math.sqrt(self.head_dim))  # the kernel's 1/sqrt(d) split between q and k (= q)
        out = self._kernel_mix(q, self._landmarks(q, grid), v).to(v.dtype) + self._conv_v(v, grid)
        return self.proj(out.transpose(1, 2).reshape(B, N, C))


class SoftmaxFreeBlock(nn.Module):
    """Post-norm block of stages 1-3: ``x = norm1(x + attn(x))``, ``x = norm2(x + mlp(x))``.

    The authors pass the stochastic-depth rate to element-wise dropout on both branches (not DropPath).
    """

    def __init__(
        self,
        dim: int,
        num_heads: int,
        landmark_stride: int,
        v_conv_size: int,
        newton_iters: int = 20,
        normalized: bool = False,
        drop_path: float = 0.0,
    ):
        super().__init__()
        self.attn = SoftmaxFreeAttention(dim, num_heads, landmark_stride, v_conv_size, newton_iters, normalized)
        self.drop1 = nn.Dropout(drop_path)
        self.norm1 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, 4 * dim, act_layer=partial(nn.GELU, approximate="tanh"))
        self.drop2 = nn.Dropout(drop_path)
        self.norm2 = nn.LayerNorm(dim)

    def forward(self, x: torch.Tensor, grid: Grid) -> torch.Tensor:
        x = self.norm1(x + self.drop1(self.attn(x, grid)))
        return self.norm2(x + self.drop2(self.mlp(x)))


class SoftmaxBlock(nn.Module):
    """Pre-norm softmax block of stage 4 (PVT's, without spatial reduction)."""

    def __init__(
        self,
        dim: int,
        num_heads: int,
        mlp_ratio: float = 4.0,
        proj_drop: float = 0.0,
        attn_drop: float = 0.0,
        drop_path: float = 0.0,
        norm_layer=nn.LayerNorm,
    ):
        super().__init__()
        self.norm1 = norm_layer(dim)
        self.attn = SoftmaxAttention(dim, num_heads, qkv_bias=True, attn_drop=attn_drop, proj_drop=proj_drop)
        self.drop_path1 = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()
        self.norm2 = norm_layer(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), drop=proj_drop)
        self.drop_path2 = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()

    def forward(self, x: torch.Tensor, grid: Grid) -> torch.Tensor:
        x = x + self.drop_path1(self.attn(self.norm1(x), grid))
        return x + self.drop_path2(self.mlp(self.norm2(x)))


class SoftStage(nn.Module):
    """Patch embedding, position embedding (with a cls token in front in stage 4), blocks -> tokens, grid."""

    def __init__(
        self,
        in_chans: int,
        dim: int,
        blocks: Sequence[nn.Module],
        pos_grid: Grid,
        first: bool = False,
        cls_token: bool = False,
        pos_drop: float = 0.0,
    ):
        super().__init__()
        self.pos_grid = pos_grid
        self.num_prefix_tokens = int(cls_token)
        self.patch_embed = ConvPatchEmbed(in_chans, dim, deep=first)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim)) if cls_token else None
        self.pos_embed = nn.Parameter(torch.zeros(1, self.num_prefix_tokens + pos_grid[0] * pos_grid[1], dim))
        self.pos_drop = nn.Dropout(pos_drop)
        self.blocks = nn.ModuleList(blocks)
        self.grad_checkpointing = False

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, Grid]:
        x, grid = self.patch_embed(x)
        pos = self.pos_embed
        if grid != self.pos_grid:
            pos = _resize_pos_embed(pos, self.pos_grid, grid, self.num_prefix_tokens)
        if self.cls_token is not None:
            x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1)
        x = self.pos_drop(x + pos)
        return run_blocks(self.blocks, x, grid, grad_checkpointing=self.grad_checkpointing), grid


class SoftmaxFreeVisionTransformer(LinearHeadMixin, StagesMixin, nn.Module):
    """SOFT / SOFT-Norm: three softmax-free stages, then a softmax stage with a cls token.

    ``drop_rate`` is the authors': dropout after the position embeddings of stages 1-3 and on the
    stage-4 projections / MLPs (there is no dropout before the head).  ``drop_path_rate`` is spread
    linearly over all blocks (element-wise dropout in stages 1-3, DropPath in stage 4, as the authors').
    """

    pool_types = ("token", "avg")  # the cls token or the mean patch token

    def __init__(
        self,
        img_size: Union[int, Grid] = 224,
        in_chans: int = 3,
        num_classes: int = 1000,
        global_pool: str = "token",
        embed_dims: Sequence[int] = (64, 128, 320, 512),
        num_heads: Sequence[int] = (2, 4, 10, 16),
        depths: Sequence[int] = (1, 2, 3, 2),
        landmark_strides: Sequence[int] = (8, 4, 2),
        v_conv_sizes: Sequence[int] = (9, 5, 3),
        mlp_ratio: float = 4.0,
        newton_iters: int = 20,
        normalized: bool = False,
        drop_rate: float = 0.0,
        attn_drop_rate: float = 0.0,
        drop_path_rate: float = 0.1,
    ):
        super().__init__()
        if len(depths) != 4 or len(embed_dims) != 4 or len(num_heads) != 4:
            raise ValueError("SOFT has 4 stages: depths, embed_dims and num_heads need 4 entries each")
        self.img_size = to_2tuple(img_size)
        self.in_chans = in_chans
        self.num_classes = num_classes
        self.global_pool = self._checked_pool(global_pool)
        self.depths = tuple(depths)
        self.num_prefix_tokens = 1
        self.num_features = self.head_hidden_size = embed_dims[-1]

        dpr = calculate_drop_path_rates(drop_path_rate, list(depths), stagewise=True)  # linear over all blocks
        self.stages = nn.Sequential()
        self.feature_info = []
        for i, (dim, depth) in enumerate(zip(embed_dims, depths)):
            reduction = 2 ** (i + 2)
            if i < 3:
                blocks = [
                    SoftmaxFreeBlock(
                        dim, num_heads[i], landmark_strides[i], v_conv_sizes[i], newton_iters, normalized, dpr[i][j]
                    )
                    for j in range(depth)
                ]
            else:
                blocks = [
                    SoftmaxBlock(
                        dim, num_heads[i], mlp_ratio, drop_rate, attn_drop_rate, dpr[i][j],
                        partial(nn.LayerNorm, eps=1e-6),
                    )
                    for j in range(depth)
                ]
            self.stages.append(
                SoftStage(
                    in_chans if i == 0 else embed_dims[i - 1],
                    dim,
                    blocks,
                    # the grid of an img_size input (conv strides round up)
                    pos_grid=(-(-self.img_size[0] // reduction), -(-self.img_size[1] // reduction)),
                    first=i == 0,
                    cls_token=i == 3,
                    pos_drop=drop_rate if i < 3 else 0.0,  # the authors' stage 4 has no position dropout
                )
            )
            self.feature_info.append(dict(num_chs=dim, reduction=reduction, module=f"stages.{i}"))
        self.norm = nn.LayerNorm(self.num_features, eps=1e-6)
        self.head = nn.Linear(self.num_features, num_classes) if num_classes > 0 else nn.Identity()

        for stage in self.stages:
            trunc_normal_(stage.pos_embed, std=0.02)
            if stage.cls_token is not None:
                trunc_normal_(stage.cls_token, std=0.02)
        # the authors' init: truncated normal (std 0.02) linear weights, zero biases, the rest as built
        self.apply(init_linear_weights)

    @torch.jit.ignore
    def no_weight_decay(self) -> set:
        # The authors exclude only the cls token (their position embeddings are decayed).
        return {n for n, _ in self.named_parameters() if n.endswith("cls_token")}

    @torch.jit.ignore
    def group_matcher(self, coarse: bool = False) -> dict:
        return dict(
            stem=r"^stages\.0\.(?:patch_embed|pos_embed)",
            blocks=r"^stages\.(\d+)"
            if coarse
            else [
                (r"^stages\.(\d+)\.blocks\.(\d+)", None),
                (r"^stages\.(\d+)\.(?:patch_embed|pos_embed|cls_token)", (0,)),
                (r"^norm", (99999,)),
            ],
        )

    def _check_input(self, x: torch.Tensor) -> None:
        check_image_input(x, self.in_chans, MIN_IMAGE_SIZE, type(self).__name__)

    def forward_intermediates(
        self,
        x: torch.Tensor,
        indices: Optional[Union[int, List[int]]] = None,
        norm: bool = False,
        stop_early: bool = False,
        output_fmt: str = "NCHW",
        intermediates_only: bool = False,
    ) -> Union[List[torch.Tensor], Tuple[torch.Tensor, List[torch.Tensor]]]:
        """Stage outputs as NCHW maps at strides 4, 8, 16, 32.

        Stage 4's map is its patch tokens (the cls token dropped), after the final norm when ``norm``.
        The returned final output is the normed token sequence (cls token first), as forward_features.
        """
        check_output_fmt(output_fmt, ("NCHW",))
        self._check_input(x)
        take_indices, max_index = feature_take_indices(len(self.stages), indices)
        stages = self.stages[: max_index + 1] if stop_early else self.stages
        last = len(self.stages) - 1
        intermediates = []
        for i, stage in enumerate(stages):
            tokens, grid = stage(x)
            x = _tokens_to_nchw(tokens[:, stage.num_prefix_tokens:], grid)
            if i in take_indices:
                if norm and i == last:
                    intermediates.append(_tokens_to_nchw(self.norm(tokens)[:, stage.num_prefix_tokens:], grid))
                else:
                    intermediates.append(x)
        if intermediates_only:
            return intermediates
        return (self.norm(tokens) if len(stages) == len(self.stages) else tokens), intermediates

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """The final norm's tokens (B, 1 + H/32 * W/32, C), cls token first."""
        self._check_input(x)
        for stage in self.stages:
            tokens, grid = stage(x)
            x = _tokens_to_nchw(tokens[:, stage.num_prefix_tokens:], grid)
        return self.norm(tokens)

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        # the authors have no dropout before the head
        x = global_pool_nlc(x, self.global_pool, self.num_prefix_tokens)
        return x if pre_logits else self.head(x)


_AUTHORS_KEYS = [
    (r"^patch_embed(\d)\.", lambda m: f"stages.{int(m.group(1)) - 1}.patch_embed."),
    (r"^pos_embed(\d)$", lambda m: f"stages.{int(m.group(1)) - 1}.pos_embed"),
    (r"^cls_token$", lambda m: "stages.3.cls_token"),
    (r"^block(\d)\.", lambda m: f"stages.{int(m.group(1)) - 1}.blocks."),
    (r"\.att\.mha\.W_q\.", lambda m: ".attn.q."),
    (r"\.att\.mha\.W_v\.", lambda m: ".attn.v."),
    (r"\.att\.mha\.ff\.", lambda m: ".attn.proj."),
    (r"\.att\.mha\.attn\.Qlandmark_op\.", lambda m: ".attn.landmark_conv."),
    (r"\.att\.mha\.attn\.Qnorm_act\.0\.", lambda m: ".attn.landmark_norm."),
    (r"\.att\.mha\.attn\.conv\.", lambda m: ".attn.v_conv."),
    (r"\.att\.ff(\d)\.", lambda m: f".mlp.fc{m.group(1)}."),
    (r"\.att\.(norm\d)\.", lambda m: f".{m.group(1)}."),
]


def _stage_depths(state_dict) -> Tuple[int, ...]:
    depths = [0, 0, 0, 0]
    for key in state_dict:
        m = re.match(r"^stages\.(\d)\.blocks\.(\d+)\.", key)
        if m:
            stage = int(m.group(1))
            depths[stage] = max(depths[stage], int(m.group(2)) + 1)
    return tuple(depths)


def checkpoint_filter_fn(state_dict, model: SoftmaxFreeVisionTransformer) -> dict:
    """Load the authors' SOFT / SOFT-Norm checkpoints (EMA weights first) and vitzoo's own layout.

    The authors' square position embeddings are resized (bilinear) to the model's grids; a checkpoint
    whose stage depths differ from the model's fails with the depths it has.
    """
    state_dict = unwrap_state_dict(state_dict)
    out = {}
    for key, value in state_dict.items():
        for pattern, replacement in _AUTHORS_KEYS:
            key = re.sub(pattern, replacement, key)
        out[key] = value

    found = _stage_depths(out)
    if any(found) and found != model.depths:
        name = (getattr(model, "pretrained_cfg", None) or {}).get("architecture", type(model).__name__)
        raise CheckpointError(
            f"this checkpoint has stage depths {found} (blocks per stage; stage 3 = the authors' block3.*) but "
            f"{name} is built with {model.depths}. Create the model with depths={found} or pick the variant "
            "whose depths match"
        )

    expected = model.state_dict()
    for key, value in out.items():
        if key.endswith("pos_embed") and key in expected and value.shape != expected[key].shape:
            stage = model.stages[int(key.split(".")[1])]
            side = math.isqrt(value.shape[1] - stage.num_prefix_tokens)
            if side * side != value.shape[1] - stage.num_prefix_tokens:
                raise CheckpointError(
                    f"{key} holds {value.shape[1]} positions, not a square grid: create the model with the "
                    "img_size this checkpoint was saved with"
                )
            out[key] = _resize_pos_embed(value, (side, side), stage.pos_grid, stage.num_prefix_tokens)
    return out


def _create(variant: str, pretrained: bool = False, **kwargs) -> SoftmaxFreeVisionTransformer:
    return build_model(SoftmaxFreeVisionTransformer, variant, pretrained, checkpoint_filter_fn, **kwargs)


def _cfg(drive_id: str = "", normalized: bool = False, **kwargs) -> dict:
    if drive_id:
        notes = (
            f"Google Drive: https://drive.google.com/file/d/{drive_id}/view (linked from the authors' README); "
            "the file is the authors' training checkpoint, its EMA weights are loaded.",
        )
    else:
        notes = (NO_WEIGHTS_NOTE,)
    return {
        "url": "",
        "num_classes": 1000,
        "input_size": (3, 224, 224),
        "pool_size": (7, 7),
        "crop_pct": 0.9,
        "interpolation": "bicubic",
        "mean": (0.485, 0.456, 0.406),
        "std": (0.229, 0.224, 0.225),
        "first_conv": "stages.0.patch_embed.proj.0",
        "classifier": "head",
        "license": "mit",
        "origin_url": "https://github.com/fudan-zvg/SOFT",
        "paper_ids": "arXiv:2207.03341" if normalized else "arXiv:2110.11945",
        "paper_name": "Softmax-free Linear Transformers"
        if normalized
        else "SOFT: Softmax-free Transformer with Linear Complexity",
        "notes": notes,
        **kwargs,
    }


default_cfgs = generate_default_cfgs(
    {
        "soft_tiny.in1k": _cfg("1S04DCotIOkP0DaBb8WStQ513z82qT9de"),
        # the same architecture trained with the authors' CUDA Gaussian kernel
        "soft_tiny.in1k_cuda": _cfg("1inDKh3Wz_2KQgGH_2ywU5H_gLKZpIz_u"),
        "soft_small": _cfg(),
        "soft_medium": _cfg(),
        "soft_large": _cfg(),
        "soft_huge": _cfg(),
        "soft_norm_tiny.in1k": _cfg("1Isy5b9v_4pyIXDqhKPNRq3WKH0etDlfl", normalized=True),
        "soft_norm_small.in1k": _cfg("1OBjn7FzVdNP1Urqxq7X0yDykyPhxAAW1", normalized=True),
        "soft_norm_medium.in1k": _cfg("1K2C6daaJn3jwurWh38uvV7rexirWjuzh", normalized=True),
        "soft_norm_large.in1k": _cfg("1aRYuF_gbBGyiXUDKEcpHJmM04SdvTUdP", normalized=True),
        "soft_norm_huge": _cfg(normalized=True),
    }
)

# models/softmax_free_vision_transformer.py; every variant uses widths 64/128/C3/512, heads of 32 channels.
_TINY = dict(depths=(1, 2, 3, 2))
_SMALL = dict(depths=(1, 3, 20, 4))
_MEDIUM = dict(embed_dims=(64, 128, 288, 512), num_heads=(2, 4, 9, 16), depths=(1, 3, 29, 5))
_LARGE = dict(depths=(1, 3, 40, 5))
_HUGE = dict(embed_dims=(64, 128, 352, 512), num_heads=(2, 4, 11, 16), depths=(1, 5, 49, 5))
_NORM = dict(normalized=True)


@register_model
def soft_tiny(pretrained: bool = False, **kwargs) -> SoftmaxFreeVisionTransformer:
    return _create("soft_tiny", pretrained, **dict(_TINY, **kwargs))


@register_model
def soft_small(pretrained: bool = False, **kwargs) -> SoftmaxFreeVisionTransformer:
    return _create("soft_small", pretrained, **dict(_SMALL, **kwargs))


@register_model
def soft_medium(pretrained: bool = False, **kwargs) -> SoftmaxFreeVisionTransformer:
    return _create("soft_medium", pretrained, **dict(_MEDIUM, **kwargs))


@register_model
def soft_large(pretrained: bool = False, **kwargs) -> SoftmaxFreeVisionTransformer:
    return _create("soft_large", pretrained, **dict(_LARGE, **kwargs))


@register_model
def soft_huge(pretrained: bool = False, **kwargs) -> SoftmaxFreeVisionTransformer:
    return _create("soft_huge", pretrained, **dict(_HUGE, **kwargs))


@register_model
def soft_norm_tiny(pretrained: bool = False, **kwargs) -> SoftmaxFreeVisionTransformer:
    return _create("soft_norm_tiny", pretrained, **dict(dict(_TINY, **_NORM), **kwargs))


@register_model
def soft_norm_small(pretrained: bool = False, **kwargs) -> SoftmaxFreeVisionTransformer:
    return _create("soft_norm_small", pretrained, **dict(dict(_SMALL, **_NORM), **kwargs))


@register_model
def soft_norm_medium(pretrained: bool = False, **kwargs) -> SoftmaxFreeVisionTransformer:
    return _create("soft_norm_medium", pretrained, **dict(dict(_MEDIUM, **_NORM), **kwargs))


@register_model
def soft_norm_large(pretrained: bool = False, **kwargs) -> SoftmaxFreeVisionTransformer:
    return _create("soft_norm_large", pretrained, **dict(dict(_LARGE, **_NORM), **kwargs))


@register_model
def soft_norm_huge(pretrained: bool = False, **kwargs) -> SoftmaxFreeVisionTransformer:
    return _create("soft_norm_huge", pretrained, **dict(dict(_HUGE, **_NORM), **kwargs))
