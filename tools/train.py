"""Train an MMSegmentation / MMDetection model from a config (mmengine Runner).

    python tools/train.py configs/segmentation/quickstart_upernet_rmt_t_synthetic.py
    python tools/train.py CONFIG --work-dir work_dirs/run1 --cfg-options train_dataloader.batch_size=4
    python tools/train.py CONFIG --resume                  # continue from the work dir's last checkpoint
    python tools/train.py CONFIG --resume work_dirs/run1/iter_200.pth
    torchrun --nproc-per-node 8 tools/train.py CONFIG --launcher pytorch     # multi-GPU; add --nnodes /
                                                                             # --node-rank / --master-addr for multi-node
Configs with a ``synthetic_data`` dict get that dataset written on first use.
"""
from __future__ import annotations

import argparse
import os.path as osp

from vitzoo.mm.launch import add_common_arguments, load_config


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("config", help="config file (e.g. configs/segmentation/*.py)")
    parser.add_argument(
        "--resume",
        nargs="?",
        type=str,
        const="auto",
        help="resume training: from CHECKPOINT if given, else from the latest checkpoint in the work dir",
    )
    parser.add_argument("--amp", action="store_true", help="automatic mixed precision (needs a GPU)")
    add_common_arguments(parser)
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    if args.amp:
        import torch

        if not torch.cuda.is_available():
            raise SystemExit("--amp needs a CUDA GPU (mmengine's AmpOptimWrapper); run without --amp on CPU")
    cfg = load_config(args)
    if args.amp:
        cfg.optim_wrapper.type = "AmpOptimWrapper"
        cfg.optim_wrapper.setdefault("loss_scale", "dynamic")
    if args.resume == "auto":
        cfg.resume, cfg.load_from = True, None
    elif args.resume is not None:
        if not osp.isfile(args.resume):
            raise SystemExit(f"--resume {args.resume}: no such checkpoint file")
        cfg.resume, cfg.load_from = True, args.resume

    from mmengine.registry import RUNNERS
    from mmengine.runner import Runner

    runner = Runner.from_cfg(cfg) if "runner_type" not in cfg else RUNNERS.build(cfg)
    runner.train()


if __name__ == "__main__":
    main()
