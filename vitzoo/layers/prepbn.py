"""Re-parameterisable BatchNorm for transformers (SLAB: "progressive re-parameterized BatchNorm").

* :class:`RepBN` -- ``BatchNorm1d`` over the channels of a token sequence plus a learned scalar
  shortcut: ``y = BN(x) + alpha * x``.  In eval mode it is a per-channel affine map, which
  :func:`fold_norm_into_next` / :func:`fold_norm_into_previous` merge into a neighbouring linear or
  convolution for deployment.
* :class:`ProgressiveRepBN` -- the authors' ``LinearNorm``: trains with LayerNorm first and moves to
  RepBN by a linear schedule, ``y = lam * LN(x) + (1 - lam) * RepBN(x)``; evaluates as RepBN alone.

The state dict keys are the authors' (``alpha``, ``bn.*``; ``warm``, ``iter``, ``total_step``,
``norm1.*`` = LayerNorm, ``norm2.*`` = RepBN), so their checkpoints load unchanged, with the schedule
counters at the step where training stopped.
"""
from __future__ import annotations

from typing import Iterator, Optional, Sequence

import torch
import torch.nn as nn
from timm.models.mlp_mixer import Affine

__all__ = [
    "RepBN",
    "ProgressiveRepBN",
    "repbn_affine",
    "fold_norm_into_next",
    "fold_norm_into_previous",
    "fold_norm",
    "iter_repbn",
    "ReparameterizableMixin",
]


