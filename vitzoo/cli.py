"""Command-line arguments that ``tools/train.py`` and ``tools/test.py`` share for every kind of config."""
from __future__ import annotations

import argparse
import os.path as osp

__all__ = ["LAUNCHERS", "add_common_arguments", "default_work_dir"]

LAUNCHERS = ("none", "pytorch", "slurm", "mpi")


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--work-dir", help="directory for logs and checkpoints (default: work_dirs/<config name>)")
    parser.add_argument(
        "--cfg-options",
        nargs="+",
        default=[],
        metavar="KEY=VALUE",
        help="override config entries, e.g. optimizer.lr=5e-4 data.batch_size=64 (classification) or "
        "train_dataloader.batch_size=4 model.backbone.pretrained=False (MMSeg / MMDet)",
    )
    parser.add_argument(
        "--launcher", choices=LAUNCHERS, default="none",
        help="'pytorch' when started by torchrun (one process per GPU, any number of nodes)",
    )
    # torch.distributed.launch passes --local-rank; torchrun sets LOCAL_RANK instead
    parser.add_argument("--local_rank", "--local-rank", type=int, default=0)


def default_work_dir(config: str) -> str:
    return osp.join("work_dirs", osp.splitext(osp.basename(config))[0])
