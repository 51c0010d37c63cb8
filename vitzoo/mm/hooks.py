"""Checkpoints that ``torch.load(weights_only=True)`` can read, so that resuming never unpickles code.

torch >= 2.6 loads with ``weights_only=True`` by default, and mmengine 0.10.7 (the newest) saves its
message hub as pickled ``HistoryBuffer`` objects (numpy arrays and bound methods) and numpy scalars:
``--resume`` and ``tools/test.py`` then fail on its own checkpoints.  This hook keeps what resuming needs
(iteration, epoch, runtime info as plain Python values) and drops the logged-scalar history, which
only smooths the printed losses and restarts after a resume.
"""
from __future__ import annotations

import numpy as np
from mmengine.hooks import Hook
from mmengine.registry import HOOKS

__all__ = ["WeightsOnlyCheckpointHook"]


def _plain(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_plain(v) for v in value)
    return value


@HOOKS.register_module()
class WeightsOnlyCheckpointHook(Hook):
    priority = "VERY_LOW"

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        hub = checkpoint.get("message_hub")
        if hub is None:
            return
        hub["log_scalars"] = {}
        hub["runtime_info"] = _plain(hub.get("runtime_info", {}))
