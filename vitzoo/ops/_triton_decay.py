"""Triton kernels of decay-masked attention: ``softmax(q @ k^T + decay[h] * (|dr| + |dc|)) @ v``.

The Manhattan distance between query token ``i`` and key token ``j`` of a ``grid_h x grid_w`` map comes
from their row-major indices (row ``i // grid_w``, column ``i % grid_w``), so no mask tensor exists: the
forward pass is an online softmax over key blocks (FlashAttention), the backward pass recomputes the
probabilities block by block from the saved log-sum-exp.  A 1-D decay is the same kernel on a one-row
(``grid_w = L``) or one-column (``grid_w = 1``) grid, which is how the axial form runs.

Tensors are 5-D strided views ``(Z1, Z2, heads, L, d)``: two batch dims let the axial passes read rows
``(B, H, heads, W, d)`` and columns ``(B, W, heads, H, d)`` of a ``(B, H, W, heads, d)`` map without a copy.
Every load and store is masked, so any L and head dim run (blocks are padded to powers of two).

The module reads ``TRITON_INTERPRET`` when it is imported, as ``triton.jit`` does: ``INTERPRETED`` says
whether these kernels run on CPU tensors.
"""
from __future__ import annotations

import os
from typing import NamedTuple, Optional

import torch
import triton
import triton.language as tl

__all__ = ["INTERPRETED", "decay_attention_triton"]

INTERPRETED = os.environ.get("TRITON_INTERPRET") == "1"
_LOG2E: tl.constexpr = tl.constexpr(1.4426950408889634)


