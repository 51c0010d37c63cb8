"""Decay-masked attention (RMT's Manhattan self-attention): ``softmax(q @ k^T + mask) @ v``.

``mask[h, i, j] = decay[h] * (|row_i - row_j| + |col_i - col_j|)`` over the tokens of an H x W map,
row-major.  No scaling is applied: the caller scales ``k``, as RMT does before its rotary "theta shift",
which stays outside the op.  Two public ops:

* :func:`decay_attention`: one pass over the whole map with the 2-D Manhattan decay.
* :func:`axial_decay_attention`: RMT's decomposed form, a pass along W within each row with the decay of
  ``|dc|``, then a pass along H within each column (same q and k, the first pass's output as v) with the
  decay of ``|dr|``.

Backends: ``torch`` (the reference: SDPA with a materialised mask), ``xformers``
(``memory_efficient_attention`` with the mask as a tensor ``attn_bias`` broadcast over the batch; the axial
passes are its (B, M, H, K) layout as they are, rows or columns as the batch) and ``triton``
(``_triton_decay``: the decay is computed from token indices inside a fused online-softmax kernel, forward
and backward, never materialised).  ``triton`` runs CUDA tensors in fp32, fp16 and bf16, and CPU tensors in
fp32 and fp16 under Triton's interpreter (``TRITON_INTERPRET=1`` set before the kernels are imported; its
numpy arithmetic gets bf16 wrong).  ``xformers`` runs where :mod:`._xformers` finds it working.

Masks: the backends that read a mask (torch, xformers) take the caller's cached one, given as a tensor or as
a zero-argument callable that returns it, and build one otherwise.  A callable is only called once the
backend is chosen, so a model that caches its masks lazily (RMT) never builds them for the Triton kernels.
"""
from __future__ import annotations

from typing import Callable, Optional, Sequence, Tuple, Union

import torch

from ..layers.decay_attention import decay_masked_attention, decomposed_decay_attention
from . import _xformers
from ._dispatch import register, resolve, triton_device_refusal

__all__ = ["axial_decay_attention", "decay_attention", "decay_mask"]

Mask = Union[torch.Tensor, Callable[[], torch.Tensor]]
AxialMasks = Union[Tuple[torch.Tensor, torch.Tensor], Callable[[], Tuple[torch.Tensor, torch.Tensor]]]

_CUDA_DTYPES = (torch.float32, torch.float16, torch.bfloat16)
_INTERPRETER_DTYPES = (torch.float32, torch.float16)
_MAX_HEAD_DIM = 128  # 64-token tiles of wider heads no longer fit the kernels' registers
# fp32 tiles are computed without tensor cores; wider heads spill registers on sm_80/sm_90 at every tile size
# tried (tools/compile_kernels.py)
_MAX_CUDA_FP32_HEAD_DIM = 64


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


def _grid(grid_size: Sequence[int]) -> Tuple[int, int]:
    grid = tuple(grid_size)
    if len(grid) != 2 or not all(isinstance(n, (int, torch.SymInt)) and n > 0 for n in grid):
        raise ValueError(f"grid_size must be the map's (H, W), two positive ints, got {grid_size!r}")
    return grid


def _mask_or_build(mask, build: Callable, shapes: Sequence[Tuple[int, ...]]):
    """The caller's cached mask(s) (given, or returned by a callable), else ``build()``; checked against ``shapes``."""
    if mask is None:
        return build()
    mask = mask() if callable(mask) else mask
    masks = (mask,) if isinstance(mask, torch.Tensor) else tuple(mask)
    if [tuple(m.shape) for m in masks] != [tuple(s) for s in shapes]:
        got = [tuple(m.shape) for m in masks]
        raise ValueError(f"cached decay mask shapes {got} do not match the inputs' {list(shapes)}: pass the "
                         "masks of this map size (decay_mask(decay, H, W), or (H, 1) and (1, W) for the axial form)")
    return mask


