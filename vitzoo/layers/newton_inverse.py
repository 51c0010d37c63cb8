"""Newton-Schulz (Newton-Raphson) inverses of batches of square matrices, as SOFT computes them.

SOFT (Lu et al., NeurIPS 2021) replaces softmax attention by a Gaussian kernel and needs the
(Moore-Penrose) inverse of the small landmark-by-landmark kernel matrix.  It iterates
``V <- 2V - V A V`` from ``V0 = alpha * A``, which converges for ``0 < alpha < 2 / ||A||^2`` and needs
only matrix products.  The authors use two routines:

* :func:`newton_inverse` (SOFT): ``(A + 0.01 I)^-1`` from ``alpha = 0.9 * 2 / max row sum(A)^2`` per
  matrix; the backward is the analytic one, ``-V^T G V^T`` with the computed inverse ``V``, not autograd
  through the iterations (the authors' ``newton_inverse_kernel`` autograd.Function).
* :func:`newton_inverse_shared_scale` (SOFT-Norm): ``A^-1`` with one ``alpha`` for the whole batch
  (``2 / max row sum^2``, halved up to 10 times until ``||I - A V0||_1 <= 1.01``); autograd runs through
  the iterations, as in the authors' SOFT-Norm training.

Both compute in float32 (or float64 for float64 input) with autocast off: in float16/bfloat16 the
iteration loses the small eigenvalues of the kernel matrix.  The result has the input's dtype.
"""
from __future__ import annotations

import torch
from torch.autograd.function import once_differentiable

__all__ = ["newton_inverse", "newton_inverse_shared_scale", "newton_schulz"]


def newton_schulz(mat: torch.Tensor, init: torch.Tensor, num_iters: int) -> torch.Tensor:
    """``num_iters`` steps of ``V <- 2V - (V A) V`` from ``init`` (the authors' evaluation order)."""
    inv = init
    for _ in range(num_iters):
        inv = 2 * inv - inv @ mat @ inv
    return inv


def _compute_dtype(mat: torch.Tensor) -> torch.dtype:
    return torch.promote_types(mat.dtype, torch.float32)


def _regularized_inverse(mat: torch.Tensor, num_iters: int, ridge: float) -> torch.Tensor:
    eye = torch.eye(mat.shape[-1], device=mat.device, dtype=mat.dtype)
    # 0.9 x the largest step that converges, from the matrix before the ridge is added.
    alpha = 0.9 * 2 / mat.sum(-1).amax(-1) ** 2
    regularized = mat + ridge * eye
    return newton_schulz(regularized, alpha[..., None, None] * regularized, num_iters)


class _NewtonInverse(torch.autograd.Function):
    @staticmethod
    def forward(ctx, mat: torch.Tensor, num_iters: int, ridge: float) -> torch.Tensor:
        inv = _regularized_inverse(mat, num_iters, ridge)
        ctx.save_for_backward(inv)
        return inv

    @staticmethod
    @once_differentiable
    def backward(ctx, grad: torch.Tensor):
        (inv,) = ctx.saved_tensors
        inv_t = inv.transpose(-1, -2)
        return -(inv_t @ grad @ inv_t), None, None


def newton_inverse(mat: torch.Tensor, num_iters: int = 20, ridge: float = 0.01) -> torch.Tensor:
    """SOFT's inverse of ``mat + ridge * I`` for (..., n, n) ``mat``; analytic backward."""
    with torch.autocast(device_type=mat.device.type, enabled=False):
        inv = _NewtonInverse.apply(mat.to(_compute_dtype(mat)), num_iters, ridge)
    return inv.to(mat.dtype)


def newton_inverse_shared_scale(
    mat: torch.Tensor, num_iters: int = 20, max_halvings: int = 10, tolerance: float = 1.01
) -> torch.Tensor:
    """SOFT-Norm's inverse of (..., n, n) ``mat``: one initial scale for the whole batch, no ridge.

    The scale search reads ``||I - A V0||_1`` (the largest column sum) on the host, as the authors'
    code does; gradients flow through the iterations and the scale.
    """
    with torch.autocast(device_type=mat.device.type, enabled=False):
        work = mat.to(_compute_dtype(mat))
        eye = torch.eye(work.shape[-1], device=work.device, dtype=work.dtype)
        alpha = 2 / work.sum(-1).max() ** 2
        for _ in range(max_halvings):
            with torch.no_grad():
                residual = (eye - work @ (alpha * work)).abs().sum(-2).max()
            if not residual > tolerance:  # a NaN residual ends the search too, as in the authors' loop
                break
            alpha = alpha * 0.5
        inv = newton_schulz(work, alpha * work, num_iters)
    return inv.to(mat.dtype)
