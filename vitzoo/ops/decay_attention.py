"""Decay-masked attention (RMT's Manhattan self-attention): ``softmax(q @ k^T + mask) @ v``.

``mask[h, i, j] = decay[h] * (|row_i - row_j| + |col_i - col_j|)`` over the tokens of an H x W map,
row-major.  No scaling is applied: the caller scales ``k``, as RMT does before its rotary "theta shift",
which stays outside the op.  Two public ops:

* :func:`decay_attention`: one pass over the whole map with the 2-D Manhattan decay.
* :func:`axial_decay_attention`: RMT's decomposed form, a pass along W within each row with the decay of
  ``|dc|``, then a pass along H within each column (same q and k, the first pass's output as v) with the
  decay of ``|dr|``.

Backends: ``torch`` (the reference: SDPA with a materialised mask; a mask the caller has cached is used as
given) and ``triton`` (``_triton_decay``: the decay is computed from token indices inside a fused
online-softmax kernel, forward and backward, never materialised).  ``triton`` runs CUDA tensors in fp32,
fp16 and bf16, and CPU tensors in fp32 and fp16 under Triton's interpreter (``TRITON_INTERPRET=1`` set
before the kernels are imported; its numpy arithmetic gets bf16 wrong).
"""
from __future__ import annotations

import os
from typing import Optional, Sequence, Tuple

import torch

from ..layers.decay_attention import decay_masked_attention, decomposed_decay_attention
from ._dispatch import register, resolve

__all__ = ["axial_decay_attention", "decay_attention", "decay_mask"]

_CUDA_DTYPES = (torch.float32, torch.float16, torch.bfloat16)
_INTERPRETER_DTYPES = (torch.float32, torch.float16)
_MAX_HEAD_DIM = 128  # 64-token tiles of wider heads no longer fit the kernels' registers


def decay_mask(decay: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """The (heads, HW, HW) mask ``decay[h] * (|dr| + |dc|)`` of an H x W map, in ``decay``'s dtype.

    Computed in float32 at least and rounded once, as RMT's authors build it; a 1-D decay is the mask of a
    one-row (``height=1``) or one-column (``width=1``) map.
    """
    compute = torch.promote_types(decay.dtype, torch.float32)
    index = torch.arange(height * width, device=decay.device)
    rows, cols = index.div(width, rounding_mode="floor"), index % width
    distance = (rows[:, None] - rows[None, :]).abs() + (cols[:, None] - cols[None, :]).abs()
    return (distance.to(compute) * decay.to(compute)[:, None, None]).to(decay.dtype)


def _num_heads(decay: torch.Tensor) -> int:
    if decay.ndim != 1 or not decay.is_floating_point():
        raise ValueError(f"decay must be a 1-D float tensor (one rate per head), got {decay.dtype} {tuple(decay.shape)}")
    return decay.shape[0]


def _check_inputs(q, k, v, decay, leading: Tuple[int, ...]) -> None:
    """Clear errors for shapes, dtypes and devices that no backend would compute correctly."""
    for name, t in (("q", q), ("k", k), ("v", v)):
        if tuple(t.shape[:-1]) != leading:
            raise ValueError(f"{name} has shape {tuple(t.shape)}: expected {leading} + (head_dim,)")
    if k.shape != q.shape:
        raise ValueError(f"q and k must have the same shape, got {tuple(q.shape)} and {tuple(k.shape)}")
    if len({t.device for t in (q, k, v, decay)}) != 1:
        raise ValueError("q, k, v and decay must be on the same device")
    if not q.is_floating_point() or len({t.dtype for t in (q, k, v)}) != 1:
        raise ValueError(f"q, k and v must have the same float dtype, got {q.dtype}, {k.dtype}, {v.dtype}")


def decay_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    decay: torch.Tensor,
    grid_size: Sequence[int],
    mask: Optional[torch.Tensor] = None,
) -> torch.Tensor:
    """``softmax(q @ k^T + decay[h] * manhattan(i, j)) @ v`` over the tokens of an H x W map.

    ``q``, ``k``: (B, heads, H*W, d_k), tokens row-major; ``v``: (B, heads, H*W, d_v); ``decay``: (heads,);
    ``grid_size``: (H, W).  ``mask``: ``decay_mask(decay, H, W)`` if the caller caches it (the torch
    backend uses it instead of building one; fused backends never read it).  Returns (B, heads, H*W, d_v).
    """
    H, W = grid_size
    _check_inputs(q, k, v, decay, (q.shape[0], _num_heads(decay), H * W))
    _, fn = resolve("decay_attention", q.device.type, q, k, v, decay, (H, W), mask)
    return fn(q, k, v, decay, (H, W), mask)


