"""Simplified linear attention (SLA, from SLAB), the part shared by every SLAB architecture.

Per head, with q and k through the ReLU kernel (k after adding a learned per-token positional
encoding), ``out_i = (q_i . sum_j k_j v_j^T) / (q_i . sum_j k_j + eps) + DWC(v)_i``: no softmax and no
scale; DWC is one depthwise convolution applied to every head's v map, which restores the locality that
linear attention loses.
"""
from __future__ import annotations

from typing import Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from timm.layers import resample_abs_pos_embed

__all__ = ["simplified_linear_attention", "sla_mix", "resize_grid_encoding"]

Grid = Tuple[int, int]


def _split_heads(x: torch.Tensor, num_heads: int) -> torch.Tensor:
    B, N, C = x.shape
    return x.view(B, N, num_heads, C // num_heads).transpose(1, 2).reshape(B * num_heads, N, C // num_heads)


def _merge_heads(x: torch.Tensor, num_heads: int) -> torch.Tensor:
    BH, N, d = x.shape
    return x.view(BH // num_heads, num_heads, N, d).transpose(1, 2).reshape(BH // num_heads, N, num_heads * d)


def simplified_linear_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    num_heads: int,
    dwc: nn.Conv2d | None = None,
    grid: Grid | None = None,
    eps: float = 1e-6,
) -> torch.Tensor:
    """q: (B, N, C), k and v: (B, M, C), q and k non-negative -> (B, N, C) float32, heads merged.

    The attention runs in float32 with autocast off (as the authors do: the normaliser loses too much
    in half precision), in the cheaper of the two association orders, as the authors choose it.
    ``dwc``: the depthwise conv shared by the heads, applied to v laid out on ``grid`` (M = H * W).
    """
    with torch.autocast(device_type=q.device.type, enabled=False):
        q, k, v = (_split_heads(t.float(), num_heads) for t in (q, k, v))
        n, m, c, d = q.shape[1], k.shape[1], k.shape[2], v.shape[2]
        normaliser = 1.0 / (q @ k.sum(dim=1).unsqueeze(-1) + eps)  # (BH, N, 1)
        if n * m * (c + d) > c * d * (n + m):
            out = (q @ (k.transpose(1, 2) @ v)) * normaliser
        else:
            out = ((q @ k.transpose(1, 2)) @ v) * normaliser
    if dwc is not None:
        H, W = grid
        if m != H * W:
            raise ValueError(f"v has {m} tokens, expected H*W = {H}x{W}")
        out = out + dwc(v.transpose(1, 2).reshape(-1, d, H, W)).flatten(2).transpose(1, 2)
    return _merge_heads(out, num_heads)


def resize_grid_encoding(encoding: torch.Tensor, old_grid: Grid, new_grid: Grid) -> torch.Tensor:
    """A (1, H*W, C) per-token encoding resized as a 2-D map (bilinear, align_corners=False, no antialias).

    The SLAB authors' PVT resizes its position embeddings this way; vitzoo uses the same rule for every
    SLAB encoding, so that at the training grid nothing changes.
    """
    return resample_abs_pos_embed(
        encoding, new_size=list(new_grid), old_size=list(old_grid), num_prefix_tokens=0,
        interpolation="bilinear", antialias=False,
    )


def sla_mix(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    positional_encoding: torch.Tensor,
    pos_grid: Grid,
    dwc: nn.Conv2d,
    num_heads: int,
    grid: Grid,
) -> torch.Tensor:
    """SLA of projected (B, N, C) q, k, v over a ``grid`` of N tokens, in v's dtype.

    k gets the positional encoding (resized when the grid is not the one it was learned on) before
    the ReLU; q only the ReLU; v none.
    """
    if tuple(grid) != tuple(pos_grid):
        positional_encoding = resize_grid_encoding(positional_encoding, pos_grid, grid)
    x = simplified_linear_attention(F.relu(q), F.relu(k + positional_encoding), v, num_heads, dwc, grid)
    return x.to(v.dtype)
