"""Glue to xformers' ``memory_efficient_attention``: whether it runs these inputs here (or why not), and the call.

xformers is optional and built per torch and CUDA version, so nothing is assumed: the backend is offered for
a (device, dtype, head dims, backward, dropout) combination only after ``xformers.ops`` imported and a tiny
call with those properties (forward, and backward when gradients are needed) succeeded.  Otherwise the
reason is what the import or that call raised -- xformers not installed, its import error, its C++/CUDA
extensions built for another torch or CUDA (xformers records the versions), or no operator for the device
or dtype (xformers' own list of why each operator refused, e.g. ``device=cpu (supported: {'cuda'})``).
Both checks are cached for the process.

What the callers rely on, from xformers' documented API (``xformers.ops.memory_efficient_attention``):

* ``query``, ``key``, ``value`` are (B, M, H, K) -- batch, tokens, heads, head dim -- with the last dim's
  stride 1; the output is (B, M, H, K_v);
* a tensor ``attn_bias`` is exactly (B, H, M_q, M_k): broadcasting is refused, but an ``expand``-ed tensor
  (stride 0) is accepted; it has q's dtype, stride 1 in its last dim and every other stride a multiple of
  16 bytes (so a 49-token window's rows are padded to 52 or 56 elements); its gradient is computed;
* ``scale`` defaults to K**-0.5; ``p`` is the dropout probability of the attention weights.
"""
from __future__ import annotations

import functools
import importlib
import sys
from types import ModuleType
from typing import Optional

import torch
import torch.nn.functional as F

__all__ = ["unavailable_reason", "padded_bias", "memory_efficient_attention"]

_PROBE_TOKENS = 8


def _one_line(error: BaseException) -> str:
    return " ".join(f"{type(error).__name__}: {error}".split())


@functools.lru_cache(maxsize=None)
def _import() -> tuple[Optional[ModuleType], Optional[str]]:
    """(``xformers.ops``, None), or (None, why it does not import)."""
    try:
        return importlib.import_module("xformers.ops"), None
    except ModuleNotFoundError as e:
        if e.name == "xformers":
            return None, "xformers is not installed (pip install a build of xformers for this torch and CUDA)"
        return None, f"xformers does not import ({_one_line(e)})"
    except Exception as e:  # a broken install raises anything: a missing CUDA library, a torch ABI mismatch...
        return None, f"xformers does not import ({_one_line(e)})"


def _extension_load_error() -> str:
    """xformers' own record of why its C++/CUDA extensions did not load (e.g. built for another torch), or ''."""
    error = getattr(sys.modules.get("xformers._cpp_lib"), "_cpp_library_load_exception", None)
    return "" if error is None else f"; xformers' C++/CUDA extensions did not load: {' '.join(str(error).split())}"


@functools.lru_cache(maxsize=None)
def unavailable_reason(
    device: torch.device, dtype: torch.dtype, qk_dim: int, v_dim: int, backward: bool, dropout: bool
) -> Optional[str]:
    """None if ``memory_efficient_attention`` runs such inputs with a tensor bias here, else why not."""
    ops, reason = _import()
    if ops is None:
        return reason
    shapes = ((1, _PROBE_TOKENS, 1, qk_dim),) * 2 + ((1, _PROBE_TOKENS, 1, v_dim), (1, 1, _PROBE_TOKENS, _PROBE_TOKENS))
    with torch.inference_mode(False), torch.enable_grad():
        q, k, v, bias = (torch.zeros(s, device=device, dtype=dtype, requires_grad=backward) for s in shapes)
        try:
            out = ops.memory_efficient_attention(q, k, v, attn_bias=bias, p=0.5 if dropout else 0.0)
            if backward:
                out.sum().backward()
        except Exception as e:  # whatever xformers raises for these inputs, it cannot run them here
            what = f"{device.type} {dtype}, head dims {qk_dim}/{v_dim}" + (", backward" if backward else "")
            return f"xformers' memory_efficient_attention fails on {what} ({_one_line(e)}){_extension_load_error()}"
    return None


def padded_bias(bias: torch.Tensor, batch: int) -> torch.Tensor:
    """(H, M_q, M_k) ``bias`` as the (batch, H, M_q, M_k) ``attn_bias`` that xformers takes.

    Rows padded to 16-byte multiples in storage (xformers' alignment rule), then broadcast over the batch with
    stride 0, so that the bias exists once however large the batch.  Differentiable (xformers computes the
    bias gradient, autograd sums it over the batch).
    """
    align = 16 // bias.element_size()
    m_k = bias.shape[-1]
    return F.pad(bias, (0, -m_k % align))[..., :m_k].expand(batch, -1, -1, -1)


def memory_efficient_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    bias: torch.Tensor,
    scale: Optional[float],
    dropout_p: float = 0.0,
) -> torch.Tensor:
    """``softmax(q @ k^T * scale + bias) @ v`` of (B, M, H, K) tensors by xformers (``scale`` None: K**-0.5)."""
    ops, _ = _import()
    return ops.memory_efficient_attention(q, k, v, attn_bias=bias, p=dropout_p, scale=scale)