@triton.jit
def _decay_bias(offs_m, offs_n, grid_w, decay, MASK_TY: tl.constexpr, LOGIT_TY: tl.constexpr):
    """(BLOCK_M, BLOCK_N) fp32 bias ``decay * (|dr| + |dc|)``, rounded as the reference's mask tensor is."""
    dr = tl.abs(offs_m[:, None] // grid_w - offs_n[None, :] // grid_w)
    dc = tl.abs(offs_m[:, None] % grid_w - offs_n[None, :] % grid_w)
    bias = (dr + dc).to(tl.float32) * decay
    # The reference stores the mask in decay's dtype and adds it in q's dtype.
    return bias.to(MASK_TY).to(LOGIT_TY).to(tl.float32)


@triton.jit
def _head(T, s, pid_zh, Z2, HEADS):
    """``T`` at (z1, z2, head) of a program id that enumerates them row-major; ``s``: T's 5 strides."""
    z = pid_zh // HEADS
    return T + (z // Z2) * s[0] + (z % Z2) * s[1] + (pid_zh % HEADS) * s[2]


@triton.jit
def _tile(base, s, offs_l, offs_d, L, D):
    """Pointers and in-bounds mask of the (tokens, head dim) tile at ``offs_l`` x ``offs_d``."""
    return base + offs_l[:, None] * s[3] + offs_d[None, :] * s[4], (offs_l[:, None] < L) & (offs_d[None, :] < D)


@triton.jit
def _load(base, s, offs_l, offs_d, L, D):
    ptrs, mask = _tile(base, s, offs_l, offs_d, L, D)
    return tl.load(ptrs, mask=mask, other=0.0)


@triton.jit
def _store(base, s, offs_l, offs_d, L, D, value):
    ptrs, mask = _tile(base, s, offs_l, offs_d, L, D)
    tl.store(ptrs, value.to(base.dtype.element_ty), mask=mask)


@triton.jit
def _program(Decay, HEADS, BLOCK: tl.constexpr, BLOCK_DQK: tl.constexpr, BLOCK_DV: tl.constexpr):
    """This program's (z1, z2, head) id, its token block, the head-dim ranges and the head's decay."""
    pid_zh = tl.program_id(0)
    offs = tl.program_id(1) * BLOCK + tl.arange(0, BLOCK)
    decay = tl.load(Decay + pid_zh % HEADS).to(tl.float32)
    return pid_zh, offs, tl.arange(0, BLOCK_DQK), tl.arange(0, BLOCK_DV), decay


@triton.jit
def _decay_fwd_kernel(
    Q, K, V, Decay, Out, Lse, q_s, k_s, v_s, o_s, Z2, HEADS, L, D_QK, D_V, grid_w,
    BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_DQK: tl.constexpr, BLOCK_DV: tl.constexpr,
    DOT_PRECISION: tl.constexpr,
):
    """Output rows of one query block and their log2-sum-exp, over all key blocks (online softmax)."""
    pid_zh, offs_m, offs_dqk, offs_dv, decay = _program(Decay, HEADS, BLOCK_M, BLOCK_DQK, BLOCK_DV)
    k_base = _head(K, k_s, pid_zh, Z2, HEADS)
    v_base = _head(V, v_s, pid_zh, Z2, HEADS)
    q = _load(_head(Q, q_s, pid_zh, Z2, HEADS), q_s, offs_m, offs_dqk, L, D_QK)

    m_i = tl.full((BLOCK_M,), float("-inf"), tl.float32)
    l_i = tl.zeros((BLOCK_M,), tl.float32)
    acc = tl.zeros((BLOCK_M, BLOCK_DV), tl.float32)
    for start_n in range(0, L, BLOCK_N):
        offs_n = start_n + tl.arange(0, BLOCK_N)
        k = _load(k_base, k_s, offs_n, offs_dqk, L, D_QK)
        v = _load(v_base, v_s, offs_n, offs_dv, L, D_V)
        s = tl.dot(q, tl.trans(k), input_precision=DOT_PRECISION)
        s += _decay_bias(offs_m, offs_n, grid_w, decay, Decay.dtype.element_ty, Q.dtype.element_ty)
        s = tl.where(offs_n[None, :] < L, s * _LOG2E, float("-inf"))  # base-2 logits
        # The first key block always holds token 0, so m_new is finite from the first iteration on.
        m_new = tl.maximum(m_i, tl.max(s, 1))
        p = tl.exp2(s - m_new[:, None])
        alpha = tl.exp2(m_i - m_new)
        l_i = l_i * alpha + tl.sum(p, 1)
        acc = acc * alpha[:, None] + tl.dot(p.to(v.dtype), v, input_precision=DOT_PRECISION)
        m_i = m_new

    _store(_head(Out, o_s, pid_zh, Z2, HEADS), o_s, offs_m, offs_dv, L, D_V, acc / l_i[:, None])
    tl.store(Lse + pid_zh * L + offs_m, m_i + tl.log2(l_i), mask=offs_m < L)


@triton.jit
def _row_stats(Lse, Delta, pid_zh, offs_m, L):
    """The forward pass's log2-sum-exp and ``rowsum(dO * O)`` of the query rows ``offs_m``."""
    lse = tl.load(Lse + pid_zh * L + offs_m, mask=offs_m < L, other=0.0)
    return lse, tl.load(Delta + pid_zh * L + offs_m, mask=offs_m < L, other=0.0)


@triton.jit
def _probs_and_dlogits(
    q, k, v, do, lse, delta, offs_m, offs_n, L, grid_w, decay,
    MASK_TY: tl.constexpr, LOGIT_TY: tl.constexpr, DOT_PRECISION: tl.constexpr,
):
    """Probabilities P and dLoss/dlogits ``P * (dP - delta)`` of one (query, key) tile, recomputed."""
    s = tl.dot(q, tl.trans(k), input_precision=DOT_PRECISION)
    s += _decay_bias(offs_m, offs_n, grid_w, decay, MASK_TY, LOGIT_TY)
    p = tl.exp2(s * _LOG2E - lse[:, None])
    p = tl.where((offs_m[:, None] < L) & (offs_n[None, :] < L), p, 0.0)
    dp = tl.dot(do, tl.trans(v), input_precision=DOT_PRECISION)
    return p, p * (dp - delta[:, None])


@triton.jit
def _decay_bwd_dkdv_kernel(
    Q, K, V, Decay, DO, Lse, Delta, DK, DV, q_s, k_s, v_s, do_s, dk_s, dv_s, Z2, HEADS, L, D_QK, D_V, grid_w,
    BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_DQK: tl.constexpr, BLOCK_DV: tl.constexpr,
    DOT_PRECISION: tl.constexpr,
):
    """dK and dV of one key block, summed over all query blocks."""
    pid_zh, offs_n, offs_dqk, offs_dv, decay = _program(Decay, HEADS, BLOCK_N, BLOCK_DQK, BLOCK_DV)
    q_base = _head(Q, q_s, pid_zh, Z2, HEADS)
    do_base = _head(DO, do_s, pid_zh, Z2, HEADS)
    k = _load(_head(K, k_s, pid_zh, Z2, HEADS), k_s, offs_n, offs_dqk, L, D_QK)
    v = _load(_head(V, v_s, pid_zh, Z2, HEADS), v_s, offs_n, offs_dv, L, D_V)

    dk = tl.zeros((BLOCK_N, BLOCK_DQK), tl.float32)
    dv = tl.zeros((BLOCK_N, BLOCK_DV), tl.float32)
    for start_m in range(0, L, BLOCK_M):
        offs_m = start_m + tl.arange(0, BLOCK_M)
        q = _load(q_base, q_s, offs_m, offs_dqk, L, D_QK)
        do = _load(do_base, do_s, offs_m, offs_dv, L, D_V)
        lse, delta = _row_stats(Lse, Delta, pid_zh, offs_m, L)
        p, ds = _probs_and_dlogits(
            q, k, v, do, lse, delta, offs_m, offs_n, L, grid_w, decay,
            Decay.dtype.element_ty, Q.dtype.element_ty, DOT_PRECISION,
        )
        dv += tl.dot(tl.trans(p).to(do.dtype), do, input_precision=DOT_PRECISION)
        dk += tl.dot(tl.trans(ds).to(q.dtype), q, input_precision=DOT_PRECISION)

    _store(_head(DK, dk_s, pid_zh, Z2, HEADS), dk_s, offs_n, offs_dqk, L, D_QK, dk)
    _store(_head(DV, dv_s, pid_zh, Z2, HEADS), dv_s, offs_n, offs_dv, L, D_V, dv)


@triton.jit
def _decay_bwd_dq_kernel(
    Q, K, V, Decay, DO, Lse, Delta, DQ, q_s, k_s, v_s, do_s, dq_s, Z2, HEADS, L, D_QK, D_V, grid_w,
    BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_DQK: tl.constexpr, BLOCK_DV: tl.constexpr,
    DOT_PRECISION: tl.constexpr,
):
    """dQ of one query block, summed over all key blocks (a second kernel: no atomics, deterministic)."""
    pid_zh, offs_m, offs_dqk, offs_dv, decay = _program(Decay, HEADS, BLOCK_M, BLOCK_DQK, BLOCK_DV)
    k_base = _head(K, k_s, pid_zh, Z2, HEADS)
    v_base = _head(V, v_s, pid_zh, Z2, HEADS)
    q = _load(_head(Q, q_s, pid_zh, Z2, HEADS), q_s, offs_m, offs_dqk, L, D_QK)
    do = _load(_head(DO, do_s, pid_zh, Z2, HEADS), do_s, offs_m, offs_dv, L, D_V)
    lse, delta = _row_stats(Lse, Delta, pid_zh, offs_m, L)

    dq = tl.zeros((BLOCK_M, BLOCK_DQK), tl.float32)
    for start_n in range(0, L, BLOCK_N):
        offs_n = start_n + tl.arange(0, BLOCK_N)
        k = _load(k_base, k_s, offs_n, offs_dqk, L, D_QK)
        v = _load(v_base, v_s, offs_n, offs_dv, L, D_V)
        _, ds = _probs_and_dlogits(
            q, k, v, do, lse, delta, offs_m, offs_n, L, grid_w, decay,
            Decay.dtype.element_ty, Q.dtype.element_ty, DOT_PRECISION,
        )
        dq += tl.dot(ds.to(k.dtype), k, input_precision=DOT_PRECISION)

    _store(_head(DQ, dq_s, pid_zh, Z2, HEADS), dq_s, offs_m, offs_dqk, L, D_QK, dq)


class _Tiles(NamedTuple):
    block_m: int  # queries per program (dq) and per loop step (dk/dv)
    block_n: int  # keys per program (dk/dv) and per loop step (forward, dq)
    warps: int  # of the forward and dq kernels
    dkdv_warps: int  # the dk/dv kernel holds two accumulators and k, v: it may need more warps
    fwd_block_m: int  # queries per forward program: it holds one accumulator, so it can take more rows


def _tiles(dtype: torch.dtype, d_qk: int, d_v: int) -> _Tiles:
    """Tile sizes and warps of the three kernels.

    The interpreter runs one program at a time in Python: fewer, larger blocks are faster there.  On a GPU
    the tiles were chosen with tools/compile_kernels.py so that no kernel spills registers on sm_80 and
    sm_90, at the model stages' shapes and on small ragged maps: fp32 operands are multiplied without tensor
    cores and need small tiles spread over 8 warps (decay_attention refuses fp32 above head dim 64, where
    every size tried spills), and 16-bit heads wider than 32 halve the key block, so that the dk/dv kernel's
    two accumulators fit beside its k, v tiles (at 64 x 64 it sits at the 255-register limit and spills on
    sm_80).  Timed on an H100 (model_cards/kernels.md), 128-query forward programs at head dim 32 took
    0.7-0.9x the time of 64-query ones at RMT-T's 1024x1024 stage shapes; for the backward no other size
    tried was faster.
    """
    if INTERPRETED:
        return _Tiles(32, 32, 4, 4, 32)
    head_dim = max(d_qk, d_v)
    if dtype == torch.float32:
        return _Tiles(32, 32, 8, 8, 32) if head_dim <= 32 else _Tiles(16, 32, 4, 8, 16)
    return _Tiles(64, 64, 4, 4, 128) if head_dim <= 32 else _Tiles(64, 32, 4, 4, 64)


def _constants(q: torch.Tensor, v: torch.Tensor, tiles: _Tiles, block_m: Optional[int] = None) -> dict:
    """Sizes and compile-time constants shared by the three kernels (``block_m``: other than ``tiles``')."""
    _, Z2, heads, L, d_qk = q.shape
    d_v = v.shape[-1]
    # fp32 products stay fp32 unless torch itself allows TF32 (its SDPA reference follows the same flag).
    tf32 = q.dtype == torch.float32 and q.is_cuda and torch.backends.cuda.matmul.allow_tf32
    return dict(
        Z2=Z2, HEADS=heads, L=L, D_QK=d_qk, D_V=d_v, BLOCK_M=block_m or tiles.block_m, BLOCK_N=tiles.block_n,
        # tl.dot needs every dimension of a tile to be at least 16.
        BLOCK_DQK=max(16, triton.next_power_of_2(d_qk)), BLOCK_DV=max(16, triton.next_power_of_2(d_v)),
        DOT_PRECISION="tf32" if tf32 else "ieee",
    )


def _launch_grid(q: torch.Tensor, block: int) -> tuple[int, int]:
    # (batch x heads, token blocks of the program's own side): the first grid axis has the largest limit
    # (2^31 - 1, not 65535).
    Z1, Z2, heads, L, _ = q.shape
    return Z1 * Z2 * heads, triton.cdiv(L, block)


class _DecayAttention(torch.autograd.Function):
    @staticmethod
    def forward(ctx, q, k, v, decay, grid_w):
        out = torch.empty_like(v)  # v's layout: the axial passes write straight into a (B, H, W, n, d) map
        Z1, Z2, heads, L, _ = q.shape
        lse = torch.empty((Z1 * Z2 * heads, L), device=q.device, dtype=torch.float32)
        tiles = _tiles(q.dtype, q.shape[-1], v.shape[-1])
        _decay_fwd_kernel[_launch_grid(q, tiles.fwd_block_m)](
            q, k, v, decay, out, lse, q.stride(), k.stride(), v.stride(), out.stride(), grid_w=grid_w,
            num_warps=tiles.warps, **_constants(q, v, tiles, tiles.fwd_block_m),
        )
        ctx.save_for_backward(q, k, v, decay, out, lse)
        ctx.grid_w = grid_w
        return out

    @staticmethod
    def backward(ctx, d_out):
        q, k, v, decay, out, lse = ctx.saved_tensors
        # delta_i = sum_j P_ij dP_ij = dO_i . O_i: one fp32 number per query row, laid out as lse.
        delta = (d_out.float() * out.float()).sum(-1).reshape(lse.shape).contiguous()
        dq, dk, dv = torch.empty_like(q), torch.empty_like(k), torch.empty_like(v)
        inputs = (q, k, v, decay, d_out, lse, delta)
        strides = (q.stride(), k.stride(), v.stride(), d_out.stride())
        tiles = _tiles(q.dtype, q.shape[-1], v.shape[-1])
        constants = dict(grid_w=ctx.grid_w, **_constants(q, v, tiles))
        _decay_bwd_dkdv_kernel[_launch_grid(q, tiles.block_n)](
            *inputs, dk, dv, *strides, dk.stride(), dv.stride(), num_warps=tiles.dkdv_warps, **constants
        )
        _decay_bwd_dq_kernel[_launch_grid(q, tiles.block_m)](
            *inputs, dq, *strides, dq.stride(), num_warps=tiles.warps, **constants
        )
        return dq, dk, dv, None, None


def decay_attention_triton(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, decay: torch.Tensor, grid_w: int
) -> torch.Tensor:
    """``softmax(q @ k^T + decay[h] * manhattan(i, j)) @ v`` on 5-D views (Z1, Z2, heads, L, d).

    Tokens are row-major on a grid ``grid_w`` wide (``grid_w = L``: one row; ``1``: one column).  The
    output has ``v``'s shape and layout.  Gradients flow to q, k and v, not to ``decay``.
    """
    return _DecayAttention.apply(q, k, v, decay, grid_w)
