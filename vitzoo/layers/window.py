"""Shifted-window attention pieces (Swin and the families built on its windows).

Shapes: feature maps are channels-last (B, H, W, C); windows are (B * num_windows, window**2, C)
in row-major window order, tokens row-major inside a window, as the Swin authors lay them out
(rectangular windows, e.g. CSWin's stripes, in the same order).
"""
from __future__ import annotations

import math
from functools import lru_cache

import torch

__all__ = [
    "window_partition",
    "window_reverse",
    "relative_position_index",
    "table_window",
    "shifted_window_mask",
    "effective_window",
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


def table_window(bias_table: torch.Tensor) -> int:
    """Window side that a ((2 * side - 1) ** 2, heads) relative position bias table was made for."""
    side = (math.isqrt(bias_table.shape[0]) + 1) // 2
    if bias_table.dim() != 2 or (2 * side - 1) ** 2 != bias_table.shape[0]:
        raise ValueError(f"relative position bias table of shape {tuple(bias_table.shape)} is not ((2w-1)**2, heads)")
    return side


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