class RepBN(nn.Module):
    """``BatchNorm1d`` over the channels of (B, N, C) tokens plus ``alpha * x`` (alpha starts at 1)."""

    def __init__(self, dim: int, eps: float = 1e-5):
        super().__init__()
        self.alpha = nn.Parameter(torch.ones(1))
        self.bn = nn.BatchNorm1d(dim, eps=eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.transpose(1, 2)
        return (self.bn(x) + self.alpha * x).transpose(1, 2)


class ProgressiveRepBN(nn.Module):
    """LayerNorm -> RepBN during training; RepBN in eval (the authors' ``LinearNorm``).

    Each training forward first spends ``warm`` steps on LayerNorm alone, then mixes with
    ``lam = r0 * iter / total_step`` taken *before* ``iter`` counts down by one, so the first mixed
    step is pure LayerNorm (lam = 1) and the schedule reaches pure RepBN (lam = 0) after
    ``total_step`` steps.  The counters are buffers: a resumed checkpoint continues the schedule.
    """

    def __init__(self, dim: int, step: int = 300000, warm: int = 0, ln_eps: float = 1e-6, r0: float = 1.0):
        super().__init__()
        self.register_buffer("warm", torch.tensor(warm))
        self.register_buffer("iter", torch.tensor(step))
        self.register_buffer("total_step", torch.tensor(step))
        self.r0 = r0
        self.norm1 = nn.LayerNorm(dim, eps=ln_eps)
        self.norm2 = RepBN(dim)

    @property
    def lam(self) -> float:
        """The LayerNorm weight the next training step (after warm-up) uses."""
        return float(self.r0 * self.iter / self.total_step)

    def step_counters(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The counters a training forward steps (see :func:`vitzoo.layers.checkpointing.checkpoint_block`)."""
        return self.warm, self.iter

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return self.norm2(x)
        if self.warm > 0:
            self.warm.sub_(1)
            return self.norm1(x)
        lam = self.r0 * self.iter / self.total_step
        if self.iter > 0:
            self.iter.sub_(1)
        return lam * self.norm1(x) + (1 - lam) * self.norm2(x)

    def extra_repr(self) -> str:
        return f"warm={int(self.warm)}, iter={int(self.iter)}, total_step={int(self.total_step)}, r0={self.r0}"


def repbn_affine(norm: nn.Module) -> tuple[torch.Tensor, torch.Tensor]:
    """(scale, shift) per channel such that eval ``norm(x) == x * scale + shift``."""
    if isinstance(norm, ProgressiveRepBN):
        norm = norm.norm2
    if not isinstance(norm, RepBN):
        raise TypeError(f"expected a RepBN or ProgressiveRepBN, got {type(norm).__name__}")
    bn = norm.bn
    inv_std = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    return inv_std + norm.alpha, bn.bias - bn.running_mean * inv_std


@torch.no_grad()
def fold_norm_into_next(norm: nn.Module, layer: nn.Linear) -> None:
    """Merge an eval RepBN into the linear layer that consumes its output (``layer(norm(x))``)."""
    scale, shift = repbn_affine(norm)
    if layer.bias is None:
        layer.bias = nn.Parameter(torch.zeros(layer.out_features, dtype=layer.weight.dtype, device=layer.weight.device))
    layer.bias.add_(layer.weight @ shift)
    layer.weight.mul_(scale[None, :])


@torch.no_grad()
def fold_norm_into_previous(norm: nn.Module, layer: nn.Module) -> None:
    """Merge an eval RepBN into the linear / conv layer whose output it normalises (``norm(layer(x))``)."""
    scale, shift = repbn_affine(norm)
    out_channels = layer.weight.shape[0]
    if layer.bias is None:
        layer.bias = nn.Parameter(torch.zeros(out_channels, dtype=layer.weight.dtype, device=layer.weight.device))
    layer.weight.mul_(scale.view(-1, *([1] * (layer.weight.ndim - 1))))
    layer.bias.mul_(scale).add_(shift)


@torch.no_grad()
def _fold_norm_into_conv_input(norm: nn.Module, conv: nn.Conv2d) -> None:
    """``conv(norm(x))`` -> ``conv'(x)``; exact only without zero padding (every output sees real inputs)."""
    if conv.padding not in ((0, 0), "valid") or conv.groups != 1:
        raise ValueError("a norm folds exactly only into an ungrouped convolution without padding")
    scale, shift = repbn_affine(norm)
    if conv.bias is None:
        conv.bias = nn.Parameter(torch.zeros(conv.out_channels, dtype=conv.weight.dtype, device=conv.weight.device))
    conv.bias.add_(conv.weight.sum(dim=(2, 3)) @ shift)
    conv.weight.mul_(scale.view(1, -1, 1, 1))


@torch.no_grad()
def fold_norm(owner: nn.Module, name: str, into: Sequence[nn.Module] = (), after: Optional[nn.Module] = None) -> None:
    """Remove the eval (Progressive)RepBN ``owner.<name>`` for deployment, keeping outputs exact.

    ``into``: the linear layers (or unpadded, ungrouped convolutions) that read the norm's output, and
    nothing else does; ``after``: the layer whose output the norm normalises (and nothing else reads).
    With neither, the norm becomes a plain per-channel affine map (where the norm's output is also a
    feature map or is zero-padded before the next layer, so that no fold would be exact).
    """
    norm = getattr(owner, name)
    if after is not None:
        fold_norm_into_previous(norm, after)
        setattr(owner, name, nn.Identity())
    elif into:
        for layer in into:
            if isinstance(layer, nn.Conv2d):
                _fold_norm_into_conv_input(norm, layer)
            else:
                fold_norm_into_next(norm, layer)
        setattr(owner, name, nn.Identity())
    else:
        scale, shift = repbn_affine(norm)
        affine = Affine(scale.numel()).to(device=scale.device, dtype=scale.dtype)
        affine.alpha.copy_(scale.view(1, 1, -1))
        affine.beta.copy_(shift.view(1, 1, -1))
        setattr(owner, name, affine)


class ReparameterizableMixin:
    """Models whose ``reparameterize()`` folds the norms away: after it they run in eval mode only."""

    reparameterized = False

    def train(self, mode: bool = True):
        if mode and self.reparameterized:
            raise RuntimeError(
                f"{type(self).__name__} was reparameterized for inference (its BatchNorms are folded into the "
                "neighbouring layers) and cannot train; create the model again (and load the checkpoint) to train"
            )
        return super().train(mode)


def iter_repbn(model: nn.Module) -> Iterator[tuple[str, nn.Module]]:
    """Every RepBN / ProgressiveRepBN in ``model``; a ProgressiveRepBN's inner RepBN is not listed again."""
    inner = {id(m.norm2) for m in model.modules() if isinstance(m, ProgressiveRepBN)}
    for name, module in model.named_modules():
        if isinstance(module, ProgressiveRepBN) or (isinstance(module, RepBN) and id(module) not in inner):
            yield name, module
