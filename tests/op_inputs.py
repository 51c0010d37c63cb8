"""Inputs of the attention-op tests, shared by the CPU-interpreter tests and the CUDA tests."""
from __future__ import annotations

import torch


def window_inputs(B, H, W, heads, head_dim, table_window, dtype=torch.float32, with_bias=True, device="cpu"):
    """(x, qkv weight, qkv bias or None, bias table) of window_attention, all requiring grad."""
    C = heads * head_dim
    x = torch.randn(B, H, W, C, device=device).to(dtype).requires_grad_()
    weight = (torch.randn(3 * C, C, device=device) / C**0.5).to(dtype).requires_grad_()
    bias = torch.randn(3 * C, device=device).to(dtype).requires_grad_() if with_bias else None
    table = torch.randn((2 * table_window - 1) ** 2, heads, device=device, requires_grad=True)
    return x, weight, bias, table


def decay_rates(heads: int, device="cpu") -> torch.Tensor:
    return torch.log(1 - 2 ** (-2 - 4 * torch.arange(heads, device=device) / heads))  # RMT's rates, all negative


def decay_inputs(shape_qk, shape_v, dtype, device="cpu") -> list[torch.Tensor]:
    """q, k, v of the decay ops, requiring grad."""
    return [torch.randn(s, device=device).to(dtype).requires_grad_() for s in (shape_qk, shape_qk, shape_v)]


def in_nan_storage(t: torch.Tensor, guard: int = 4096) -> torch.Tensor:
    """``t``'s values as a contiguous view into NaN-filled storage that extends ``guard`` elements either side."""
    storage = torch.full((t.numel() + 2 * guard,), float("nan"), dtype=t.dtype, device=t.device)
    return storage[guard:guard + t.numel()].view(t.shape).copy_(t.detach())
