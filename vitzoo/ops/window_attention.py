"""Shifted-window attention on a channels-last map: :func:`window_attention`.

Design: the op takes the normed (B, H, W, C) map and the block's qkv projection (weight (3C, C), bias (3C,)
or None, channels ordered (q|k|v, head, head_dim) as Swin's ``qkv`` linear writes them) and returns the
attention output in map layout (B, H, W, C), before the output projection.  In between it does everything
Swin's block did around its window attention: pad H, W to window multiples, roll by -shift, partition into
windows, project to q, k, v, add the relative position bias and the shift mask, softmax attention per
window, reverse the partition, roll back and crop.  The caller decides ``window`` and ``shift`` (Swin's
small-map rule lives in :func:`vitzoo.layers.window.effective_window`).  Taking the map rather than its qkv
lets each backend move the cheaper tensor: the torch path pads, rolls and partitions the C channels before
projecting (3x less traffic than moving qkv), the Triton kernel reads the projected map once.

Padding, exactly as vitzoo's Swin (and the authors' detection backbone): the normed map is zero-padded
*before* the qkv projection, so a pad token's q, k, v are the projection of zero -- the linear's bias (or
zeros without one).  Pad tokens are not masked: they take part in their windows' attention like any token,
their outputs are dropped, and the gradients of their keys and values flow into the bias.  The shift mask
is the authors' region mask on the padded map (-100 between regions).

Backends (see :mod:`vitzoo.ops._dispatch`):

* ``torch``: the reference, Swin's former path (SDPA with the bias and mask materialised per window);
* ``triton``: FlashAttention-2-style kernels with the window as the sequence (:mod:`vitzoo.ops._triton_window`):
  the forward runs per (window, head, query block) and saves each row's log-sum-exp; the backward runs a dq
  kernel that also sums the bias gradient over groups of windows and a dk/dv kernel per key block (one
  fused backward kernel for fp16/bf16 windows up to 8); float32 (exact, no TF32), float16 and bfloat16 on
  CUDA, float32 and float16 under Triton's CPU interpreter (its bfloat16 gives wrong numbers); windows up to
  16, head dims up to 128 (64 for float32 windows above 8); no dropout (training with ``attn_drop`` > 0
  falls back to torch);
* ``xformers``: ``xformers.ops.memory_efficient_attention`` where it runs the inputs (:mod:`._xformers`
  says why not otherwise), with the padding and shift of the torch path.  xformers attends within the
  (batch, head) pairs of its (B, M, H, K) layout, so a window's tokens are M and (window, head) pairs are H:
  the relative position bias plus shift mask is then one (windows x heads, N, N) ``attn_bias`` broadcast
  over the batch, where the torch path copies it per image.  Attention dropout is xformers' ``p``.
"""
from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F

from ..layers.window import (
    relative_position_index,
    shifted_window_mask,
    table_window,
    window_partition,
    window_reverse,
)
from . import _xformers
from ._dispatch import register, resolve, triton_device_refusal

try:
    from . import _triton_window
except ImportError:  # triton is torch's dependency on Linux, but not everywhere; the refusal below says why
    _triton_window = None

__all__ = ["window_attention", "relative_position_bias"]

OP = "window_attention"


def relative_position_bias(bias_table: torch.Tensor, window: int) -> torch.Tensor:
    """(heads, window**2, window**2) bias of a window of side ``window`` (the table's centre if smaller)."""
    index = relative_position_index(window, table_window(bias_table)).to(bias_table.device)
    N = window * window
    return bias_table[index.view(-1)].view(N, N, -1).permute(2, 0, 1)


