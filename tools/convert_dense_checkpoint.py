"""Convert the authors' segmentation / detection checkpoint to the layout of a vitzoo config.

    python tools/convert_dense_checkpoint.py configs/segmentation/upernet_vz_swin_tiny_8xb2-160k_ade20k-512x512.py \
        upernet_swin_tiny_patch4_window7_512x512.pth upernet_vz_swin_tiny.pth
    python tools/test.py CONFIG upernet_vz_swin_tiny.pth      # evaluates the authors' trained model

The backbone goes through the family's checkpoint filter (as for timm.create_model), the per-stage output
norms become the adapter's out_norms, the neck and heads are copied. Reading never runs pickled code.
"""
from __future__ import annotations

import argparse

import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

from vitzoo.checkpoint import load_checkpoint_file, unwrap_state_dict
from vitzoo.mm.convert import convert_dense_state_dict


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("config", help="the vitzoo config the checkpoint will be used with")
    parser.add_argument("checkpoint", help="the authors' MMSeg / MMDet checkpoint")
    parser.add_argument("output", help="where to write the converted checkpoint (.pth)")
    args = parser.parse_args(argv)

    cfg = Config.fromfile(args.config)
    init_default_scope(cfg.get("default_scope", "mmseg"))
    from mmengine.registry import MODELS

    backbone_cfg = dict(cfg.model.backbone, pretrained=False)
    backbone = MODELS.build(backbone_cfg)
    state_dict = unwrap_state_dict(load_checkpoint_file(args.checkpoint), prefer_ema=False)
    converted = convert_dense_state_dict(state_dict, backbone)
    torch.save({"state_dict": converted, "meta": {"converted_from": args.checkpoint}}, args.output)
    print(f"wrote {len(converted)} tensors for {backbone.model_name} to {args.output}")


if __name__ == "__main__":
    main()
