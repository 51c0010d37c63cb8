# PVT-T with PRepBN Mask R-CNN 1x: the authors' recipe (SLAB detection/configs/pvt: single scale, AdamW 1e-4, wd 0.05)
_base_ = "../_base_/mask_rcnn_vitzoo_fpn_1x_coco.py"
model = dict(
    backbone=dict(model_name="slab_pvt_tiny_prepbn", pretrained=True, drop_path_rate=0.1),
    neck=dict(in_channels=[64, 128, 320, 512]),
)
# AdamW without det_adamw_1x's betas and its no-decay rules for norms and position tables
optim_wrapper = dict(
    _delete_=True, type="OptimWrapper", optimizer=dict(type="AdamW", lr=0.0001, weight_decay=0.05)
)