def decay_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    decay: torch.Tensor,
    grid_size: Sequence[int],
    mask: Optional[Mask] = None,
) -> torch.Tensor:
    """``softmax(q @ k^T + decay[h] * manhattan(i, j)) @ v`` over the tokens of an H x W map.

    ``q``, ``k``: (B, heads, H*W, d_k), tokens row-major; ``v``: (B, heads, H*W, d_v); ``decay``: (heads,);
    ``grid_size``: (H, W).  ``mask``: ``decay_mask(decay, H, W)`` if the caller caches it, or a callable
    returning it (backends that read masks use it instead of building one; fused backends never read it).
    Returns (B, heads, H*W, d_v).
    """
    H, W = _grid(grid_size)
    _check_inputs(q, k, v, decay, (q.shape[0], _num_heads(decay), H * W))
    _, fn = resolve("decay_attention", q.device.type, q, k, v, decay, (H, W), mask)
    return fn(q, k, v, decay, (H, W), mask)


def axial_decay_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    decay: torch.Tensor,
    masks: Optional[AxialMasks] = None,
) -> torch.Tensor:
    """RMT's decomposed decay attention on a (B, H, W, heads, d) map: along W, then along H.

    ``q``, ``k``: (B, H, W, heads, d_k); ``v``: (B, H, W, heads, d_v); ``decay``: (heads,).  ``masks``:
    ``(decay_mask(decay, H, 1), decay_mask(decay, 1, W))`` if the caller caches them, or a callable
    returning them (read by the torch and xformers backends only).  Returns (B, H, W, heads, d_v).
    """
    if q.dim() != 5:
        raise ValueError(f"q must be a (B, H, W, heads, d) map, got shape {tuple(q.shape)}")
    _check_inputs(q, k, v, decay, (*q.shape[:3], _num_heads(decay)))
    _, fn = resolve("axial_decay_attention", q.device.type, q, k, v, decay, masks)
    return fn(q, k, v, decay, masks)


def _full_mask(mask, decay, grid_size) -> torch.Tensor:
    L = grid_size[0] * grid_size[1]
    return _mask_or_build(mask, lambda: decay_mask(decay, *grid_size), [(decay.shape[0], L, L)])


def _axial_masks(masks, decay, H, W) -> Tuple[torch.Tensor, torch.Tensor]:
    def build():
        return decay_mask(decay, H, 1), decay_mask(decay, 1, W)

    n = decay.shape[0]
    return _mask_or_build(masks, build, [(n, H, H), (n, W, W)])


@register("decay_attention", "torch")
def _decay_attention_torch(q, k, v, decay, grid_size, mask):
    return decay_masked_attention(q, k, v, _full_mask(mask, decay, grid_size))


@register("axial_decay_attention", "torch")
def _axial_decay_attention_torch(q, k, v, decay, masks):
    return decomposed_decay_attention(q, k, v, *_axial_masks(masks, decay, *q.shape[1:3]))


def _xformers_refusal(q, k, v, decay) -> Optional[str]:
    backward = torch.is_grad_enabled() and any(t.requires_grad for t in (q, k, v, decay))
    return _xformers.unavailable_reason(q.device, q.dtype, q.shape[-1], v.shape[-1], backward, dropout=False)


def _xformers_supports_full(q, k, v, decay, grid_size, mask):
    return _xformers_refusal(q, k, v, decay)


def _xformers_supports_axial(q, k, v, decay, masks):
    return _xformers_refusal(q, k, v, decay)


@register("decay_attention", "xformers", supports=_xformers_supports_full)
def _decay_attention_xformers(q, k, v, decay, grid_size, mask):
    bias = _xformers.padded_bias(_full_mask(mask, decay, grid_size).to(q.dtype), q.shape[0])
    # (B, heads, L, d) -> xformers' (B, L, heads, d): views, the last dim stays contiguous
    out = _xformers.memory_efficient_attention(*(t.transpose(1, 2) for t in (q, k, v)), bias, scale=1.0)
    return out.transpose(1, 2)


