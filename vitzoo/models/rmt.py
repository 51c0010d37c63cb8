"""RMT (Retentive Networks Meet Vision Transformers), exact to qhfan/RMT, ready for dense inputs.

Paper: "RMT: Retentive Networks Meet Vision Transformers" (Fan et al., CVPR 2024).

RMT's Manhattan self-attention (MaSA) adds ``decay[head] * (|dh| + |dw|)`` to the attention logits, so
that attention fades with the Manhattan distance between tokens, and rotates q and k with a rotary "theta
shift" over the flattened grid index ``h * W + w``.  Early stages decompose it into a pass along W and a
pass along H with 1-D decay masks; the last stage(s) attend over the whole map with the 2-D mask.

Differences from the authors' classification code, none of which change its outputs beyond float32 rounding:
* The decay masks and rotary angles come from the actual map size (any input size runs) and are cached
  per (H, W, device, dtype); their ``angle`` / ``decay`` buffers are recomputed, not stored.  The masks are
  built on first use by an attention backend that reads them (torch, xformers), never for the fused Triton
  kernels, which compute the decay in place (a full-attention mask is heads x HW x HW).
* The attention is ``vitzoo.ops.decay_attention`` / ``axial_decay_attention``: torch SDPA with the cached
  mask as additive bias, or a fused Triton kernel that computes the decay from token indices.  The theta
  shift is ``vitzoo.ops.rotary_embedding``: timm's ``apply_rot_embed``, or on CUDA one Triton pass.
* The state dict follows timm: stride-2 downsampling at the start of stages 1-3 (the authors' is at the
  end of stages 0-2), the classification head (projection, BatchNorm, Swish, pool, classifier) in
  ``head``; ``checkpoint_filter_fn`` converts the authors' layout.
* Token-labelling models (``rmt_*_token_label``) give the authors' eval score ``cls + 0.5 * max over
  tokens(aux)`` in train mode too, as timm's VOLO does. Their training forward, which returns the class and
  per-token logits separately and applies a MixToken box, is ``forward_token_label``: the authors' training
  branch of ``forward``, with the box drawn by the caller (``vitzoo.classification.token_label``).
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Callable, Dict, Optional, Sequence, Tuple

import torch
import torch.nn as nn
from timm.data import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD
from timm.layers import (
    DropPath,
    LayerScale,
    SelectAdaptivePool2d,
    calculate_drop_path_rates,
)
from timm.models import register_model

from ..checkpoint import unwrap_state_dict
from ..layers import check_image_input
from ..layers.checkpointing import run_blocks
from ..ops import axial_decay_attention, decay_attention, decay_mask, rotary_embedding
from ._builder import build_model, generate_default_cfgs
from ._contract import HeadModuleMixin, init_linear_weights
from ._staged import StagedBackboneMixin

__all__ = ["RMT", "checkpoint_filter_fn"]


@dataclass(eq=False)
class GridDecay:
    """Rotary tables, per-head decay and (built on first use) decay masks of one stage at one map size."""

    sin: torch.Tensor  # (H, W, 1, head_dim): broadcast over heads of (B, H, W, heads, head_dim)
    cos: torch.Tensor
    decay: torch.Tensor  # (n,): what fused kernels read instead of the masks
    build_masks: Callable[[], Tuple[torch.Tensor, ...]]

    @functools.cached_property
    def masks(self) -> Tuple[torch.Tensor, ...]:
        """(mask_h (n, H, H), mask_w (n, W, W)) if decomposed, else (mask (n, HW, HW),)."""
        # Cached tensors must stay usable by autograd even when first built under inference_mode.
        with torch.inference_mode(False):
            return self.build_masks()

    def full_mask(self) -> torch.Tensor:
        return self.masks[0]

    def axial_masks(self) -> Tuple[torch.Tensor, torch.Tensor]:
        return self.masks


def _decay_masks(decay: torch.Tensor, H: int, W: int, decomposed: bool) -> Tuple[torch.Tensor, ...]:
    if decomposed:
        return decay_mask(decay, H, 1), decay_mask(decay, 1, W)
    return (decay_mask(decay, H, W),)


class ManhattanRelPos(nn.Module):
    """Rotary angles and per-head Manhattan decay of one stage (the authors' ``RetNetRelPos2d``)."""

    def __init__(
        self, head_dim: int, num_heads: int, initial_value: float, heads_range: float, decomposed: bool,
        cache_size: int = 8,
    ):
        super().__init__()
        self.initial_value = initial_value
        self.heads_range = heads_range
        self.decomposed = decomposed
        self.cache_size = cache_size
        self._cache: Dict[tuple, GridDecay] = {}
        self.register_buffer("angle", torch.empty(head_dim), persistent=False)  # interleaved pairs
        self.register_buffer("decay", torch.empty(num_heads), persistent=False)  # log(1 - 2^-(init + range*h/n))
        self.init_non_persistent_buffers()

    def init_non_persistent_buffers(self) -> None:
        """(Re)compute the buffers from the config (timm's hook, e.g. after building on the meta device)."""
        head_dim, num_heads = self.angle.numel(), self.decay.numel()
        angle = 1.0 / (10000 ** torch.linspace(0, 1, head_dim // 2))
        exponent = -self.initial_value - self.heads_range * torch.arange(num_heads, dtype=torch.float) / num_heads
        # log in float64, rounded once: the correctly rounded float32 value that the authors' stored
        # buffers hold (a vectorised float32 log can be 1 ulp off on some CPUs).
        decay = torch.log((1 - 2**exponent).double()).float()
        with torch.no_grad():
            self.angle.copy_(angle.repeat_interleave(2))
            self.decay.copy_(decay)
        self._cache.clear()

    def _compute(self, H: int, W: int) -> GridDecay:
        # float32 at least: the phases of a large map (index up to H * W) are meaningless in half precision.
        dtype = torch.promote_types(self.decay.dtype, torch.float32)
        angle = self.angle.to(dtype)
        index = torch.arange(H * W).to(angle)  # row-major token index h * W + w
        phase = index[:, None] * angle[None, :]
        sin = phase.sin().reshape(H, W, 1, -1)
        cos = phase.cos().reshape(H, W, 1, -1)
        build_masks = functools.partial(_decay_masks, self.decay, H, W, self.decomposed)
        return GridDecay(*(t.to(self.decay.dtype) for t in (sin, cos)), self.decay, build_masks)

    def forward(self, H: int, W: int) -> GridDecay:
        key = (H, W, self.decay.device, self.decay.dtype)
        if key not in self._cache:
            if len(self._cache) >= self.cache_size:
                self._cache.pop(next(iter(self._cache)))
            # Cached tensors must stay usable by autograd even when first built under inference_mode.
            with torch.inference_mode(False):
                self._cache[key] = self._compute(H, W)
        return self._cache[key]


class DepthwiseConvNHWC(nn.Module):
    """Depthwise k x k convolution (stride 1, same size) on a channels-last map."""

    def __init__(self, dim: int, kernel_size: int):
        super().__init__()
        self.conv = nn.Conv2d(dim, dim, kernel_size, padding=kernel_size // 2, groups=dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)


class ManhattanSelfAttention(nn.Module):
    """MaSA: decay-masked attention on rotated q/k, plus LCE (5x5 depthwise conv of v); channels-last."""

    def __init__(self, dim: int, num_heads: int, decomposed: bool):
        super().__init__()
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.scale = self.head_dim**-0.5
        self.decomposed = decomposed
        self.q = nn.Linear(dim, dim)
        self.k = nn.Linear(dim, dim)
        self.v = nn.Linear(dim, dim)
        self.lce = DepthwiseConvNHWC(dim, 5)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, rel_pos: GridDecay) -> torch.Tensor:
        B, H, W, C = x.shape
        heads = (B, H, W, self.num_heads, self.head_dim)
        v = self.v(x)
        lce = self.lce(v)
        # k is scaled before the rotation, as the authors do (the rotation is linear: same math).
        q = rotary_embedding(self.q(x).view(heads), rel_pos.sin, rel_pos.cos)
        k = rotary_embedding((self.k(x) * self.scale).view(heads), rel_pos.sin, rel_pos.cos)
        v = v.view(heads)
        # The masks go as callables: only a backend that reads masks builds (and caches) them.
        if self.decomposed:
            x = axial_decay_attention(q, k, v, rel_pos.decay, rel_pos.axial_masks)
        else:
            tokens = (B, H * W, self.num_heads, self.head_dim)
            q, k, v = (t.reshape(tokens).transpose(1, 2) for t in (q, k, v))
            x = decay_attention(q, k, v, rel_pos.decay, (H, W), rel_pos.full_mask).transpose(1, 2)
        return self.proj(x.reshape(B, H, W, C) + lce)


class ConvFFN(nn.Module):
    """fc1 -> GELU -> (+ 3x3 depthwise conv residual) -> fc2, channels-last."""

    def __init__(self, dim: int, hidden_dim: int):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden_dim)
        self.act = nn.GELU()
        self.dwconv = DepthwiseConvNHWC(hidden_dim, 3)
        self.fc2 = nn.Linear(hidden_dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.act(self.fc1(x))
        return self.fc2(x + self.dwconv(x))


class RMTBlock(nn.Module):
    """CPE (x + dwconv3x3(x)), then pre-norm MaSA and ConvFFN residuals with optional layer scale."""

    def __init__(
        self,
        dim: int,
        num_heads: int,
        mlp_ratio: float,
        decomposed: bool,
        drop_path: float = 0.0,
        layer_scale_init: Optional[float] = None,
    ):
        super().__init__()
        self.cpe = DepthwiseConvNHWC(dim, 3)
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = ManhattanSelfAttention(dim, num_heads, decomposed)
        self.ls1 = LayerScale(dim, layer_scale_init) if layer_scale_init is not None else nn.Identity()
        self.drop_path1 = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = ConvFFN(dim, int(mlp_ratio * dim))
        self.ls2 = LayerScale(dim, layer_scale_init) if layer_scale_init is not None else nn.Identity()
        self.drop_path2 = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()

    def forward(self, x: torch.Tensor, rel_pos: GridDecay) -> torch.Tensor:
        x = x + self.cpe(x)
        x = x + self.drop_path1(self.ls1(self.attn(self.norm1(x), rel_pos)))
        return x + self.drop_path2(self.ls2(self.mlp(self.norm2(x))))


class Downsample(nn.Module):
    """3x3 stride-2 convolution and BatchNorm between stages, channels-last in and out."""

    def __init__(self, dim: int, out_dim: int):
        super().__init__()
        self.conv = nn.Conv2d(dim, out_dim, 3, stride=2, padding=1)
        self.norm = nn.BatchNorm2d(out_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(self.conv(x.permute(0, 3, 1, 2).contiguous())).permute(0, 2, 3, 1)


def _conv_stem(in_chans: int, dim: int) -> nn.Sequential:
    """Four 3x3 convs (strides 2, 1, 2, 1) with BatchNorm, GELU between them: stride 4, NCHW."""
    half = dim // 2
    return nn.Sequential(
        nn.Conv2d(in_chans, half, 3, 2, 1), nn.BatchNorm2d(half), nn.GELU(),
        nn.Conv2d(half, half, 3, 1, 1), nn.BatchNorm2d(half), nn.GELU(),
        nn.Conv2d(half, dim, 3, 2, 1), nn.BatchNorm2d(dim), nn.GELU(),
        nn.Conv2d(dim, dim, 3, 1, 1), nn.BatchNorm2d(dim),
    )


class RMTStage(nn.Module):
    def __init__(
        self,
        in_dim: int,
        dim: int,
        depth: int,
        num_heads: int,
        init_value: float,
        heads_range: float,
        mlp_ratio: float,
        decomposed: bool,
        downsample: bool,
        drop_path: Sequence[float],
        layer_scale_init: Optional[float],
    ):
        super().__init__()
        self.downsample = Downsample(in_dim, dim) if downsample else nn.Identity()
        self.rel_pos = ManhattanRelPos(dim // num_heads, num_heads, init_value, heads_range, decomposed)
        self.blocks = nn.ModuleList(
            RMTBlock(dim, num_heads, mlp_ratio, decomposed, drop_path[i], layer_scale_init) for i in range(depth)
        )
        self.grad_checkpointing = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.downsample(x)
        rel_pos = self.rel_pos(x.shape[1], x.shape[2])
        return run_blocks(self.blocks, x, rel_pos, grad_checkpointing=self.grad_checkpointing)


class RMTHead(nn.Module):
    """Linear projection, BatchNorm, Swish, global pool, classifier (the authors' head).

    With token labelling an auxiliary classifier scores every last-stage token and the logits are
    ``cls + 0.5 * max over tokens(aux)``, the authors' eval output.
    """

    def __init__(
        self,
        in_dim: int,
        hidden_size: int,
        num_classes: int,
        pool_type: str = "avg",
        drop_rate: float = 0.0,
        token_label: bool = False,
    ):
        super().__init__()
        self.in_dim = in_dim
        self.hidden_size = hidden_size
        self.token_label = token_label
        self.proj = nn.Linear(in_dim, hidden_size)
        self.norm = nn.BatchNorm2d(hidden_size)
        self.act = nn.SiLU()
        self.drop = nn.Dropout(drop_rate)
        self.reset(num_classes, pool_type)

    def reset(self, num_classes: int, pool_type: Optional[str] = None) -> None:
        if pool_type is not None:
            self.global_pool = SelectAdaptivePool2d(pool_type=pool_type, flatten=bool(pool_type))
        self.fc = nn.Linear(self.hidden_size, num_classes) if num_classes > 0 else nn.Identity()
        self.aux_fc = nn.Linear(self.in_dim, num_classes) if self.token_label and num_classes > 0 else None

    def pool(self, x: torch.Tensor) -> torch.Tensor:
        """``x``: the last stage's map (B, H, W, C) -> the pooled features (B, hidden_size)."""
        return self.global_pool(self.act(self.norm(self.proj(x).permute(0, 3, 1, 2))))

    def forward_token_label(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """Class logits (B, classes) and the auxiliary head's logits of every token (B, H * W, classes)."""
        return self.fc(self.drop(self.pool(x))), self.aux_fc(x.flatten(1, 2))

    def forward(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        """``x``: the last stage's map (B, H, W, C)."""
        if pre_logits:
            return self.pool(x)
        if self.aux_fc is None:
            return self.fc(self.drop(self.pool(x)))
        logits, token_logits = self.forward_token_label(x)
        return logits + 0.5 * token_logits.amax(1)


class RMT(HeadModuleMixin, StagedBackboneMixin, nn.Module):
    """RMT: conv stem, four stages of MaSA blocks (decomposed or full), projection head.

    ``forward_features`` returns the last stage's map, channels-last; ``num_features`` is the width of
    the pooled features after the head's projection (what ``forward_head(pre_logits=True)`` returns).
    """

    stages_attr = "layers"

    def __init__(
        self,
        in_chans: int = 3,
        num_classes: int = 1000,
        global_pool: str = "avg",
        embed_dims: Sequence[int] = (64, 128, 256, 512),
        depths: Sequence[int] = (2, 2, 8, 2),
        num_heads: Sequence[int] = (4, 4, 8, 16),
        init_values: Sequence[float] = (2, 2, 2, 2),
        heads_ranges: Sequence[float] = (4, 4, 6, 6),
        mlp_ratios: Sequence[float] = (3, 3, 3, 3),
        decomposed: Sequence[bool] = (True, True, False, False),
        layer_scales: Sequence[bool] = (False, False, False, False),
        layer_scale_init: float = 1e-6,
        head_hidden_size: int = 1024,
        token_label: bool = False,
        drop_rate: float = 0.0,
        drop_path_rate: float = 0.1,
    ):
        super().__init__()
        per_stage = (embed_dims, num_heads, init_values, heads_ranges, mlp_ratios, decomposed, layer_scales)
        if any(len(v) != len(depths) for v in per_stage):
            raise ValueError(f"every per-stage setting needs {len(depths)} entries (one per stage in depths)")
        self.in_chans = in_chans
        self.num_classes = num_classes
        self.output_fmt = "NHWC"
        self.num_features = self.head_hidden_size = head_hidden_size

        self.stem = _conv_stem(in_chans, embed_dims[0])
        dpr = calculate_drop_path_rates(drop_path_rate, list(depths), stagewise=True)  # linear over all blocks
        self.layers = nn.Sequential()
        self.feature_info = []
        for i, depth in enumerate(depths):
            self.layers.append(
                RMTStage(
                    embed_dims[i - 1] if i else embed_dims[0],
                    embed_dims[i],
                    depth,
                    num_heads[i],
                    init_values[i],
                    heads_ranges[i],
                    mlp_ratios[i],
                    decomposed[i],
                    downsample=i > 0,
                    drop_path=dpr[i],
                    layer_scale_init=layer_scale_init if layer_scales[i] else None,
                )
            )
            self.feature_info.append(dict(num_chs=embed_dims[i], reduction=4 * 2**i, module=f"layers.{i}"))
        self.head = RMTHead(embed_dims[-1], head_hidden_size, num_classes, global_pool, drop_rate, token_label)
        self.apply(init_linear_weights)

    @torch.jit.ignore
    def no_weight_decay(self) -> set:
        # The authors exempt only names RMT does not have; norms and biases follow the optimizer's defaults.
        return set()

    @torch.jit.ignore
    def group_matcher(self, coarse: bool = False) -> dict:
        return dict(
            stem=r"^stem",
            blocks=r"^layers\.(\d+)"
            if coarse
            else [(r"^layers\.(\d+)\.downsample", (0,)), (r"^layers\.(\d+)\.blocks\.(\d+)", None)],
        )

    def _stem(self, x: torch.Tensor) -> torch.Tensor:
        check_image_input(x, self.in_chans, model_name=type(self).__name__)
        return self.stem(x).permute(0, 2, 3, 1)

    def forward_token_label(
        self, x: torch.Tensor, mix_box: Optional[Tuple[int, int, int, int]] = None
    ) -> Tuple[torch.Tensor, torch.Tensor]:
        """The token-labelling training forward: class logits (B, classes) and per-token logits (B, H * W, classes).

        ``mix_box`` = (top, left, bottom, right) in last-stage tokens applies MixToken as the authors' ``forward``
        does: inside the box (scaled to the stem's map) every image's stem features are those of the image at the
        mirrored batch position, ``x.flip(0)``; the token logits inside the box are then taken back from the
        mirrored position, so each token's logits are for the image its content came from and match that
        image's label map. The class logits stay mixed; the loss mixes their target by the box's area.
        """
        if self.head.aux_fc is None:
            raise RuntimeError(
                "forward_token_label needs the token-label head: build rmt_{s,b,l}_token_label (token_label=True) "
                "with num_classes > 0"
            )
        x = self._stem(x)
        if mix_box is not None:
            x = _swap_box_with_flipped_batch(x, mix_box, scale=2 ** (len(self.layers) - 1))
        x = self.layers(x)
        logits, token_logits = self.head.forward_token_label(x)
        if mix_box is not None:
            token_logits = _swap_box_with_flipped_batch(token_logits.unflatten(1, x.shape[1:3]), mix_box, 1)
            token_logits = token_logits.flatten(1, 2)
        return logits, token_logits


def _swap_box_with_flipped_batch(x: torch.Tensor, box: Tuple[int, int, int, int], scale: int) -> torch.Tensor:
    """``x`` (B, H, W, C) with ``x.flip(0)`` inside ``box`` (top, left, bottom, right) x ``scale`` (MixToken)."""
    height, width = x.shape[1] // scale, x.shape[2] // scale
    if (height * scale, width * scale) != tuple(x.shape[1:3]):
        raise ValueError(
            f"MixToken needs a stem map that is a multiple of {scale} tokens, got {tuple(x.shape[1:3])}: use an "
            f"input size that is a multiple of {4 * scale}"
        )
    top, left, bottom, right = box
    if not (0 <= top <= bottom <= height and 0 <= left <= right <= width):
        raise ValueError(f"MixToken box {tuple(box)} (top, left, bottom, right) is not inside the {height}x{width} "
                         "token grid")
    rows, cols = slice(top * scale, bottom * scale), slice(left * scale, right * scale)
    mixed = x.clone()
    mixed[:, rows, cols] = x.flip(0)[:, rows, cols]
    return mixed


# Authors' key -> vitzoo key, applied in order (stage downsampling is moved separately).
_AUTHORS_KEY_RULES = (
    (r"^patch_embed\.proj\.", "stem."),
    (r"\.pos\.conv\.", ".cpe.conv."),
    (r"\.retention_layer_norm\.", ".norm1."),
    (r"\.final_layer_norm\.", ".norm2."),
    (r"\.retention\.(q|k|v)_proj\.", r".attn.\1."),
    (r"\.retention\.lepe\.", ".attn.lce."),
    (r"\.retention\.out_proj\.", ".attn.proj."),
    (r"\.ffn\.", ".mlp."),
    (r"\.gamma_(1|2)$", r".ls\1.gamma"),
    (r"^(proj|norm)\.", r"head.\1."),
    (r"^head\.(weight|bias)$", r"head.fc.\1"),
    (r"^aux_head\.", "head.aux_fc."),
    (r"\.downsample\.reduction\.", ".downsample.conv."),
)


def checkpoint_filter_fn(state_dict, model: RMT) -> dict:
    """Convert the authors' RMT checkpoint (classification or token-labelling code) to vitzoo's layout.

    Authors' layout: ``layers.{i}.downsample`` at the end of stage i (i < 3), ``patch_embed.proj``,
    ``proj`` / ``norm`` / ``head`` / ``aux_head`` at the top level, layer scales of shape (1, 1, 1, C).
    Their per-stage ``Relpos.angle`` / ``Relpos.decay`` buffers are recomputed from the config, so they are
    dropped.  vitzoo-layout state dicts pass through.  Nothing in RMT depends on the training resolution,
    so no tensor needs resizing.
    """
    state_dict = unwrap_state_dict(state_dict)
    authors_layout = "patch_embed.proj.0.weight" in state_dict
    out = {}
    for key, value in state_dict.items():
        if ".Relpos." in key:
            continue
        if authors_layout:
            key = re.sub(r"^layers\.(\d+)\.downsample", lambda m: f"layers.{int(m.group(1)) + 1}.downsample", key)
            for pattern, replacement in _AUTHORS_KEY_RULES:
                key = re.sub(pattern, replacement, key)
            if key.endswith(".gamma"):
                value = value.reshape(-1)
        out[key] = value
    return out


def _create_rmt(variant: str, pretrained: bool = False, **kwargs) -> RMT:
    return build_model(RMT, variant, pretrained, checkpoint_filter_fn, **kwargs)


_ORIGIN = "https://github.com/qhfan/RMT"


def _cfg(where: str, token_label: bool = False, **kwargs) -> dict:
    return {
        "url": "",
        "num_classes": 1000,
        "input_size": (3, 224, 224),
        "pool_size": (7, 7),
        "crop_pct": 0.875,
        "interpolation": "bicubic",
        "mean": IMAGENET_DEFAULT_MEAN,
        "std": IMAGENET_DEFAULT_STD,
        "first_conv": "stem.0",
        "classifier": ("head.fc", "head.aux_fc") if token_label else "head.fc",
        "license": "unknown",
        "origin_url": _ORIGIN,
        "paper_ids": "arXiv:2309.11523",
        "paper_name": "RMT: Retentive Networks Meet Vision Transformers",
        "notes": (where, "The authors' repository has no license file."),
        **kwargs,
    }


def _baidu(model: str, password: str) -> str:
    return (
        f"The authors host the {model} weights on Baidu Netdisk only (password {password}); the link is in the "
        f"Results table of the README at {_ORIGIN}. Their training scripts save model and model_ema; the EMA "
        "weights are loaded when present."
    )


default_cfgs = generate_default_cfgs(
    {
        "rmt_t.in1k": _cfg(_baidu("RMT-T", "vsyv")),
        "rmt_s.in1k": _cfg(_baidu("RMT-S", "3ay4")),
        "rmt_b.in1k": _cfg(_baidu("RMT-B", "yzge")),
        "rmt_l.in1k": _cfg(_baidu("RMT-L", "uewu")),
        "rmt_s_token_label.in1k": _cfg(_baidu("RMT-S* (token labelling)", "q37r"), token_label=True),
        "rmt_b_token_label.in1k": _cfg(_baidu("RMT-B* (token labelling)", "2rdt"), token_label=True),
        "rmt_l_token_label.in1k": _cfg(_baidu("RMT-L* (token labelling)", "z1k2"), token_label=True),
    }
)

# The authors' factories RMT_T3, RMT_S, RMT_M2 and RMT_L6 (README names RMT-T, -S, -B, -L).
_T = dict(
    embed_dims=(64, 128, 256, 512), depths=(2, 2, 8, 2), num_heads=(4, 4, 8, 16), heads_ranges=(4, 4, 6, 6),
    mlp_ratios=(3, 3, 3, 3), decomposed=(True, True, False, False), drop_path_rate=0.1,
)
_S = dict(
    embed_dims=(64, 128, 256, 512), depths=(3, 4, 18, 4), num_heads=(4, 4, 8, 16), heads_ranges=(4, 4, 6, 6),
    mlp_ratios=(4, 4, 3, 3), decomposed=(True, True, True, False), drop_path_rate=0.15,
)
_B = dict(
    embed_dims=(80, 160, 320, 512), depths=(4, 8, 25, 8), num_heads=(5, 5, 10, 16), heads_ranges=(5, 5, 6, 6),
    mlp_ratios=(4, 4, 3, 3), decomposed=(True, True, True, False), layer_scales=(False, False, True, True),
    drop_path_rate=0.4,
)
_L = dict(
    embed_dims=(112, 224, 448, 640), depths=(4, 8, 25, 8), num_heads=(7, 7, 14, 20), heads_ranges=(6, 6, 6, 6),
    mlp_ratios=(4, 4, 3, 3), decomposed=(True, True, True, False), layer_scales=(False, False, True, True),
    drop_path_rate=0.5,
)


@register_model
def rmt_t(pretrained: bool = False, **kwargs) -> RMT:
    return _create_rmt("rmt_t", pretrained, **dict(_T, **kwargs))


@register_model
def rmt_s(pretrained: bool = False, **kwargs) -> RMT:
    return _create_rmt("rmt_s", pretrained, **dict(_S, **kwargs))


@register_model
def rmt_b(pretrained: bool = False, **kwargs) -> RMT:
    return _create_rmt("rmt_b", pretrained, **dict(_B, **kwargs))


@register_model
def rmt_l(pretrained: bool = False, **kwargs) -> RMT:
    return _create_rmt("rmt_l", pretrained, **dict(_L, **kwargs))


@register_model
def rmt_s_token_label(pretrained: bool = False, **kwargs) -> RMT:
    return _create_rmt("rmt_s_token_label", pretrained, **dict(dict(_S, token_label=True), **kwargs))


@register_model
def rmt_b_token_label(pretrained: bool = False, **kwargs) -> RMT:
    return _create_rmt("rmt_b_token_label", pretrained, **dict(dict(_B, token_label=True), **kwargs))


@register_model
def rmt_l_token_label(pretrained: bool = False, **kwargs) -> RMT:
    return _create_rmt("rmt_l_token_label", pretrained, **dict(dict(_L, token_label=True), **kwargs))
