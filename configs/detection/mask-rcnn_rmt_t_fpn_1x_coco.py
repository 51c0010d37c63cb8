# RMT-T Mask R-CNN 1x (the authors' recipe: single scale, AdamW 0.0004); box/mask AP 47.1 / 42.6
# backbone weights: the authors' ImageNet file (Baidu Netdisk only, see model_cards/rmt.md) at checkpoints/rmt_t.pth
_base_ = "../_base_/mask_rcnn_vitzoo_fpn_1x_coco.py"
model = dict(
    backbone=dict(model_name="rmt_t", pretrained="checkpoints/rmt_t.pth", drop_path_rate=0.1),
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
