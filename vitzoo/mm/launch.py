"""What ``tools/train.py`` and ``tools/test.py`` share: common arguments and config loading."""
from __future__ import annotations

import argparse
import os
import os.path as osp

from mmengine.config import Config, DictAction

from .hooks import WeightsOnlyCheckpointHook
from .synthetic import ensure_synthetic_data

__all__ = ["add_common_arguments", "load_config"]

LAUNCHERS = ("none", "pytorch", "slurm", "mpi")


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--work-dir", help="directory for logs and checkpoints (default: work_dirs/<config name>)")
    parser.add_argument(
        "--cfg-options",
        nargs="+",
        action=DictAction,
        help="override config entries, e.g. train_dataloader.batch_size=4 model.backbone.pretrained=False",
    )
    parser.add_argument(
        "--launcher", choices=LAUNCHERS, default="none",
        help="'pytorch' when started by torchrun (one process per GPU, any number of nodes)",
    )
    # torch.distributed.launch passes --local-rank; torchrun sets LOCAL_RANK instead
    parser.add_argument("--local_rank", "--local-rank", type=int, default=0)


def load_config(args: argparse.Namespace) -> Config:
    """The config file with ``--cfg-options`` merged, the launcher and work dir set, data ensured."""
    os.environ.setdefault("LOCAL_RANK", str(args.local_rank))
    if not osp.isfile(args.config):
        raise SystemExit(f"config file {args.config!r} does not exist")
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    cfg.launcher = args.launcher
    if args.work_dir:
        cfg.work_dir = args.work_dir
    elif cfg.get("work_dir") is None:
        cfg.work_dir = osp.join("work_dirs", osp.splitext(osp.basename(args.config))[0])
    # resuming and tools/test.py then read the checkpoints with weights_only=True
    custom_hooks = list(cfg.get("custom_hooks", []))
    hook_type = WeightsOnlyCheckpointHook.__name__
    if not any(h.get("type") == hook_type for h in custom_hooks):
        cfg.custom_hooks = custom_hooks + [dict(type=hook_type)]
    if cfg.get("synthetic_data"):
        ensure_synthetic_data(cfg.synthetic_data)
    return cfg
