"""Triton kernel of the rotary embedding on interleaved pairs (RMT's "theta shift"), forward and backward.

One pass over the tensor each way: a program loads a block of (token, head) rows of ``x`` (B, H, W, heads, d),
the same rows with each pair's two lanes swapped, and the rows of the (H*W, d) sin/cos tables of their
tokens; it computes ``x * cos + rot(x) * sin`` in float32 (``rot``: ``(x0, x1) -> (-x1, x0)`` per pair) and
stores it in ``x``'s dtype.  The backward is the transposed rotation of the output gradient, the same pass.
torch's path (timm's ``apply_rot_embed``) makes about six passes, with float32 intermediates when the
tables are float32 and ``x`` is 16-bit.

The module reads ``TRITON_INTERPRET`` when it is imported, as ``triton.jit`` does: ``INTERPRETED`` says
whether the kernel runs on CPU tensors.
"""
from __future__ import annotations

import os

import torch
import triton
import triton.language as tl

__all__ = ["INTERPRETED", "rotary_embedding_triton"]

INTERPRETED = os.environ.get("TRITON_INTERPRET") == "1"
_ELEMENTS_PER_PROGRAM = 4096  # rows x head dim per program: 16 KB of float32 per loaded tile at 4 warps


@triton.jit
def _rotate_kernel(
    X, Sin, Cos, Out, rows, heads, tokens, D,
    BLOCK_ROWS: tl.constexpr, BLOCK_D: tl.constexpr, TRANSPOSED: tl.constexpr,
):
    offs_r = (tl.program_id(0) * BLOCK_ROWS + tl.arange(0, BLOCK_ROWS)).to(tl.int64)
    offs_d = tl.arange(0, BLOCK_D)
    pair = offs_d ^ 1  # the other lane of each (even, odd) pair
    even = (offs_d % 2 == 0)[None, :]
    in_bounds = (offs_r[:, None] < rows) & (offs_d[None, :] < D)
    row = offs_r[:, None] * D
    table = ((offs_r // heads) % tokens)[:, None] * D  # x's rows are (batch, token, head), tokens row-major
    x = tl.load(X + row + offs_d[None, :], mask=in_bounds, other=0.0).to(tl.float32)
    x_pair = tl.load(X + row + pair[None, :], mask=in_bounds, other=0.0).to(tl.float32)
    cos = tl.load(Cos + table + offs_d[None, :], mask=in_bounds, other=0.0).to(tl.float32)
    if TRANSPOSED:
        # rot^T (y0, y1) = (y1, -y0): grad[d] = g[d] cos[d] +- g[pair] sin[pair]
        sin_pair = tl.load(Sin + table + pair[None, :], mask=in_bounds, other=0.0).to(tl.float32)
        out = x * cos + tl.where(even, x_pair, -x_pair) * sin_pair
    else:
        sin = tl.load(Sin + table + offs_d[None, :], mask=in_bounds, other=0.0).to(tl.float32)
        out = x * cos + tl.where(even, -x_pair, x_pair) * sin
    tl.store(Out + row + offs_d[None, :], out.to(Out.dtype.element_ty), mask=in_bounds)


def _rotate(x: torch.Tensor, sin: torch.Tensor, cos: torch.Tensor, transposed: bool) -> torch.Tensor:
    """x (B, H, W, heads, d) contiguous; sin, cos (H*W, d) contiguous."""
    out = torch.empty_like(x)
    heads, d = x.shape[-2:]
    rows = x.numel() // d
    block_d = triton.next_power_of_2(d)
    block_rows = max(1, _ELEMENTS_PER_PROGRAM // block_d)
    _rotate_kernel[(triton.cdiv(rows, block_rows),)](
        x, sin, cos, out, rows, heads, sin.shape[0], d,
        BLOCK_ROWS=block_rows, BLOCK_D=block_d, TRANSPOSED=transposed, num_warps=4,
    )
    return out


class _RotaryEmbedding(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, sin, cos):
        ctx.save_for_backward(sin, cos)
        return _rotate(x, sin, cos, transposed=False)

    @staticmethod
    def backward(ctx, grad_out):
        sin, cos = ctx.saved_tensors
        return _rotate(grad_out.contiguous(), sin, cos, transposed=True), None, None


def rotary_embedding_triton(x: torch.Tensor, sin: torch.Tensor, cos: torch.Tensor) -> torch.Tensor:
    """``x * cos + rot(x) * sin`` of x (B, H, W, heads, d) with sin, cos (H, W, 1, d), in x's dtype."""
    d = x.shape[-1]
    return _RotaryEmbedding.apply(x.contiguous(), sin.reshape(-1, d).contiguous(), cos.reshape(-1, d).contiguous())
