"""How ``tools/train.py`` and ``tools/test.py`` read an MMSegmentation / MMDetection config."""
from __future__ import annotations

import argparse
import os
import os.path as osp

from mmengine.config import Config, DictAction

from ..cli import default_work_dir
from ..synthetic import ensure_synthetic_data
from .hooks import WeightsOnlyCheckpointHook

__all__ = ["load_config"]


def _parse_cfg_options(items: list[str]) -> dict:
    """``KEY=VALUE`` strings parsed as MMEngine's own ``--cfg-options`` parses them."""
    namespace = argparse.Namespace()
    DictAction(option_strings=["--cfg-options"], dest="cfg_options")(None, namespace, items)
    return namespace.cfg_options


def load_config(args: argparse.Namespace) -> Config:
    """The config file with ``--cfg-options`` merged, the launcher and work dir set, data ensured."""
    os.environ.setdefault("LOCAL_RANK", str(args.local_rank))
    if not osp.isfile(args.config):
        raise SystemExit(f"config file {args.config!r} does not exist")
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(_parse_cfg_options(args.cfg_options))
    cfg.launcher = args.launcher
    if args.work_dir:
        cfg.work_dir = args.work_dir
    elif cfg.get("work_dir") is None:
        cfg.work_dir = default_work_dir(args.config)
    # resuming and tools/test.py then read the checkpoints with weights_only=True
    custom_hooks = list(cfg.get("custom_hooks", []))
    hook_type = WeightsOnlyCheckpointHook.__name__
    if not any(h.get("type") == hook_type for h in custom_hooks):
        cfg.custom_hooks = custom_hooks + [dict(type=hook_type)]
    if cfg.get("synthetic_data"):
        ensure_synthetic_data(cfg.synthetic_data)
    return cfg
