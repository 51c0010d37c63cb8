# RMT-S Cascade Mask R-CNN 3x (the authors' recipe, AdamW 0.0004); box/mask AP 53.2 / 46.1
# backbone weights: the authors' ImageNet file (Baidu Netdisk only, see model_cards/rmt.md) at checkpoints/rmt_s.pth
# Swin-T's Cascade Mask R-CNN 3x config with the RMT-S backbone and lr 0.0004.
_base_ = "./cascade-mask-rcnn_vz_swin_tiny_fpn_ms-crop-3x_coco.py"
model = dict(
    backbone=dict(model_name="rmt_s", pretrained="checkpoints/rmt_s.pth", drop_path_rate=0.15),
    neck=dict(in_channels=[64, 128, 256, 512]),
)
# AdamW at lr 0.0004 with the schedule's no-decay rules, replaced whole rather than merged into the
# schedule's optim_wrapper, which would carry over mmdet's _scope_ key
optim_wrapper = dict(
    _delete_=True,
    type="OptimWrapper",
    optimizer=dict(type="AdamW", lr=0.0004, betas=(0.9, 0.999), weight_decay=0.05),
    paramwise_cfg={{_base_.optim_wrapper.paramwise_cfg}},
)
