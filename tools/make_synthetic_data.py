"""Write a small synthetic dataset in the ImageFolder, ADE20K or COCO on-disk format (see vitzoo/synthetic.py).

    python tools/make_synthetic_data.py imagefolder data/synthetic_shapes --num-classes 6 --num-train 100
    python tools/make_synthetic_data.py ade20k data/synthetic_ade20k --num-train 200
    python tools/make_synthetic_data.py coco data/synthetic_coco
"""
from __future__ import annotations

import argparse

from vitzoo.synthetic import make_ade20k_like, make_coco_like, make_imagefolder_like


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("kind", choices=("imagefolder", "ade20k", "coco"))
    parser.add_argument("root", help="directory to write (created)")
    parser.add_argument("--num-train", type=int, default=40, help="images (imagefolder: per class)")
    parser.add_argument("--num-val", type=int, default=8, help="images (imagefolder: per class)")
    parser.add_argument("--num-classes", type=int, default=6, help="imagefolder only: 2-6")
    parser.add_argument("--size", type=int, nargs=2, metavar=("WIDTH", "HEIGHT"))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if min(args.num_train, args.num_val) < 1:
        parser.error("--num-train and --num-val must be at least 1")
    if args.size is not None and min(args.size) < 32:
        parser.error("--size must be at least 32x32 (detection filters smaller images)")
    maker = {"imagefolder": make_imagefolder_like, "ade20k": make_ade20k_like, "coco": make_coco_like}[args.kind]
    extra = {"size": tuple(args.size)} if args.size else {}
    if args.kind == "imagefolder":
        extra["num_classes"] = args.num_classes
    root = maker(args.root, num_train=args.num_train, num_val=args.num_val, seed=args.seed, **extra)
    print(f"wrote a synthetic {args.kind} dataset ({args.num_train} train, {args.num_val} val images) to {root}")


if __name__ == "__main__":
    main()
