"""Rotary embedding of a map's q or k on interleaved pairs: RMT's "theta shift", :func:`rotary_embedding`.

``x * cos + rot(x) * sin`` with ``rot`` turning each pair ``(x0, x1)`` of the head dim into ``(-x1, x0)``,
computed in the promoted dtype of ``x`` and the tables (float32 tables keep a 16-bit ``x``'s rotation in
float32, as the authors' ``theta_shift`` under AMP) and returned in ``x``'s dtype, as timm's
``apply_rot_embed`` does.  It sits beside the attention ops, outside the decay kernels: every attention backend
reads rotated q and k, and the rotation is elementwise.

Backends (:mod:`vitzoo.ops._dispatch`, the attention ops' rule and overrides): ``torch`` (timm's
``apply_rot_embed``, about six passes over the tensor with float32 intermediates for 16-bit ``x``) and
``triton`` (:mod:`._triton_rotary`: one pass forward, one backward, always in float32 -- the same numbers
for float32 tables, fewer roundings for 16-bit ones; CUDA in fp32/fp16/bf16, the CPU interpreter in
fp32/fp16).  xformers has no such op: forcing it leaves this op to the default order.
"""
from __future__ import annotations

from typing import Optional

import torch
from timm.layers import apply_rot_embed

from ._dispatch import register, resolve, triton_device_refusal

__all__ = ["rotary_embedding"]

OP = "rotary_embedding"


def _check_inputs(x: torch.Tensor, sin: torch.Tensor, cos: torch.Tensor) -> None:
    if x.dim() != 5 or x.shape[-1] % 2:
        raise ValueError(f"x must be a (B, H, W, heads, d) map with an even head dim d, got {tuple(x.shape)}")
    table_shape = (*x.shape[1:3], 1, x.shape[-1])
    for name, t in (("sin", sin), ("cos", cos)):
        if tuple(t.shape) != table_shape:
            raise ValueError(f"{name} must be (H, W, 1, d) = {table_shape} for x of shape {tuple(x.shape)}, "
                             f"got {tuple(t.shape)}")
        if not t.is_floating_point():
            raise TypeError(f"{name} must be a floating-point tensor, got {t.dtype}")
    if not x.is_floating_point():
        raise TypeError(f"x must be a floating-point tensor, got {x.dtype}")
    if len({x.device, sin.device, cos.device}) != 1:
        raise ValueError("x, sin and cos must be on the same device")


def rotary_embedding(x: torch.Tensor, sin: torch.Tensor, cos: torch.Tensor) -> torch.Tensor:
    """``x * cos + rot(x) * sin`` of x (B, H, W, heads, d) with tables sin, cos (H, W, 1, d), in x's dtype."""
    _check_inputs(x, sin, cos)
    _, impl = resolve(OP, x.device.type, x, sin, cos)
    return impl(x, sin, cos)


@register(OP, "torch")
def _rotary_embedding_torch(x, sin, cos):
    return apply_rot_embed(x, sin, cos)


def _triton_unsupported(x: torch.Tensor, sin: torch.Tensor, cos: torch.Tensor) -> Optional[str]:
    refusal = triton_device_refusal("_triton_rotary", x.device.type)
    if refusal:
        return refusal
    dtypes = (torch.float32, torch.float16) if x.device.type == "cpu" else (torch.float32, torch.float16,
                                                                             torch.bfloat16)
    if any(t.dtype not in dtypes for t in (x, sin, cos)):
        return f"x {x.dtype}, tables {sin.dtype}/{cos.dtype}: supported on {x.device.type}: {dtypes}"
    if sin.requires_grad or cos.requires_grad:
        return "the kernel gives no gradient for the sin/cos tables"
    return None


@register(OP, "triton", supports=_triton_unsupported)
def _rotary_embedding_triton(x, sin, cos):
    from ._triton_rotary import rotary_embedding_triton

    return rotary_embedding_triton(x, sin, cos)
