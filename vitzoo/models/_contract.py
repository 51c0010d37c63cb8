"""timm's classifier and feature contract, written once for the families that share its shape.

* :class:`HeadModuleMixin`: the model's ``head`` is a head module in timm's style (``ClassifierHead``,
  ``NormMlpClassifierHead`` or a family head with the same interface): the classifier is ``head.fc``,
  ``head.reset(num_classes, pool_type)`` re-creates it, ``head(x, pre_logits=...)`` pools and classifies.
* :class:`LinearHeadMixin`: the model's ``head`` is one ``nn.Linear`` (``nn.Identity`` without classes)
  on features pooled by ``global_pool``, one of the model's ``pool_types``.
* :class:`BlocksMixin`: an isotropic model whose blocks are ``blocks`` and whose forward reads the
  ``grad_checkpointing`` flag; the final ``norm`` fits the output of every block.

Hierarchical models get the stage-wise part of the contract from :mod:`._staged`.
"""
from __future__ import annotations

from functools import partial
from typing import List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from timm.layers import global_pool_nlc
from timm.models._features import feature_take_indices
from timm.models.vision_transformer import init_weights_vit_timm

__all__ = [
    "BlocksMixin", "HeadModuleMixin", "LinearHeadMixin", "check_global_pool", "check_output_fmt", "init_linear_weights",
]

# The authors' init for every family that uses it (``model.apply(init_linear_weights)``): timm's ViT init
# without its resets, i.e. truncated-normal (std 0.02) linear weights, zero biases, the rest as built.
init_linear_weights = partial(init_weights_vit_timm, needs_reset=False)


def check_global_pool(global_pool: str, pool_types: Sequence[str], model_name: str) -> str:
    """``global_pool`` when it is one of ``pool_types``, else a ValueError that lists them."""
    if global_pool not in pool_types:
        choices = ", ".join(repr(p) for p in pool_types)
        raise ValueError(f"global_pool must be one of {choices} for {model_name}, got {global_pool!r}")
    return global_pool


def check_output_fmt(output_fmt: str, formats: Sequence[str]) -> None:
    """A ValueError naming the supported formats unless ``output_fmt`` is one of them."""
    if output_fmt not in formats:
        raise ValueError(f"output_fmt must be {' or '.join(repr(f) for f in formats)}, got {output_fmt!r}")


class HeadModuleMixin:
    @torch.jit.ignore
    def get_classifier(self) -> nn.Module:
        return self.head.fc

    def reset_classifier(self, num_classes: int, global_pool: Optional[str] = None) -> None:
        self.num_classes = num_classes
        self.head.reset(num_classes, global_pool)

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        return self.head(x, pre_logits=pre_logits)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))


class LinearHeadMixin:
    """``forward_head`` pools the tokens of ``forward_features`` (prefix tokens first) with timm's
    ``global_pool_nlc``, then applies ``head_drop`` and the classifier; a model whose features are not a
    token sequence overrides it.

    ``global_pool=''`` is timm's "no pooling", which ``prune_intermediate_layers`` asks for: a model
    whose ``pool_types`` lack it must pool, and keeps its pooling.
    """

    pool_types: Tuple[str, ...]  # the global_pool values the model accepts

    def _checked_pool(self, global_pool: str) -> str:
        return check_global_pool(global_pool, self.pool_types, type(self).__name__)

    @torch.jit.ignore
    def get_classifier(self) -> nn.Module:
        return self.head

    def reset_classifier(self, num_classes: int, global_pool: Optional[str] = None) -> None:
        keeps_pooling = global_pool == "" and "" not in self.pool_types
        if global_pool is not None and not keeps_pooling:
            self.global_pool = self._checked_pool(global_pool)
        self.num_classes = num_classes
        self.head = nn.Linear(self.num_features, num_classes) if num_classes > 0 else nn.Identity()

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        x = self.head_drop(global_pool_nlc(x, self.global_pool, self.num_prefix_tokens))
        return x if pre_logits else self.head(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))


class BlocksMixin:
    @torch.jit.ignore
    def set_grad_checkpointing(self, enable: bool = True) -> None:
        self.grad_checkpointing = enable

    def prune_intermediate_layers(
        self, indices: Union[int, List[int]] = 1, prune_norm: bool = False, prune_head: bool = True
    ) -> List[int]:
        take_indices, max_index = feature_take_indices(len(self.blocks), indices)
        self.blocks = self.blocks[: max_index + 1]
        if prune_norm:
            self.norm = nn.Identity()
        if prune_head:
            self.reset_classifier(0, "")
        return take_indices
