"""Triton kernels of :func:`vitzoo.ops.window_attention` (forward, backward) and their autograd Function.

A window's tokens are found from their indices (rolled position -> source position ``(p + shift) % padded
side``; a source beyond H or W is a pad token, whose q, k, v are ``pad_qkv``), the bias is gathered from the
table with the relative-position index computed in the kernel, the shift mask comes from comparing the
tokens' region ids (the authors' three slices per axis), and outputs and gradients are written straight
back to map layout.  Nothing of size (windows, N, N) is ever stored.

The work is split as FlashAttention-2 splits it, with the window as the sequence:

* forward: one program per (window, head, block of ``BLOCK_M`` queries) holds its (BLOCK_M, N_PAD) scores
  against the whole window, writes the output rows and saves their log-sum-exp (float32, map layout);
* backward: ``delta = rowsum(dout * out)`` (torch), then a dq kernel per query block that also sums its rows
  of the bias gradient over ``WINDOWS_PER_PROGRAM`` windows in registers (one atomic add per program), and a
  dk/dv kernel per block of ``BLOCK_N`` keys that loops over the query blocks and sums the pad tokens' k, v
  gradients (which flow into the qkv bias) over its windows.  Where one query block is the whole window
  (small windows in half precision), the dq kernel has every (query, key) pair and computes dk, dv too, so
  the backward is one pass over memory.

Tile sizes and warps per (dtype, tokens, head dim) are in :data:`_TILES`, chosen so that no kernel spills
registers on sm_80 / sm_90; float32 windows larger than 8 with head dims above 64 do not fit (the window's
keys and values alone exceed shared memory) and fall back.  Window and head dim are compile-time constants
padded to powers of two (at least 16, as tl.dot needs); padded lanes are masked on every load and store, so
any H, W is safe.
"""
from __future__ import annotations

import functools
import math
import os
from typing import NamedTuple, Optional

import torch
import triton
import triton.language as tl

from ..layers.window import SHIFT_MASK_VALUE, relative_position_index, table_window

# Kernels decorated while TRITON_INTERPRET=1 run on CPU tensors through Triton's interpreter.
INTERPRETED = os.environ.get("TRITON_INTERPRET") == "1"

_SHIFT_MASK = tl.constexpr(SHIFT_MASK_VALUE)
MAX_TOKENS = 256  # window 16: the dq kernel holds (BLOCK_M, N_PAD) scores of a whole window's keys
MAX_HEAD_DIM = 128


def unsupported_reason(dtype: torch.dtype, window: int, head_dim: int) -> Optional[str]:
    """Why the kernels cannot run these shapes / this dtype, or None."""
    dtypes = (torch.float32, torch.float16) if INTERPRETED else (torch.float32, torch.float16, torch.bfloat16)
    if dtype not in dtypes:
        where = "Triton's CPU interpreter" if INTERPRETED else "the kernel"
        return f"{where} does not support {dtype} (supported: {', '.join(map(str, dtypes))})"
    if window * window > MAX_TOKENS:
        return f"window {window} has more than {MAX_TOKENS} tokens"
    if head_dim > MAX_HEAD_DIM:
        return f"head dim {head_dim} is larger than {MAX_HEAD_DIM}"
    if dtype == torch.float32 and window * window > 64 and head_dim > 64:
        # a program holds the whole window's keys and values: 2 x 256 x 128 float32 exceed shared memory
        return f"float32 windows larger than 8 need head dim <= 64, got {head_dim} (use float16 or bfloat16)"
    return None


