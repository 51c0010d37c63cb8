"""Shifted-window attention pieces (Swin and the families built on its windows).

Shapes: feature maps are channels-last (B, H, W, C); windows are (B * num_windows, window**2, C)
in row-major window order, tokens row-major inside a window, as the Swin authors lay them out
(rectangular windows, e.g. CSWin's stripes, in the same order).
"""
from __future__ import annotations

from functools import lru_cache

import torch
import torch.nn as nn
import torch.nn.functional as F
from timm.layers import trunc_normal_

__all__ = [
    "window_partition",
    "window_reverse",
    "relative_position_index",
    "shifted_window_mask",
    "effective_window",
    "WindowAttention",
]

# The Swin authors mark cross-region pairs with -100 rather than -inf: exp(-100) underflows to 0 in
# float32, and a finite value cannot produce NaN in a fully masked row.
SHIFT_MASK_VALUE = -100.0


def window_partition(x: torch.Tensor, window: int | tuple[int, int]) -> torch.Tensor:
    """(B, H, W, C) with H, W multiples of ``window`` (a side, or (height, width)) -> (B * nW, wh * ww, C)."""
    B, H, W, C = x.shape
    wh, ww = (window, window) if isinstance(window, int) else window
    x = x.view(B, H // wh, wh, W // ww, ww, C)
    return x.permute(0, 1, 3, 2, 4, 5).reshape(-1, wh * ww, C)


def window_reverse(windows: torch.Tensor, window: int | tuple[int, int], H: int, W: int) -> torch.Tensor:
    """Inverse of :func:`window_partition`: (B * nW, wh * ww, C) -> (B, H, W, C)."""
    C = windows.shape[-1]
    wh, ww = (window, window) if isinstance(window, int) else window
    x = windows.view(-1, H // wh, W // ww, wh, ww, C)
    return x.permute(0, 1, 3, 2, 4, 5).reshape(-1, H, W, C)


@lru_cache(maxsize=64)
def relative_position_index(window: int, table_window: int) -> torch.Tensor:
    """Index into a (2*table_window-1)**2 bias table for every (query, key) pair of a window.

    ``window <= table_window``: a smaller window (a stage smaller than the configured window) uses
    the central part of the table, i.e. the same entries for the same relative offsets.
    """
    coords = torch.stack(torch.meshgrid(torch.arange(window), torch.arange(window), indexing="ij")).flatten(1)
    rel = coords[:, :, None] - coords[:, None, :] + (table_window - 1)  # (2, N, N), query minus key
    return rel[0] * (2 * table_window - 1) + rel[1]


@lru_cache(maxsize=64)
def _shifted_window_mask_cpu(H: int, W: int, window: int, shift: int) -> torch.Tensor:
    def regions(n: int) -> torch.Tensor:
        idx = torch.arange(n)
        return (idx >= n - window).long() + (idx >= n - shift).long()

    region = regions(H)[:, None] * 3 + regions(W)[None, :]  # (H, W) region id after the cyclic shift
    region_windows = window_partition(region[None, :, :, None].float(), window).squeeze(-1)  # (nW, N)
    different = region_windows[:, :, None] != region_windows[:, None, :]
    return torch.zeros(different.shape).masked_fill_(different, SHIFT_MASK_VALUE)


def shifted_window_mask(H: int, W: int, window: int, shift: int, device: torch.device) -> torch.Tensor:
    """(nW, N, N) additive mask for a map of H x W (window multiples) rolled by -``shift``.

    Tokens that the cyclic shift brought together from different image regions do not attend to
    each other (the regions are the authors' three slices per axis).
    """
    return _shifted_window_mask_cpu(H, W, window, shift).to(device)


def effective_window(H: int, W: int, window: int, shift: int) -> tuple[int, int]:
    """The Swin authors' rule for small maps: if min(H, W) <= window, one window of min(H, W) and no shift.

    Decided on the smaller side for both axes (timm decides per axis, which differs on non-square maps).
    """
    if min(H, W) <= window:
        return min(H, W), 0
    return window, shift


class WindowAttention(nn.Module):
    """Multi-head self-attention inside windows with a learned relative position bias.

    The bias table is sized for ``window_size``; a smaller runtime window uses its centre.
    """

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

    def relative_position_bias(self, window: int) -> torch.Tensor:
        """(heads, window**2, window**2) bias for a window of side ``window``."""
        index = relative_position_index(window, self.window_size).to(self.relative_position_bias_table.device)
        N = window * window
        return self.relative_position_bias_table[index.view(-1)].view(N, N, -1).permute(2, 0, 1)

    def forward(self, x: torch.Tensor, window: int, mask: torch.Tensor | None = None) -> torch.Tensor:
        """x: (B * nW, N, C) windows; mask: (nW, N, N) additive shift mask or None."""
        B_, N, C = x.shape
        q, k, v = self.qkv(x).view(B_, N, 3, self.num_heads, C // self.num_heads).permute(2, 0, 3, 1, 4).unbind(0)
        bias = self.relative_position_bias(window).to(q.dtype)
        if mask is not None:
            # (B * nW, heads, N, N): SDPA's fused CPU/GPU kernels take 4-D masks (a 5-D broadcast is ~3x slower)
            num_windows = mask.shape[0]
            bias = bias.unsqueeze(0) + mask.unsqueeze(1).to(q.dtype)
            bias = bias.unsqueeze(0).expand(B_ // num_windows, -1, -1, -1, -1).reshape(B_, self.num_heads, N, N)
        x = F.scaled_dot_product_attention(
            q, k, v, attn_mask=bias, dropout_p=self.attn_drop if self.training else 0.0
        )
        x = x.transpose(1, 2).reshape(B_, N, C)
        return self.proj_drop(self.proj(x))

    def extra_repr(self) -> str:
        return f"dim={self.dim}, window_size={self.window_size}, num_heads={self.num_heads}"