def _check_inputs(x, qkv_weight, qkv_bias, bias_table, num_heads, window, shift, dropout_p) -> None:
    if x.dim() != 4 or x.shape[-1] % num_heads:
        raise ValueError(f"x must be a (B, H, W, C) map with C divisible by num_heads={num_heads}, got {tuple(x.shape)}")
    if not x.is_floating_point():
        raise TypeError(f"x must be a floating-point tensor, got {x.dtype}")
    projection_dtypes = {t.dtype for t in (qkv_weight, qkv_bias) if t is not None}
    if projection_dtypes != {x.dtype} and not torch.is_autocast_enabled(x.device.type):
        raise TypeError(
            f"qkv weight/bias must have x's dtype {x.dtype}, got {', '.join(sorted(map(str, projection_dtypes)))}: "
            "cast the module or the input, or run under torch.autocast"
        )
    if not bias_table.is_floating_point():
        raise TypeError(f"the bias table must be a floating-point tensor, got {bias_table.dtype}")
    C = x.shape[-1]
    if qkv_weight.shape != (3 * C, C):
        raise ValueError(f"qkv_weight must be (3C, C) = {(3 * C, C)} for C={C}, got {tuple(qkv_weight.shape)}")
    if qkv_bias is not None and qkv_bias.shape != (3 * C,):
        raise ValueError(f"qkv_bias must be ({3 * C},) or None, got {tuple(qkv_bias.shape)}")
    if bias_table.dim() != 2 or bias_table.shape[1] != num_heads:
        raise ValueError(f"bias table must be ((2w-1)**2, num_heads={num_heads}), got {tuple(bias_table.shape)}")
    if not 1 <= window <= table_window(bias_table):
        raise ValueError(f"window {window} must be in [1, {table_window(bias_table)}] (the bias table's window)")
    if not 0 <= shift < window:
        raise ValueError(f"shift {shift} must be in [0, window={window})")
    if not 0 <= dropout_p <= 1:
        raise ValueError(f"dropout_p {dropout_p} must be a probability in [0, 1]")
    devices = {t.device for t in (x, qkv_weight, qkv_bias, bias_table) if t is not None}
    if len(devices) > 1:
        raise ValueError(f"x, qkv weight/bias and bias table must be on one device, got {sorted(map(str, devices))}")


def window_attention(
    x: torch.Tensor,
    qkv_weight: torch.Tensor,
    qkv_bias: Optional[torch.Tensor],
    bias_table: torch.Tensor,
    num_heads: int,
    window: int,
    shift: int = 0,
    dropout_p: float = 0.0,
) -> torch.Tensor:
    """Shifted-window attention of a map: x (B, H, W, C) -> (B, H, W, C); see the module docstring.

    ``qkv_weight`` (3C, C) and ``qkv_bias`` (3C,) or None: the qkv projection; ``bias_table``:
    ((2T-1)**2, heads) relative position bias for windows of side T >= ``window``; ``dropout_p``: attention
    dropout (pass 0 in eval).
    """
    _check_inputs(x, qkv_weight, qkv_bias, bias_table, num_heads, window, shift, dropout_p)
    args = (x, qkv_weight, qkv_bias, bias_table, num_heads, window, shift, dropout_p)
    _, impl = resolve(OP, x.device.type, *args)
    return impl(*args)


def _pad_and_shift(x: torch.Tensor, window: int, shift: int) -> torch.Tensor:
    """Zero-pad the map to window multiples, then roll it by -shift (Swin's order)."""
    x = F.pad(x, (0, 0, 0, (-x.shape[2]) % window, 0, (-x.shape[1]) % window))
    return torch.roll(x, shifts=(-shift, -shift), dims=(1, 2)) if shift else x


def _unshift_and_crop(out: torch.Tensor, shift: int, H: int, W: int) -> torch.Tensor:
    """Inverse of :func:`_pad_and_shift` on the attention output."""
    if shift:
        out = torch.roll(out, shifts=(shift, shift), dims=(1, 2))
    return out[:, :H, :W]


