"""Evaluate a checkpoint: top-1 / top-5 for classification configs, mIoU / COCO mAP for MMSeg / MMDet ones.

    python tools/test.py configs/classification/quickstart_rmt_t_synthetic.py work_dirs/quickstart/last.pth
    python tools/test.py CONFIG CHECKPOINT --out metrics.json
    python tools/test.py CONFIG CHECKPOINT --work-dir work_dirs/eval --cfg-options test_dataloader.batch_size=2
    torchrun --nproc-per-node 8 tools/test.py CONFIG CHECKPOINT --launcher pytorch

A classification training state (``last.pth``) is evaluated with its model weights and, when the run kept
an EMA, with the EMA's too (``ema_top1``, ...).
"""
from __future__ import annotations

import argparse
import json
import os.path as osp

from vitzoo.classification import is_classification_config
from vitzoo.cli import add_common_arguments


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("config", help="config file")
    parser.add_argument("checkpoint", help="checkpoint file (a tools/train.py checkpoint)")
    parser.add_argument("--out", help="also write the metrics as JSON to this file")
    add_common_arguments(parser)
    return parser.parse_args(argv)


def test_dense(args: argparse.Namespace) -> dict:
    from vitzoo.mm.launch import load_config

    cfg = load_config(args)
    cfg.load_from = args.checkpoint
    # the weights come from the checkpoint: do not fetch the backbone's pretrained weights first
    if "backbone" in cfg.model and "pretrained" in cfg.model.backbone:
        cfg.model.backbone.pretrained = False

    from mmengine.registry import RUNNERS
    from mmengine.runner import Runner

    runner = Runner.from_cfg(cfg) if "runner_type" not in cfg else RUNNERS.build(cfg)
    metrics = runner.test()
    if args.out:
        with open(args.out, "w") as f:
            json.dump({k: float(v) for k, v in metrics.items()}, f, indent=2)
    return metrics


def main(argv=None) -> dict:
    args = parse_args(argv)
    if not osp.isfile(args.config):
        raise SystemExit(f"config file {args.config!r} does not exist")
    if not osp.isfile(args.checkpoint):
        raise SystemExit(f"checkpoint {args.checkpoint!r} does not exist")
    if is_classification_config(args.config):
        from vitzoo.classification.launch import test_main

        return test_main(args)
    return test_dense(args)


if __name__ == "__main__":
    main()