def axial_decay_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    decay: torch.Tensor,
    masks: Optional[Tuple[torch.Tensor, torch.Tensor]] = None,
) -> torch.Tensor:
    """RMT's decomposed decay attention on a (B, H, W, heads, d) map: along W, then along H.

    ``q``, ``k``: (B, H, W, heads, d_k); ``v``: (B, H, W, heads, d_v); ``decay``: (heads,).  ``masks``:
    ``(decay_mask(decay, H, 1), decay_mask(decay, 1, W))`` if the caller caches them (torch backend only).
    Returns (B, H, W, heads, d_v).
    """
    _check_inputs(q, k, v, decay, (*q.shape[:3], _num_heads(decay)))
    _, fn = resolve("axial_decay_attention", q.device.type, q, k, v, decay, masks)
    return fn(q, k, v, decay, masks)


@register("decay_attention", "torch")
def _decay_attention_torch(q, k, v, decay, grid_size, mask):
    return decay_masked_attention(q, k, v, decay_mask(decay, *grid_size) if mask is None else mask)


@register("axial_decay_attention", "torch")
def _axial_decay_attention_torch(q, k, v, decay, masks):
    H, W = q.shape[1:3]
    mask_h, mask_w = (decay_mask(decay, H, 1), decay_mask(decay, 1, W)) if masks is None else masks
    return decomposed_decay_attention(q, k, v, mask_h, mask_w)


def _triton_refusal(q: torch.Tensor, v: torch.Tensor, decay: torch.Tensor) -> Optional[str]:
    """None if the Triton kernels can run these tensors, else why not."""
    try:
        from . import _triton_decay
    except ImportError as e:
        return f"triton does not import ({e})"
    if q.device.type == "cuda":
        dtypes = _CUDA_DTYPES
    elif q.device.type == "cpu" and _triton_decay.INTERPRETED:
        dtypes = _INTERPRETER_DTYPES
    elif q.device.type == "cpu":
        interpret = os.environ.get("TRITON_INTERPRET")
        when = "after vitzoo imported its kernels" if interpret == "1" else "(it is not)"
        return f"CPU tensors run only under Triton's interpreter: TRITON_INTERPRET=1 must be set {when}"
    else:
        return f"no Triton kernels for {q.device.type} tensors"
    if q.dtype not in dtypes:
        return f"{q.dtype} is not supported on {q.device.type} (supported: {', '.join(map(str, dtypes))})"
    if max(q.shape[-1], v.shape[-1]) > _MAX_HEAD_DIM:
        return f"head dims above {_MAX_HEAD_DIM} are not supported (got {q.shape[-1]}, {v.shape[-1]})"
    if decay.requires_grad:
        return "the kernels give no gradient for decay"
    return None


def _supports_full(q, k, v, decay, grid_size, mask):
    return _triton_refusal(q, v, decay)


def _supports_axial(q, k, v, decay, masks):
    return _triton_refusal(q, v, decay)


@register("decay_attention", "triton", supports=_supports_full)
def _decay_attention_triton(q, k, v, decay, grid_size, mask):
    from ._triton_decay import decay_attention_triton

    # (B, heads, L, d) -> (B, 1, heads, L, d): the kernels' two batch dims.
    out = decay_attention_triton(q.unsqueeze(1), k.unsqueeze(1), v.unsqueeze(1), decay.contiguous(), grid_size[1])
    return out.squeeze(1)


@register("axial_decay_attention", "triton", supports=_supports_axial)
def _axial_decay_attention_triton(q, k, v, decay, masks):
    from ._triton_decay import decay_attention_triton

    def rows(t: torch.Tensor) -> torch.Tensor:  # (B, H, W, n, d) -> (B, H, n, W, d), a view
        return t.permute(0, 1, 3, 2, 4)

    def cols(t: torch.Tensor) -> torch.Tensor:  # (B, H, W, n, d) -> (B, W, n, H, d), a view
        return t.permute(0, 2, 3, 1, 4)

    W = q.shape[2]
    decay = decay.contiguous()
    along_w = decay_attention_triton(rows(q), rows(k), rows(v), decay, W)  # one-row grids: |dc|
    # The output has v's layout, so the column view of the W pass is again a view of a (B, H, W, n, d) map.
    along_w = along_w.permute(0, 1, 3, 2, 4)
    along_h = decay_attention_triton(cols(q), cols(k), cols(along_w), decay, 1)  # one-column grids: |dr|
    return along_h.permute(0, 3, 1, 2, 4)
