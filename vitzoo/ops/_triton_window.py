"""Triton kernels of :func:`vitzoo.ops.window_attention` (forward, backward) and their autograd Function.

One program handles one head of one window of the rolled, padded map, all in registers: the window's
tokens are found from their indices (rolled position -> source position ``(p + shift) % padded side``;
a source beyond H or W is a pad token, whose q, k, v are ``pad_qkv``), the bias is gathered from the table
with the relative-position index computed in the kernel, the shift mask comes from comparing the tokens'
region ids (the authors' three slices per axis), and the output is written straight back to map layout.
Nothing of size (windows, N, N) is ever stored.

The backward recomputes each window's attention (a window fits one tile, so no log-sum-exp is saved) and
writes dq, dk, dv to the map; one program walks ``WINDOWS_PER_PROGRAM`` windows of one head so that the
bias and pad gradients, summed over windows, take few atomic adds.

Window and head dim are compile-time constants padded to powers of two (tokens to at least 16, as tl.dot
needs); padded lanes are masked on every load and store, so any H, W is safe.
"""
from __future__ import annotations

import os
from typing import Optional

import torch
import triton
import triton.language as tl

from ..layers.window import SHIFT_MASK_VALUE, relative_position_index, table_window

# Kernels decorated while TRITON_INTERPRET=1 run on CPU tensors through Triton's interpreter.
INTERPRETED = os.environ.get("TRITON_INTERPRET") == "1"

_SHIFT_MASK = tl.constexpr(SHIFT_MASK_VALUE)
MAX_TOKENS = 256  # window 16: one window's (N, N) scores must fit the registers of one program
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
    return None


