"""Train a model from a config: ImageNet-style classification, or MMSegmentation / MMDetection.

    python tools/train.py configs/classification/quickstart_rmt_t_synthetic.py
    python tools/train.py configs/classification/rmt_t_in1k.py --cfg-options data.train_dir=/data/imagenet/train \\
        data.val_dir=/data/imagenet/val
    python tools/train.py configs/segmentation/quickstart_upernet_vz_swin_tiny_synthetic.py
    python tools/train.py CONFIG --work-dir work_dirs/run1 --cfg-options optimizer.lr=5e-4
    python tools/train.py CONFIG --resume                  # continue from the work dir's last checkpoint
    python tools/train.py CONFIG --resume work_dirs/run1/last.pth
    torchrun --nproc-per-node 8 tools/train.py CONFIG --launcher pytorch     # multi-GPU; add --nnodes /
                                                                             # --node-rank / --master-addr for multi-node
Classification configs (``task = "classification"``, configs/classification/) run with timm's data
pipeline, mixup, losses, optimizers, schedulers and EMA, and need no OpenMMLab package; the others run
with the mmengine Runner (``python tools/install_mm.py``). Configs that name a synthetic dataset get it
written on first use.
"""
from __future__ import annotations

import argparse
import os.path as osp

from vitzoo.classification import is_classification_config
from vitzoo.cli import add_common_arguments


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("config", help="config file (configs/classification, configs/segmentation, configs/detection)")
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


def train_dense(args: argparse.Namespace) -> None:
    if args.amp:
        import torch

        if not torch.cuda.is_available():
            raise SystemExit("--amp needs a CUDA GPU (mmengine's AmpOptimWrapper); run without --amp on CPU")
    from vitzoo.mm.launch import load_config

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


def main(argv=None):
    args = parse_args(argv)
    if not osp.isfile(args.config):
        raise SystemExit(f"config file {args.config!r} does not exist")
    if is_classification_config(args.config):
        from vitzoo.classification.launch import train_main

        return train_main(args)
    return train_dense(args)


if __name__ == "__main__":
    main()