@register(OP, "torch")
def _window_attention_torch(x, qkv_weight, qkv_bias, bias_table, num_heads, window, shift, dropout_p):
    B, H, W, C = x.shape
    x = _pad_and_shift(x, window, shift)
    Hp, Wp = x.shape[1:3]
    windows = window_partition(x, window)
    B_, N, _ = windows.shape
    qkv = F.linear(windows, qkv_weight, qkv_bias)
    q, k, v = qkv.view(B_, N, 3, num_heads, C // num_heads).permute(2, 0, 3, 1, 4).unbind(0)
    bias = relative_position_bias(bias_table, window).to(q.dtype)
    if shift:
        # (B * nW, heads, N, N): SDPA's fused CPU/GPU kernels take 4-D masks (a 5-D broadcast is ~3x slower)
        mask = shifted_window_mask(Hp, Wp, window, shift, x.device)
        num_windows = mask.shape[0]
        bias = bias.unsqueeze(0) + mask.unsqueeze(1).to(q.dtype)
        bias = bias.unsqueeze(0).expand(B_ // num_windows, -1, -1, -1, -1).reshape(B_, num_heads, N, N)
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=bias, dropout_p=dropout_p)
    out = window_reverse(out.transpose(1, 2).reshape(B_, N, C), window, Hp, Wp)
    return _unshift_and_crop(out, shift, H, W)


def _needs_backward(*tensors: Optional[torch.Tensor]) -> bool:
    return torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in tensors)


def _projected_dtype(x: torch.Tensor) -> torch.dtype:
    """The dtype of q, k, v: autocast's where it is on, else x's."""
    device = x.device.type
    return torch.get_autocast_dtype(device) if torch.is_autocast_enabled(device) else x.dtype


def _xformers_unsupported(x, qkv_weight, qkv_bias, bias_table, num_heads, window, shift, dropout_p) -> Optional[str]:
    head_dim = x.shape[-1] // num_heads
    backward = _needs_backward(x, qkv_weight, qkv_bias, bias_table)
    return _xformers.unavailable_reason(x.device, _projected_dtype(x), head_dim, head_dim, backward, dropout_p > 0)


@register(OP, "xformers", supports=_xformers_unsupported)
def _window_attention_xformers(x, qkv_weight, qkv_bias, bias_table, num_heads, window, shift, dropout_p):
    B, H, W, C = x.shape
    x = _pad_and_shift(x, window, shift)
    Hp, Wp = x.shape[1:3]
    rows, cols = Hp // window, Wp // window
    N, num_windows = window * window, rows * cols
    # (B, N, windows, C): token-in-window before window, so that each of q, k, v projects to a (B, M, H, K) view
    tokens = x.view(B, rows, window, cols, window, C).permute(0, 2, 4, 1, 3, 5).reshape(B, N, num_windows, C)
    biases = (None,) * 3 if qkv_bias is None else qkv_bias.chunk(3)
    q, k, v = (
        F.linear(tokens, w, b).view(B, N, num_windows * num_heads, C // num_heads)
        for w, b in zip(qkv_weight.chunk(3), biases)
    )
    bias = relative_position_bias(bias_table, window).to(q.dtype).expand(num_windows, -1, -1, -1)
    if shift:
        bias = bias + shifted_window_mask(Hp, Wp, window, shift, x.device).unsqueeze(1).to(q.dtype)
    bias = _xformers.padded_bias(bias.reshape(num_windows * num_heads, N, N), B)
    out = _xformers.memory_efficient_attention(q, k, v, bias, scale=None, dropout_p=dropout_p)
    out = out.reshape(B, window, window, rows, cols, C).permute(0, 3, 1, 4, 2, 5).reshape(B, Hp, Wp, C)
    return _unshift_and_crop(out, shift, H, W)


def _triton_unsupported(x, qkv_weight, qkv_bias, bias_table, num_heads, window, shift, dropout_p) -> Optional[str]:
    if dropout_p > 0:
        return "attention dropout is not implemented in the kernel"
    refusal = triton_device_refusal("_triton_window", x.device.type)
    if refusal:
        return refusal
    return _triton_window.unsupported_reason(x.dtype, window, x.shape[-1] // num_heads)


@register(OP, "triton", supports=_triton_unsupported)
def _window_attention_triton(x, qkv_weight, qkv_bias, bias_table, num_heads, window, shift, dropout_p):
    qkv = F.linear(x, qkv_weight, qkv_bias)
    # pad tokens are zeros before the projection: their q, k, v are the bias
    pad = qkv.new_zeros(qkv.shape[-1]) if qkv_bias is None else qkv_bias.to(qkv.dtype)
    return _triton_window.WindowAttentionFunction.apply(qkv, bias_table, pad, num_heads, window, shift)