@triton.jit
def _window_origin(win, windows_w, windows_per_image, WINDOW: tl.constexpr):
    """Batch and top-left (row, col) on the rolled, padded map of window ``win``."""
    batch = (win // windows_per_image).to(tl.int64)
    window_in_image = win % windows_per_image
    return batch, (window_in_image // windows_w) * WINDOW, (window_in_image % windows_w) * WINDOW


@triton.jit
def _head_lanes(head_dim, D_PAD: tl.constexpr):
    """This program's head (grid axis 1), its head-dim lanes, which of them are real, and its first channel."""
    head = tl.program_id(1)
    d = tl.arange(0, D_PAD)
    return head, d, d < head_dim, head * head_dim


@triton.jit
def _tokens(t, batch, top, left, live, H, W, Hp, Wp, shift, WINDOW: tl.constexpr):
    """Tokens ``t`` (in-window indices) of a window: rolled (row, col), index into the (B, H, W) map, in-window
    and in-map flags (both false for a window that is not ``live``, past the last one)."""
    in_window = (t < WINDOW * WINDOW) & live
    row = top + t // WINDOW
    col = left + t % WINDOW
    src_row = (row + shift) % Hp
    src_col = (col + shift) % Wp
    in_map = in_window & (src_row < H) & (src_col < W)
    return row, col, (batch * H + src_row) * W + src_col, in_window, in_map


@triton.jit
def _head_ptrs(ptr, index, row_len, channel, d):
    """Pointers to one head's channels of tokens ``index`` of a contiguous (B, H, W, row_len) map."""
    return ptr + index[:, None] * row_len + channel + d[None, :]


@triton.jit
def _load_head(ptr, pad_ptr, index, row_len, channel, d, d_ok, in_window, in_map):
    """(tokens, D_PAD) slice of q, k or v of one head: the map's values, ``pad_qkv`` on pad tokens, else 0."""
    x = tl.load(_head_ptrs(ptr, index, row_len, channel, d), mask=in_map[:, None] & d_ok[None, :], other=0.0)
    pad = tl.load(pad_ptr + channel + d, mask=d_ok, other=0.0)
    return tl.where((in_window & ~in_map)[:, None], pad[None, :], x)


@triton.jit
def _store_head(ptr, index, row_len, channel, d, d_ok, in_map, value):
    tl.store(_head_ptrs(ptr, index, row_len, channel, d), value.to(ptr.dtype.element_ty),
             mask=in_map[:, None] & d_ok[None, :])


@triton.jit
def _region(pos, side, shift, WINDOW: tl.constexpr):
    """The authors' region id along one axis of the rolled map: [0, -window), [-window, -shift), [-shift, end)."""
    return (pos >= side - WINDOW).to(tl.int32) + (pos >= side - shift).to(tl.int32)


@triton.jit
def _logits(
    q, k, tq, tk, row_q, col_q, row_k, col_k, in_window_q, in_window_k, table_ptr, stride_table, head,
    table_window, Hp, Wp, shift, scale,
    WINDOW: tl.constexpr, SHIFTED: tl.constexpr, DOT_PRECISION: tl.constexpr,
):
    """``q k^T * scale + bias + shift mask`` of queries ``tq`` and keys ``tk`` in float32; -inf past the window."""
    scores = tl.dot(q, tl.trans(k), input_precision=DOT_PRECISION) * scale
    # table row of (d_row + T - 1, d_col + T - 1): a difference of per-token terms, one (M, N) integer tile
    side = 2 * table_window - 1
    index = ((tq // WINDOW) * side + tq % WINDOW)[:, None] - ((tk // WINDOW) * side + tk % WINDOW)[None, :]
    index += (table_window - 1) * (side + 1)
    pair = in_window_q[:, None] & in_window_k[None, :]
    bias = tl.load(table_ptr + index * stride_table + head, mask=pair, other=0.0)
    # the reference adds the bias in the activations' dtype
    scores += bias.to(q.dtype).to(tl.float32)
    if SHIFTED:
        region_q = _region(row_q, Hp, shift, WINDOW) * 3 + _region(col_q, Wp, shift, WINDOW)
        region_k = _region(row_k, Hp, shift, WINDOW) * 3 + _region(col_k, Wp, shift, WINDOW)
        scores += tl.where(region_q[:, None] != region_k[None, :], _SHIFT_MASK, 0.0)
    return tl.where(in_window_k[None, :], scores, float("-inf"))


@triton.jit
def _keys(qkv_ptr, pad_ptr, tk, batch, top, left, live, H, W, Hp, Wp, shift, C, channel, d, d_ok,
          WINDOW: tl.constexpr):
    """Keys ``tk`` of a window: their k, v and token data (rolled row, col, map index, in-window, in-map)."""
    row, col, index, in_window, in_map = _tokens(tk, batch, top, left, live, H, W, Hp, Wp, shift, WINDOW)
    k = _load_head(qkv_ptr, pad_ptr, index, 3 * C, C + channel, d, d_ok, in_window, in_map)
    v = _load_head(qkv_ptr, pad_ptr, index, 3 * C, 2 * C + channel, d, d_ok, in_window, in_map)
    return k, v, row, col, index, in_window, in_map


@triton.jit
def _group_keys(
    i, tk, num_windows, windows_w, windows_per_image, qkv_ptr, pad_ptr, H, W, Hp, Wp, shift, C, channel, d, d_ok,
    PER_PROGRAM: tl.constexpr, WINDOW: tl.constexpr,
):
    """Window ``i`` of this program's group of ``PER_PROGRAM``: batch, top, left, whether it exists (the last
    group may be ragged), and its keys ``tk`` as :func:`_keys` gives them."""
    win = tl.program_id(0) * PER_PROGRAM + i
    live = win < num_windows
    batch, top, left = _window_origin(win, windows_w, windows_per_image, WINDOW)
    k, v, row, col, index, in_window, in_map = _keys(
        qkv_ptr, pad_ptr, tk, batch, top, left, live, H, W, Hp, Wp, shift, C, channel, d, d_ok, WINDOW
    )
    return batch, top, left, live, k, v, row, col, index, in_window, in_map


@triton.jit
def _recompute(
    qkv_ptr, pad_ptr, dout_ptr, lse_ptr, delta_ptr, table_ptr, stride_table, tq, batch, top, left, live,
    k, v, tk, row_k, col_k, in_window_k, H, W, Hp, Wp, shift, scale, C, channel, head, heads, table_window, d, d_ok,
    WINDOW: tl.constexpr, SHIFTED: tl.constexpr, DOT_PRECISION: tl.constexpr,
):
    """Queries ``tq`` of a window against keys ``tk``: q, dout, the queries' map index and in-map flags, the
    probabilities P (from the saved log-sum-exp) and dLoss/dlogits ``P * (dP - delta)``.

    Pad queries have no saved statistics and no output gradient: their rows are zero (they add nothing
    to any gradient)."""
    row_q, col_q, index_q, in_window_q, in_map_q = _tokens(tq, batch, top, left, live, H, W, Hp, Wp, shift, WINDOW)
    q = _load_head(qkv_ptr, pad_ptr, index_q, 3 * C, channel, d, d_ok, in_window_q, in_map_q)
    dout = tl.load(_head_ptrs(dout_ptr, index_q, C, channel, d), mask=in_map_q[:, None] & d_ok[None, :], other=0.0)
    lse = tl.load(lse_ptr + index_q * heads + head, mask=in_map_q, other=0.0)
    delta = tl.load(delta_ptr + index_q * heads + head, mask=in_map_q, other=0.0)
    logits = _logits(
        q, k, tq, tk, row_q, col_q, row_k, col_k, in_window_q, in_window_k, table_ptr, stride_table, head,
        table_window, Hp, Wp, shift, scale, WINDOW, SHIFTED, DOT_PRECISION,
    )
    p = tl.where(in_map_q[:, None], tl.exp(logits - lse[:, None]), 0.0)
    dp = tl.dot(dout, tl.trans(v), input_precision=DOT_PRECISION)
    return q, dout, index_q, in_map_q, p, p * (dp - delta[:, None])


@triton.jit
def _store_dkdv(dqkv_ptr, index, C, channel, d, d_ok, in_window, in_map, dk, dv):
    """Write dk, dv of in-map keys; return the column sums of pad keys' dk, dv (the qkv bias's share)."""
    _store_head(dqkv_ptr, index, 3 * C, C + channel, d, d_ok, in_map, dk)
    _store_head(dqkv_ptr, index, 3 * C, 2 * C + channel, d, d_ok, in_map, dv)
    is_pad = (in_window & ~in_map)[:, None]
    return tl.sum(tl.where(is_pad, dk, 0.0), axis=0), tl.sum(tl.where(is_pad, dv, 0.0), axis=0)


@triton.jit
def _window_attention_fwd(
    qkv_ptr, pad_ptr, table_ptr, out_ptr, lse_ptr,
    H, W, Hp, Wp, windows_w, windows_per_image, shift, scale, C, head_dim, heads, table_window, stride_table,
    WINDOW: tl.constexpr, N_PAD: tl.constexpr, D_PAD: tl.constexpr, BLOCK_M: tl.constexpr,
    SHIFTED: tl.constexpr, DOT_PRECISION: tl.constexpr,
):
    """Output rows of one block of queries of one window and head, and their natural log-sum-exp."""
    head, d, d_ok, channel = _head_lanes(head_dim, D_PAD)
    batch, top, left = _window_origin(tl.program_id(0), windows_w, windows_per_image, WINDOW)
    tq = tl.program_id(2) * BLOCK_M + tl.arange(0, BLOCK_M)
    tk = tl.arange(0, N_PAD)
    row_q, col_q, index_q, in_window_q, in_map_q = _tokens(tq, batch, top, left, True, H, W, Hp, Wp, shift, WINDOW)
    q = _load_head(qkv_ptr, pad_ptr, index_q, 3 * C, channel, d, d_ok, in_window_q, in_map_q)
    k, v, row_k, col_k, _, in_window_k, _ = _keys(
        qkv_ptr, pad_ptr, tk, batch, top, left, True, H, W, Hp, Wp, shift, C, channel, d, d_ok, WINDOW
    )
    logits = _logits(
        q, k, tq, tk, row_q, col_q, row_k, col_k, in_window_q, in_window_k, table_ptr, stride_table, head,
        table_window, Hp, Wp, shift, scale, WINDOW, SHIFTED, DOT_PRECISION,
    )
    row_max = tl.max(logits, axis=1)
    p = tl.exp(logits - row_max[:, None])
    row_sum = tl.sum(p, axis=1)
    out = tl.dot((p / row_sum[:, None]).to(v.dtype), v, input_precision=DOT_PRECISION)
    _store_head(out_ptr, index_q, C, channel, d, d_ok, in_map_q, out)
    tl.store(lse_ptr + index_q * heads + head, row_max + tl.log(row_sum), mask=in_map_q)


@triton.jit
def _window_attention_bwd_dq(
    qkv_ptr, pad_ptr, table_ptr, dout_ptr, lse_ptr, delta_ptr, dqkv_ptr, dpad_ptr, dbias_ptr, num_windows,
    H, W, Hp, Wp, windows_w, windows_per_image, shift, scale, C, head_dim, heads, table_window, stride_table,
    WINDOW: tl.constexpr, N_PAD: tl.constexpr, D_PAD: tl.constexpr, BLOCK_M: tl.constexpr,
    SHIFTED: tl.constexpr, DOT_PRECISION: tl.constexpr, WINDOWS_PER_PROGRAM: tl.constexpr,
    WITH_DKDV: tl.constexpr,
):
    """dq of one block of queries over ``WINDOWS_PER_PROGRAM`` windows of one head, and those rows of the bias
    gradient summed over the windows; ``WITH_DKDV`` (the block is the whole window): dk, dv too."""
    head, d, d_ok, channel = _head_lanes(head_dim, D_PAD)
    tq = tl.program_id(2) * BLOCK_M + tl.arange(0, BLOCK_M)
    tk = tl.arange(0, N_PAD)
    dpad_k = tl.zeros((D_PAD,), dtype=tl.float32)  # the pad keys' dk, dv summed over windows
    dpad_v = tl.zeros((D_PAD,), dtype=tl.float32)
    dbias = tl.zeros((BLOCK_M, N_PAD), dtype=tl.float32)  # these query rows' bias gradient summed over windows
    for i in range(WINDOWS_PER_PROGRAM):
        batch, top, left, live, k, v, row_k, col_k, index_k, in_window_k, in_map_k = _group_keys(
            i, tk, num_windows, windows_w, windows_per_image, qkv_ptr, pad_ptr, H, W, Hp, Wp, shift, C, channel, d,
            d_ok, WINDOWS_PER_PROGRAM, WINDOW,
        )
        q, dout, index_q, in_map_q, p, ds = _recompute(
            qkv_ptr, pad_ptr, dout_ptr, lse_ptr, delta_ptr, table_ptr, stride_table, tq, batch, top, left, live,
            k, v, tk, row_k, col_k, in_window_k, H, W, Hp, Wp, shift, scale, C, channel, head, heads, table_window,
            d, d_ok, WINDOW, SHIFTED, DOT_PRECISION,
        )
        dq = tl.dot(ds.to(k.dtype), k, input_precision=DOT_PRECISION) * scale
        _store_head(dqkv_ptr, index_q, 3 * C, channel, d, d_ok, in_map_q, dq)
        dbias += ds
        if WITH_DKDV:
            dk = tl.dot(tl.trans(ds.to(q.dtype)), q, input_precision=DOT_PRECISION) * scale
            dv = tl.dot(tl.trans(p.to(dout.dtype)), dout, input_precision=DOT_PRECISION)
            pad_dk, pad_dv = _store_dkdv(dqkv_ptr, index_k, C, channel, d, d_ok, in_window_k, in_map_k, dk, dv)
            dpad_k += pad_dk
            dpad_v += pad_dv
    tl.atomic_add(dbias_ptr + head * N_PAD * N_PAD + tq[:, None] * N_PAD + tk[None, :], dbias)
    if WITH_DKDV:
        tl.atomic_add(dpad_ptr + C + channel + d, dpad_k, mask=d_ok)
        tl.atomic_add(dpad_ptr + 2 * C + channel + d, dpad_v, mask=d_ok)


@triton.jit
def _window_attention_bwd_dkdv(
    qkv_ptr, pad_ptr, table_ptr, dout_ptr, lse_ptr, delta_ptr, dqkv_ptr, dpad_ptr, num_windows,
    H, W, Hp, Wp, windows_w, windows_per_image, shift, scale, C, head_dim, heads, table_window, stride_table,
    WINDOW: tl.constexpr, D_PAD: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr,
    SHIFTED: tl.constexpr, DOT_PRECISION: tl.constexpr, WINDOWS_PER_PROGRAM: tl.constexpr,
):
    """dk, dv of one block of keys over ``WINDOWS_PER_PROGRAM`` windows of one head, summed over the query
    blocks; the pad keys' share summed over the windows."""
    head, d, d_ok, channel = _head_lanes(head_dim, D_PAD)
    tk = tl.program_id(2) * BLOCK_N + tl.arange(0, BLOCK_N)
    dpad_k = tl.zeros((D_PAD,), dtype=tl.float32)  # the pad keys' dk, dv summed over windows
    dpad_v = tl.zeros((D_PAD,), dtype=tl.float32)
    for i in range(WINDOWS_PER_PROGRAM):
        batch, top, left, live, k, v, row_k, col_k, index_k, in_window_k, in_map_k = _group_keys(
            i, tk, num_windows, windows_w, windows_per_image, qkv_ptr, pad_ptr, H, W, Hp, Wp, shift, C, channel, d,
            d_ok, WINDOWS_PER_PROGRAM, WINDOW,
        )
        dk = tl.zeros((BLOCK_N, D_PAD), dtype=tl.float32)
        dv = tl.zeros((BLOCK_N, D_PAD), dtype=tl.float32)
        for start_m in range(0, WINDOW * WINDOW, BLOCK_M):
            tq = start_m + tl.arange(0, BLOCK_M)
            q, dout, _, _, p, ds = _recompute(
                qkv_ptr, pad_ptr, dout_ptr, lse_ptr, delta_ptr, table_ptr, stride_table, tq, batch, top, left, live,
                k, v, tk, row_k, col_k, in_window_k, H, W, Hp, Wp, shift, scale, C, channel, head, heads, table_window,
                d, d_ok, WINDOW, SHIFTED, DOT_PRECISION,
            )
            dv += tl.dot(tl.trans(p.to(dout.dtype)), dout, input_precision=DOT_PRECISION)
            dk += tl.dot(tl.trans(ds.to(q.dtype)), q, input_precision=DOT_PRECISION)
        pad_dk, pad_dv = _store_dkdv(dqkv_ptr, index_k, C, channel, d, d_ok, in_window_k, in_map_k, dk * scale, dv)
        dpad_k += pad_dk
        dpad_v += pad_dv
    tl.atomic_add(dpad_ptr + C + channel + d, dpad_k, mask=d_ok)
    tl.atomic_add(dpad_ptr + 2 * C + channel + d, dpad_v, mask=d_ok)


class _Tiles(NamedTuple):
    """Tile sizes and warps of the kernels for one (dtype, tokens, head dim); see :data:`_TILES`."""

    fwd_m: int  # queries per forward program (keys: the whole window)
    fwd_warps: int
    dq_m: int  # queries per dq program
    dq_warps: int
    dkdv: Optional[tuple[int, int, int]]  # (queries per loop step, keys per program, warps); None: dq_m is the
    # whole window and the dq kernel computes dk, dv


# Tiles whose kernels compile without register spills for both sm_80 and sm_90, found by compiling the
# candidates ahead of time, largest first, and reading ``cuobjdump -res-usage`` (larger query blocks re-read
# the window's keys fewer times, larger key blocks re-read its queries fewer times).  Keyed by (float32,
# tokens padded to 64 or 256, head dim padded to at least 32): smaller windows and head dims take the tiles
# of the next larger key, clipped to their tokens.  float32 is exact (``ieee`` dots run on FMA units and
# hold their operands in registers), so it takes smaller tiles and more warps than float16 / bfloat16.
_TILES = {
    (False, 64, 32): _Tiles(64, 4, 64, 4, None),
    (False, 64, 64): _Tiles(64, 4, 64, 4, None),
    (False, 64, 128): _Tiles(64, 4, 64, 8, None),
    (False, 256, 32): _Tiles(16, 8, 16, 4, (64, 64, 8)),
    (False, 256, 64): _Tiles(32, 8, 32, 8, (32, 64, 8)),
    (False, 256, 128): _Tiles(32, 16, 32, 8, (32, 64, 8)),
    (True, 64, 32): _Tiles(64, 8, 32, 4, (32, 64, 8)),
    (True, 64, 64): _Tiles(32, 8, 32, 8, (64, 32, 8)),
    (True, 64, 128): _Tiles(16, 8, 16, 16, (16, 32, 8)),
    (True, 256, 32): _Tiles(32, 8, 16, 8, (64, 64, 8)),
    (True, 256, 64): _Tiles(16, 8, 16, 16, (16, 32, 4)),
}


def _tiles(dtype: torch.dtype, n_pad: int, d_pad: int) -> _Tiles:
    """The tiles of :data:`_TILES` for these padded tokens and head dim, clipped to the window's tokens."""
    tiles = _TILES[dtype == torch.float32, 64 if n_pad <= 64 else 256, max(32, d_pad)]
    dkdv = None if tiles.dkdv is None else (min(tiles.dkdv[0], n_pad), min(tiles.dkdv[1], n_pad), tiles.dkdv[2])
    return tiles._replace(fwd_m=min(tiles.fwd_m, n_pad), dq_m=min(tiles.dq_m, n_pad), dkdv=dkdv)


def _launch_config(qkv: torch.Tensor, bias_table: torch.Tensor, num_heads: int, window: int, shift: int) -> dict:
    """Everything the kernels take besides tensors: sizes, scalar arguments, compile-time constants, tiles."""
    B, H, W, C3 = qkv.shape
    C = C3 // 3
    head_dim = C // num_heads
    Hp, Wp = -(-H // window) * window, -(-W // window) * window
    n_pad = max(16, triton.next_power_of_2(window * window))
    d_pad = max(16, triton.next_power_of_2(head_dim))
    return dict(
        num_windows=B * (Hp // window) * (Wp // window),
        args=(H, W, Hp, Wp, Wp // window, (Hp // window) * (Wp // window), shift, head_dim**-0.5, C, head_dim,
              num_heads, table_window(bias_table), bias_table.stride(0)),
        meta=dict(
            WINDOW=window,
            D_PAD=d_pad,
            SHIFTED=shift > 0,
            # exact float32 as the reference (no TF32); ignored for half precision inputs
            DOT_PRECISION="ieee" if qkv.dtype == torch.float32 else "tf32",
        ),
        n_pad=n_pad,
        tiles=_tiles(qkv.dtype, n_pad, d_pad),
    )


def _forward(qkv, bias_table, pad, num_heads, window, shift) -> tuple[torch.Tensor, torch.Tensor]:
    """The attention output (B, H, W, C) and its rows' log-sum-exp (B, H, W, heads) in float32."""
    config = _launch_config(qkv, bias_table, num_heads, window, shift)
    tiles = config["tiles"]
    out = qkv.new_empty(*qkv.shape[:3], qkv.shape[3] // 3)
    lse = torch.empty(*qkv.shape[:3], num_heads, device=qkv.device, dtype=torch.float32)
    grid = (config["num_windows"], num_heads, triton.cdiv(window * window, tiles.fwd_m))
    _window_attention_fwd[grid](
        qkv, pad, bias_table, out, lse, *config["args"], N_PAD=config["n_pad"], BLOCK_M=tiles.fwd_m,
        num_warps=tiles.fwd_warps, **config["meta"],
    )
    return out, lse


# Backward programs per SM that the window grouping aims at, and the SMs assumed off a GPU (an H100's, so that
# the interpreter runs the grouping an H100 would).  Timed on an H100 (Swin-T stages 1-3 at batch 128, bf16;
# model_cards/kernels.md): grouping 16, 8 and 4 windows there beat one window per program by 1.1-1.3x per op
# (a whole training step hardly changed).
_PROGRAMS_PER_SM = 12
_DEFAULT_SMS = 132


@functools.lru_cache(maxsize=None)
def _sm_count(device: torch.device) -> int:
    return torch.cuda.get_device_properties(device).multi_processor_count if device.type == "cuda" else _DEFAULT_SMS


def _windows_per_program(num_windows: int, blocks: int, heads: int, qkv: torch.Tensor) -> int:
    """Windows per backward program (a power of two up to 16): about ``_PROGRAMS_PER_SM`` programs per SM, so that
    the window-summed gradients take few atomic adds while the GPU stays full.  float32 takes one window per
    program: looping over windows spills its dq kernel's registers, and was no faster on an H100."""
    if qkv.dtype == torch.float32:
        return 1
    per_program = num_windows * blocks * heads / (_PROGRAMS_PER_SM * _sm_count(qkv.device))
    return 2 ** min(4, max(0, round(math.log2(max(per_program, 1)))))


def _backward(qkv, bias_table, pad, out, lse, dout, num_heads, window, shift):
    """Gradients of qkv, the bias table and the pad tokens' qkv from the forward's output and log-sum-exp."""
    config = _launch_config(qkv, bias_table, num_heads, window, shift)
    tiles, n_pad, num_windows = config["tiles"], config["n_pad"], config["num_windows"]
    N = window * window
    # delta_i = sum_j P_ij dP_ij = dout_i . out_i, laid out as lse
    delta = (dout.float() * out.float()).view(*lse.shape, -1).sum(-1)
    dqkv = torch.empty_like(qkv)
    dpad = torch.zeros(pad.shape, device=qkv.device, dtype=torch.float32)
    dbias = torch.zeros(num_heads, n_pad, n_pad, device=qkv.device, dtype=torch.float32)
    tensors = (qkv, pad, bias_table, dout, lse, delta, dqkv, dpad)
    fused = tiles.dkdv is None
    # num_stages=1: software pipelining of the loops' loads would keep a second set of tiles live in registers
    per_program = _windows_per_program(num_windows, triton.cdiv(N, tiles.dq_m), num_heads, qkv)
    grid = (triton.cdiv(num_windows, per_program), num_heads, triton.cdiv(N, tiles.dq_m))
    _window_attention_bwd_dq[grid](
        *tensors, dbias, num_windows, *config["args"], N_PAD=n_pad, BLOCK_M=tiles.dq_m,
        WINDOWS_PER_PROGRAM=per_program, WITH_DKDV=fused, num_warps=tiles.dq_warps, num_stages=1, **config["meta"],
    )
    if not fused:
        block_m, block_n, warps = tiles.dkdv
        per_program = _windows_per_program(num_windows, triton.cdiv(N, block_n), num_heads, qkv)
        grid = (triton.cdiv(num_windows, per_program), num_heads, triton.cdiv(N, block_n))
        _window_attention_bwd_dkdv[grid](
            *tensors, num_windows, *config["args"], BLOCK_M=block_m, BLOCK_N=block_n,
            WINDOWS_PER_PROGRAM=per_program, num_warps=warps, num_stages=1, **config["meta"],
        )
    index = relative_position_index(window, table_window(bias_table)).view(-1).to(qkv.device)
    dbias = dbias[:, :N, :N].permute(1, 2, 0).reshape(N * N, num_heads)
    dtable = torch.zeros(bias_table.shape, device=qkv.device, dtype=torch.float32).index_add_(0, index, dbias)
    return dqkv, dtable.to(bias_table.dtype), dpad.to(pad.dtype)


class WindowAttentionFunction(torch.autograd.Function):
    """Autograd of the fused kernels: (qkv, bias table, pad qkv, heads, window, shift) -> (B, H, W, C)."""

    @staticmethod
    def forward(ctx, qkv, bias_table, pad, num_heads: int, window: int, shift: int):
        # dq, dk, dv are written with qkv's (contiguous) layout
        qkv, bias_table = qkv.contiguous(), bias_table.contiguous()
        out, lse = _forward(qkv, bias_table, pad, num_heads, window, shift)
        ctx.save_for_backward(qkv, bias_table, pad, out, lse)
        ctx.config = (num_heads, window, shift)
        return out

    @staticmethod
    def backward(ctx, dout):
        qkv, bias_table, pad, out, lse = ctx.saved_tensors
        dout = dout.to(qkv.dtype).contiguous()
        dqkv, dtable, dpad = _backward(qkv, bias_table, pad, out, lse, dout, *ctx.config)
        needs = ctx.needs_input_grad
        return (dqkv if needs[0] else None, dtable if needs[1] else None, dpad if needs[2] else None, None, None, None)