@triton.jit
def _window_tokens(win, H, W, Hp, Wp, windows_w, windows_per_image, shift, WINDOW: tl.constexpr, N_PAD: tl.constexpr):
    """A window's tokens: batch, rolled and source positions, in-window and in-map flags (N_PAD lanes)."""
    batch = (win // windows_per_image).to(tl.int64)
    window_in_image = win % windows_per_image
    t = tl.arange(0, N_PAD)
    in_window = t < WINDOW * WINDOW
    row = (window_in_image // windows_w) * WINDOW + t // WINDOW
    col = (window_in_image % windows_w) * WINDOW + t % WINDOW
    src_row = (row + shift) % Hp
    src_col = (col + shift) % Wp
    in_map = in_window & (src_row < H) & (src_col < W)
    return batch, row, col, src_row, src_col, in_window, in_map


@triton.jit
def _load_head(ptr, pad_ptr, token_offset, channel, d, d_ok, in_map, is_pad):
    """(N_PAD, D_PAD) slice of q, k or v of one head: the map's values, ``pad_qkv`` on pad tokens, else 0."""
    x = tl.load(ptr + token_offset[:, None] + channel + d[None, :], mask=in_map[:, None] & d_ok[None, :], other=0.0)
    pad = tl.load(pad_ptr + channel + d, mask=d_ok, other=0.0)
    return tl.where(is_pad[:, None], pad[None, :], x)


@triton.jit
def _region(pos, side, shift, WINDOW: tl.constexpr):
    """The authors' region id along one axis of the rolled map: [0, -window), [-window, -shift), [-shift, end)."""
    return (pos >= side - WINDOW).to(tl.int32) + (pos >= side - shift).to(tl.int32)


@triton.jit
def _probabilities(
    q, k, table_ptr, stride_table, head, table_window, row, col, in_window, Hp, Wp, shift, scale,
    WINDOW: tl.constexpr, N_PAD: tl.constexpr, SHIFTED: tl.constexpr, DOT_PRECISION: tl.constexpr,
):
    """softmax(q k^T * scale + bias + shift mask) of one window and head, (N_PAD, N_PAD) in float32."""
    scores = tl.dot(q, tl.trans(k), input_precision=DOT_PRECISION) * scale
    t = tl.arange(0, N_PAD)
    t_row, t_col = t // WINDOW, t % WINDOW
    offset_rows = t_row[:, None] - t_row[None, :] + table_window - 1
    offset_cols = t_col[:, None] - t_col[None, :] + table_window - 1
    index = offset_rows * (2 * table_window - 1) + offset_cols
    pair = in_window[:, None] & in_window[None, :]
    bias = tl.load(table_ptr + index * stride_table + head, mask=pair, other=0.0)
    # the reference adds the bias in the activations' dtype
    scores += bias.to(q.dtype).to(tl.float32)
    if SHIFTED:
        region = _region(row, Hp, shift, WINDOW) * 3 + _region(col, Wp, shift, WINDOW)
        scores += tl.where(region[:, None] != region[None, :], _SHIFT_MASK, 0.0)
    scores = tl.where(in_window[None, :], scores, float("-inf"))
    scores -= tl.max(scores, axis=1)[:, None]
    p = tl.exp(scores)
    return p / tl.sum(p, axis=1)[:, None]


@triton.jit
def _attend(
    qkv_ptr, pad_ptr, table_ptr, stride_table, tokens, channel, C, d, d_ok, in_map, is_pad, head,
    table_window, row, col, in_window, Hp, Wp, shift, scale,
    WINDOW: tl.constexpr, N_PAD: tl.constexpr, SHIFTED: tl.constexpr, DOT_PRECISION: tl.constexpr,
):
    """q, k, v, attention probabilities and float32 output of one window and head."""
    q = _load_head(qkv_ptr, pad_ptr, tokens, channel, d, d_ok, in_map, is_pad)
    k = _load_head(qkv_ptr, pad_ptr, tokens, C + channel, d, d_ok, in_map, is_pad)
    v = _load_head(qkv_ptr, pad_ptr, tokens, 2 * C + channel, d, d_ok, in_map, is_pad)
    p = _probabilities(
        q, k, table_ptr, stride_table, head, table_window, row, col, in_window, Hp, Wp, shift, scale,
        WINDOW, N_PAD, SHIFTED, DOT_PRECISION,
    )
    return q, k, v, p, tl.dot(p.to(v.dtype), v, input_precision=DOT_PRECISION)


@triton.jit
def _window_attention_fwd(
    qkv_ptr, pad_ptr, table_ptr, out_ptr,
    H, W, Hp, Wp, windows_w, windows_per_image, shift, scale, C, head_dim, table_window,
    stride_qkv_b, stride_qkv_h, stride_qkv_w, stride_out_b, stride_out_h, stride_out_w, stride_table,
    WINDOW: tl.constexpr, N_PAD: tl.constexpr, D_PAD: tl.constexpr, SHIFTED: tl.constexpr,
    DOT_PRECISION: tl.constexpr,
):
    win = tl.program_id(0)
    head = tl.program_id(1)
    batch, row, col, src_row, src_col, in_window, in_map = _window_tokens(
        win, H, W, Hp, Wp, windows_w, windows_per_image, shift, WINDOW, N_PAD
    )
    is_pad = in_window & ~in_map
    d = tl.arange(0, D_PAD)
    d_ok = d < head_dim
    tokens = batch * stride_qkv_b + src_row * stride_qkv_h + src_col * stride_qkv_w
    channel = head * head_dim
    _, _, _, _, out = _attend(
        qkv_ptr, pad_ptr, table_ptr, stride_table, tokens, channel, C, d, d_ok, in_map, is_pad, head,
        table_window, row, col, in_window, Hp, Wp, shift, scale, WINDOW, N_PAD, SHIFTED, DOT_PRECISION,
    )
    out_tokens = batch * stride_out_b + src_row * stride_out_h + src_col * stride_out_w
    out_ptrs = out_ptr + out_tokens[:, None] + channel + d[None, :]
    tl.store(out_ptrs, out.to(out_ptr.dtype.element_ty), mask=in_map[:, None] & d_ok[None, :])


@triton.jit
def _window_attention_bwd(
    qkv_ptr, pad_ptr, table_ptr, dout_ptr, dqkv_ptr, dpad_ptr, dbias_ptr,
    num_windows, H, W, Hp, Wp, windows_w, windows_per_image, shift, scale, C, head_dim, table_window,
    stride_qkv_b, stride_qkv_h, stride_qkv_w, stride_dout_b, stride_dout_h, stride_dout_w, stride_table,
    WINDOW: tl.constexpr, N_PAD: tl.constexpr, D_PAD: tl.constexpr, SHIFTED: tl.constexpr,
    DOT_PRECISION: tl.constexpr, WINDOWS_PER_PROGRAM: tl.constexpr,
):
    head = tl.program_id(1)
    d = tl.arange(0, D_PAD)
    d_ok = d < head_dim
    channel = head * head_dim
    dbias = tl.zeros((N_PAD, N_PAD), dtype=tl.float32)
    dpad_k = tl.zeros((D_PAD,), dtype=tl.float32)
    dpad_v = tl.zeros((D_PAD,), dtype=tl.float32)
    for i in range(WINDOWS_PER_PROGRAM):
        win = tl.program_id(0) * WINDOWS_PER_PROGRAM + i
        live = win < num_windows
        batch, row, col, src_row, src_col, in_window, in_map = _window_tokens(
            win, H, W, Hp, Wp, windows_w, windows_per_image, shift, WINDOW, N_PAD
        )
        in_map = in_map & live
        is_pad = in_window & ~in_map & live
        tokens = batch * stride_qkv_b + src_row * stride_qkv_h + src_col * stride_qkv_w
        q, k, v, p, out = _attend(
            qkv_ptr, pad_ptr, table_ptr, stride_table, tokens, channel, C, d, d_ok, in_map, is_pad, head,
            table_window, row, col, in_window, Hp, Wp, shift, scale, WINDOW, N_PAD, SHIFTED, DOT_PRECISION,
        )
        # pad tokens' outputs are cropped: their rows of dout are zero, so they get no dq
        dout_tokens = batch * stride_dout_b + src_row * stride_dout_h + src_col * stride_dout_w
        row_mask = in_map[:, None] & d_ok[None, :]
        dout = tl.load(dout_ptr + dout_tokens[:, None] + channel + d[None, :], mask=row_mask, other=0.0)
        dp = tl.dot(dout, tl.trans(v), input_precision=DOT_PRECISION)
        ds = p * (dp - tl.sum(dout.to(tl.float32) * out, axis=1)[:, None])
        dq = tl.dot(ds.to(k.dtype), k, input_precision=DOT_PRECISION) * scale
        dk = tl.dot(tl.trans(ds.to(q.dtype)), q, input_precision=DOT_PRECISION) * scale
        dv = tl.dot(tl.trans(p.to(dout.dtype)), dout, input_precision=DOT_PRECISION)
        dqkv_ptrs = dqkv_ptr + tokens[:, None] + channel + d[None, :]
        tl.store(dqkv_ptrs, dq.to(dqkv_ptr.dtype.element_ty), mask=row_mask)
        tl.store(dqkv_ptrs + C, dk.to(dqkv_ptr.dtype.element_ty), mask=row_mask)
        tl.store(dqkv_ptrs + 2 * C, dv.to(dqkv_ptr.dtype.element_ty), mask=row_mask)
        dbias += ds
        dpad_k += tl.sum(tl.where(is_pad[:, None], dk, 0.0), axis=0)
        dpad_v += tl.sum(tl.where(is_pad[:, None], dv, 0.0), axis=0)
    t = tl.arange(0, N_PAD)
    tl.atomic_add(dbias_ptr + head * N_PAD * N_PAD + t[:, None] * N_PAD + t[None, :], dbias)
    tl.atomic_add(dpad_ptr + C + channel + d, dpad_k, mask=d_ok)
    tl.atomic_add(dpad_ptr + 2 * C + channel + d, dpad_v, mask=d_ok)


def _launch_config(qkv: torch.Tensor, bias_table: torch.Tensor, num_heads: int, window: int, shift: int) -> dict:
    """Everything the kernels take besides pointers and strides of the map tensors."""
    B, H, W, C3 = qkv.shape
    C = C3 // 3
    head_dim = C // num_heads
    Hp, Wp = -(-H // window) * window, -(-W // window) * window
    return dict(
        grid_windows=B * (Hp // window) * (Wp // window),
        args=(H, W, Hp, Wp, Wp // window, (Hp // window) * (Wp // window), shift, head_dim**-0.5, C, head_dim,
              table_window(bias_table)),
        meta=dict(
            WINDOW=window,
            N_PAD=max(16, triton.next_power_of_2(window * window)),
            D_PAD=max(16, triton.next_power_of_2(head_dim)),
            SHIFTED=shift > 0,
            # exact float32 as the reference (no TF32); ignored for half precision inputs
            DOT_PRECISION="ieee" if qkv.dtype == torch.float32 else "tf32",
            num_warps=4 if window * window <= 64 else 8,
        ),
    )


def _map_strides(x: torch.Tensor) -> tuple[int, int, int]:
    return x.stride(0), x.stride(1), x.stride(2)


def _forward(qkv, bias_table, pad, num_heads, window, shift) -> torch.Tensor:
    config = _launch_config(qkv, bias_table, num_heads, window, shift)
    out = qkv.new_empty(*qkv.shape[:3], qkv.shape[3] // 3)
    _window_attention_fwd[(config["grid_windows"], num_heads)](
        qkv, pad, bias_table, out, *config["args"], *_map_strides(qkv), *_map_strides(out), bias_table.stride(0),
        **config["meta"],
    )
    return out


def _windows_per_program(num_windows: int) -> int:
    """Enough programs to fill a GPU (~1k per head), few atomic adds of the window-summed gradients."""
    return 16 if num_windows >= 16 * 1024 else 4 if num_windows >= 4 * 1024 else 1


def _backward(qkv, bias_table, pad, dout, num_heads, window, shift):
    config = _launch_config(qkv, bias_table, num_heads, window, shift)
    n_pad = config["meta"]["N_PAD"]
    num_windows = config["grid_windows"]
    per_program = _windows_per_program(num_windows)
    dqkv = torch.empty_like(qkv)
    dpad = torch.zeros(pad.shape, device=qkv.device, dtype=torch.float32)
    dbias = torch.zeros(num_heads, n_pad, n_pad, device=qkv.device, dtype=torch.float32)
    grid = (triton.cdiv(num_windows, per_program), num_heads)
    _window_attention_bwd[grid](
        qkv, pad, bias_table, dout, dqkv, dpad, dbias, num_windows, *config["args"], *_map_strides(qkv),
        *_map_strides(dout), bias_table.stride(0), WINDOWS_PER_PROGRAM=per_program, **config["meta"],
    )
    N = window * window
    index = relative_position_index(window, table_window(bias_table)).view(-1).to(qkv.device)
    dbias = dbias[:, :N, :N].permute(1, 2, 0).reshape(N * N, num_heads)
    dtable = torch.zeros(bias_table.shape, device=qkv.device, dtype=torch.float32).index_add_(0, index, dbias)
    return dqkv, dtable.to(bias_table.dtype), dpad.to(pad.dtype)


class WindowAttentionFunction(torch.autograd.Function):
    """Autograd of the fused kernels: (qkv, bias table, pad qkv, heads, window, shift) -> (B, H, W, C)."""

    @staticmethod
    def forward(ctx, qkv, bias_table, pad, num_heads: int, window: int, shift: int):
        # dq, dk, dv are written with qkv's strides
        qkv, bias_table = qkv.contiguous(), bias_table.contiguous()
        ctx.save_for_backward(qkv, bias_table, pad)
        ctx.config = (num_heads, window, shift)
        return _forward(qkv, bias_table, pad, num_heads, window, shift)

    @staticmethod
    def backward(ctx, dout):
        qkv, bias_table, pad = ctx.saved_tensors
        dout = dout.to(qkv.dtype).contiguous()
        dqkv, dtable, dpad = _backward(qkv, bias_table, pad, dout, *ctx.config)
        needs = ctx.needs_input_grad
        return (dqkv if needs[0] else None, dtable if needs[1] else None, dpad if needs[2] else None, None, None, None)