def _xformers_rows(q, k, v, mask) -> torch.Tensor:
    """Decay attention within each row of (B, H, W, heads, d) maps: the rows are xformers' batch."""
    B, H, W, heads, _ = q.shape
    bias = _xformers.padded_bias(mask.to(q.dtype), B * H)
    out = _xformers.memory_efficient_attention(*(t.reshape(B * H, W, heads, -1) for t in (q, k, v)), bias, scale=1.0)
    return out.view(B, H, W, heads, -1)


@register("axial_decay_attention", "xformers", supports=_xformers_supports_axial)
def _axial_decay_attention_xformers(q, k, v, decay, masks):
    mask_h, mask_w = _axial_masks(masks, decay, *q.shape[1:3])
    along_w = _xformers_rows(q, k, v, mask_w)
    # the H pass: columns as rows of the transposed maps (q, k and the W pass's output as v)
    return _xformers_rows(*(t.transpose(1, 2) for t in (q, k, along_w)), mask_h).transpose(1, 2)


def kernel_refusal(q: torch.Tensor, v: torch.Tensor, decay: torch.Tensor, device_type: str) -> Optional[str]:
    """None if the Triton kernels take these shapes and dtypes on ``device_type`` ('cuda', or 'cpu' under the
    interpreter), else why not."""
    dtypes = _CUDA_DTYPES if device_type == "cuda" else _INTERPRETER_DTYPES
    if q.dtype not in dtypes:
        return f"{q.dtype} is not supported on {device_type} (supported: {', '.join(map(str, dtypes))})"
    head_dim = max(q.shape[-1], v.shape[-1])
    if head_dim > _MAX_HEAD_DIM:
        return f"head dims above {_MAX_HEAD_DIM} are not supported (got {q.shape[-1]}, {v.shape[-1]})"
    if device_type == "cuda" and q.dtype == torch.float32 and head_dim > _MAX_CUDA_FP32_HEAD_DIM:
        return (f"float32 at head dims above {_MAX_CUDA_FP32_HEAD_DIM} would spill the kernels' registers "
                f"(got {q.shape[-1]}, {v.shape[-1]}): run under bf16/fp16 autocast for the kernels")
    if decay.requires_grad:
        return "the kernels give no gradient for decay"
    return None


def _triton_refusal(q: torch.Tensor, v: torch.Tensor, decay: torch.Tensor) -> Optional[str]:
    """None if the Triton kernels can run these tensors, else why not."""
    return triton_device_refusal("_triton_decay", q.device.type) or kernel_refusal(q, v, decay, q.device.type)


def _automatic(q, *args) -> Optional[str]:
    """float32 on CUDA stays on torch unless Triton is forced: IEEE float32 products run without tensor cores, and
    on an H100 the kernels took 1.3-3.7x torch's time per op (RMT-T at 1024x1024: 1.8x per forward)."""
    if q.dtype == torch.float32 and q.device.type == "cuda":
        return "float32 on CUDA: torch's SDPA is faster than the float32 kernels"
    return None


def _supports_full(q, k, v, decay, grid_size, mask):
    return _triton_refusal(q, v, decay)


def _supports_axial(q, k, v, decay, masks):
    return _triton_refusal(q, v, decay)


@register("decay_attention", "triton", supports=_supports_full, automatic=_automatic)
def _decay_attention_triton(q, k, v, decay, grid_size, mask):
    from ._triton_decay import decay_attention_triton

    # (B, heads, L, d) -> (B, 1, heads, L, d): the kernels' two batch dims.
    out = decay_attention_triton(q.unsqueeze(1), k.unsqueeze(1), v.unsqueeze(1), decay.contiguous(), grid_size[1])
    return out.squeeze(1)


@register("axial_decay_attention", "triton", supports=_supports_axial, automatic=_automatic)
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
