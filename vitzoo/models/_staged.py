"""timm's feature API for the hierarchical families: a stem, a sequence of stages, an optional final norm.

:class:`StagesMixin` is the part that needs only the stages: the model keeps them in a sequence named
by ``stages_attr``, every stage has a ``grad_checkpointing`` flag, and ``norm`` (if the model has
one) is the final norm that acts on the last stage's output.

A model that mixes in :class:`StagedBackboneMixin` also defines ``_stem(x)`` (input check + stem) and
says with ``stage_fmt`` whether the maps between stages are channels-last ('NHWC') or channels-first
('NCHW'); each stage maps the previous stage's map to its own, and the mixin provides the forwards.
"""
from __future__ import annotations

from typing import List, Optional, Tuple, Union

import torch
import torch.nn as nn
from timm.models._features import feature_take_indices

from ._contract import check_output_fmt

__all__ = ["StagedBackboneMixin", "StagesMixin"]


class StagesMixin:
    stages_attr = "stages"

    def _stages(self) -> nn.Module:
        return getattr(self, self.stages_attr)

    def _final_norm(self) -> Optional[nn.Module]:
        return getattr(self, "norm", None)

    @torch.jit.ignore
    def set_grad_checkpointing(self, enable: bool = True) -> None:
        for stage in self._stages():
            stage.grad_checkpointing = enable

    def prune_intermediate_layers(
        self, indices: Union[int, List[int]] = 1, prune_norm: bool = False, prune_head: bool = True
    ) -> List[int]:
        stages = self._stages()
        take_indices, max_index = feature_take_indices(len(stages), indices)
        setattr(self, self.stages_attr, stages[: max_index + 1])
        # the final norm is sized for the last stage only
        if self._final_norm() is not None and (prune_norm or max_index < len(stages) - 1):
            self.norm = nn.Identity()
        if prune_head:
            self.reset_classifier(0, "")
        return take_indices


class StagedBackboneMixin(StagesMixin):
    stage_fmt = "NHWC"

    def _stem(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def _as_fmt(self, x: torch.Tensor, output_fmt: str) -> torch.Tensor:
        if output_fmt == self.stage_fmt:
            return x
        return (x.permute(0, 3, 1, 2) if self.stage_fmt == "NHWC" else x.permute(0, 2, 3, 1)).contiguous()

    def forward_intermediates(
        self,
        x: torch.Tensor,
        indices: Optional[Union[int, List[int]]] = None,
        norm: bool = False,
        stop_early: bool = False,
        output_fmt: str = "NCHW",
        intermediates_only: bool = False,
    ) -> Union[List[torch.Tensor], Tuple[torch.Tensor, List[torch.Tensor]]]:
        """Stage outputs (before the next stage's downsampling) as maps in ``output_fmt``.

        ``norm`` applies the final norm (if the model has one) to the last stage's map, the only one it
        is sized for.
        """
        check_output_fmt(output_fmt, ("NCHW", "NHWC"))
        all_stages = self._stages()
        take_indices, max_index = feature_take_indices(len(all_stages), indices)
        stages = all_stages[: max_index + 1] if stop_early else all_stages
        final_norm = self._final_norm()
        last = len(all_stages) - 1
        intermediates = []
        x = self._stem(x)
        for i, stage in enumerate(stages):
            x = stage(x)
            if i in take_indices:
                feat = final_norm(x) if norm and final_norm is not None and i == last else x
                intermediates.append(self._as_fmt(feat, output_fmt))
        if intermediates_only:
            return intermediates
        if final_norm is not None and len(stages) == len(all_stages):
            x = final_norm(x)
        return x, intermediates

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        x = self._stages()(self._stem(x))
        final_norm = self._final_norm()
        return final_norm(x) if final_norm is not None else x
