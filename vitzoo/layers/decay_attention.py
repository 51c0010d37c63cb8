"""Attention with an additive decay mask: the replaceable math of RMT's Manhattan self-attention.

Both functions compute exactly the authors' ``softmax(q @ k^T + mask) @ v`` (no extra scaling: the
caller scales ``k`` beforehand, as RMT does before its rotary "theta shift").  Today they call
torch's ``scaled_dot_product_attention`` with the mask as a float ``attn_mask``; a fused kernel
that builds the decay on the fly can replace them without touching the model code.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["decay_masked_attention", "decomposed_decay_attention"]


def decay_masked_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, decay_mask: torch.Tensor) -> torch.Tensor:
    """``softmax(q @ k^T + decay_mask) @ v`` over the last two dims.

    Shapes: ``q``, ``k``: (B, heads, L, d_k); ``v``: (B, heads, L, d_v); ``decay_mask``: (heads, L, L)
    (broadcast over B; any shape that broadcasts to (B, heads, L, L) works).  Returns (B, heads, L, d_v).
    """
    if decay_mask.ndim == 3:
        decay_mask = decay_mask.unsqueeze(0)  # a 3-D mask sends torch to its unfused math path
    return F.scaled_dot_product_attention(q, k, v, attn_mask=decay_mask.to(q.dtype), scale=1.0)


def decomposed_decay_attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask_h: torch.Tensor, mask_w: torch.Tensor
) -> torch.Tensor:
    """Two 1-D decay-masked passes over a grid: along W within each row, then along H within each column.

    The H pass attends over the W pass's output with the same ``q`` and ``k``.  Shapes: ``q``, ``k``:
    (B, H, W, heads, d_k); ``v``: (B, H, W, heads, d_v); ``mask_h``: (heads, H, H); ``mask_w``:
    (heads, W, W).  Returns (B, H, W, heads, d_v).
    """
    B, H, W, heads, _ = q.shape

    def rows(t: torch.Tensor) -> torch.Tensor:  # (B, H, W, n, d) -> (B*H, n, W, d)
        return t.reshape(B * H, W, heads, -1).transpose(1, 2)

    def cols(t: torch.Tensor) -> torch.Tensor:  # (B, H, W, n, d) -> (B*W, n, H, d)
        return t.permute(0, 2, 3, 1, 4).reshape(B * W, heads, H, -1)

    x = decay_masked_attention(rows(q), rows(k), rows(v), mask_w)  # (B*H, n, W, d_v)
    x = x.view(B, H, heads, W, -1).permute(0, 1, 3, 2, 4)  # (B, H, W, n, d_v)
    x = decay_masked_attention(cols(q), cols(k), cols(x), mask_h)  # (B*W, n, H, d_v)
    return x.view(B, W, heads, H, -1).permute(0, 3, 1, 2, 4)
