"""Gradient checkpointing of one block, also for blocks whose training forward steps a schedule.

A module that advances counters in its training forward (e.g. :class:`~vitzoo.layers.prepbn.ProgressiveRepBN`)
exposes them through ``step_counters()``.  torch's checkpoint runs the forward a second time during
backward; under :func:`checkpoint_block` that recompute sees the counters as the first forward saw them
(so it computes the same mix) and leaves them as the first forward left them: one step per training
forward, as without checkpointing.
"""
from __future__ import annotations

import contextlib
from functools import partial
from typing import List

import torch
import torch.nn as nn
from torch.utils.checkpoint import checkpoint

__all__ = ["checkpoint_block", "run_blocks"]


def _counter_preserving_contexts(counters: List[torch.Tensor]):
    before: List[torch.Tensor] = []

    @contextlib.contextmanager
    def forward():
        before[:] = [c.clone() for c in counters]
        yield

    @contextlib.contextmanager
    def recompute():
        after = [c.clone() for c in counters]
        for c, value in zip(counters, before):
            c.copy_(value)
        try:
            yield
        finally:
            for c, value in zip(counters, after):
                c.copy_(value)

    return forward(), recompute()


def checkpoint_block(block: nn.Module, *args):
    """``torch.utils.checkpoint`` (non-reentrant) of ``block(*args)``, keeping step counters exact."""
    counters = [c for m in block.modules() if hasattr(m, "step_counters") for c in m.step_counters()]
    if not counters:
        return checkpoint(block, *args, use_reentrant=False)
    return checkpoint(block, *args, use_reentrant=False, context_fn=partial(_counter_preserving_contexts, counters))


def run_blocks(blocks, x: torch.Tensor, *args, grad_checkpointing: bool = False) -> torch.Tensor:
    """``x = block(x, *args)`` for each block, checkpointed (:func:`checkpoint_block`) when asked and training."""
    use_checkpoint = grad_checkpointing and torch.is_grad_enabled()
    for block in blocks:
        x = checkpoint_block(block, x, *args) if use_checkpoint else block(x, *args)
    return x
