# RMT's token-labelling recipe for RMT-S*/B*/L* (qhfan/RMT classification_token_label_release: main.py,
# train_s.sh, configs/RMT/RMT_*.py; TLT's token labelling). The optimizer, schedule and EMA are the plain
# recipe's (the same main.py defaults, and the logs RMT_log/rmt_*_label.txt show the same lr curve, 2048 images
# per step); the data pipeline and the loss differ.
_base_ = "rmt.py"

data = dict(
    # main.py L286-349 (build_token_label): timm's token-label loader, random train interpolation, no
    # repeated augmentation (the RASampler is only built without token labels), eval crop 0.96
    train_interpolation="random",
    repeated_aug=0,
    crop_pct=0.96,
)

# main.py L297-299 switches mixup and cutmix off: the model mixes instead (MixToken, below)
mixup = dict(mixup_alpha=0.0, cutmix_alpha=0.0)

loss = dict(
    label_smoothing=0.1,  # engine.py L43-47: create_token_label_target(..., smoothing=args.smoothing)
    token_label=dict(
        # TLT's dense score maps of the ImageNet train set (label_top5_train_nfnet: NFNet-F6 top-5 scores per
        # location, one file per image); train_s.sh --token-label-data. Download them from TLT.
        label_dir=None,
        label_size=7,  # train_s.sh --token-label-size 7: the maps are read as 7x7 targets
        dense_weight=0.5,  # main.py L206: TokenLabelCrossEntropy(dense_weight, cls_weight)
        cls_weight=1.0,  # main.py L208
        # MixToken in the model's forward (RMT.py L565-567, L635-661): a CutMix box drawn with
        # lam ~ Beta(beta, beta) on the 7x7 token grid, pasted from the flipped batch at the stem's 56x56 map
        # (the stem-to-token stride, 8, x the box), and the same box mixed into the dense outputs and the class
        # target
        mix_token=True,
        mix_token_beta=1.0,
        # tlt/data/mixup.py get_label: TLT gives RoIAlign the crop as (top, left, bottom, right) where it reads
        # (x1, y1, x2, y2), so the label map is cropped transposed to the image; the released weights were
        # trained so (False: crop it where the image was cropped)
        tlt_box_order=True,
    ),
)
