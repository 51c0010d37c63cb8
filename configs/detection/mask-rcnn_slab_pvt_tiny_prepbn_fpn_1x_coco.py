# PVT-T with PRepBN Mask R-CNN 1x: the authors' recipe (SLAB detection/configs/pvt: single scale, AdamW 1e-4, wd 0.05)
_base_ = [
    "../_base_/models/mask_rcnn_vitzoo_fpn.py",
    "mmdet::_base_/datasets/coco_instance.py",
    "mmdet::_base_/default_runtime.py",
    "../_base_/schedules/det_adamw_1x.py",
]
model = dict(
    backbone=dict(model_name="slab_pvt_tiny_prepbn", pretrained=True, drop_path_rate=0.1),
    neck=dict(in_channels=[64, 128, 320, 512]),
)
optim_wrapper = dict(
    _delete_=True, type="OptimWrapper", optimizer=dict(type="AdamW", lr=0.0001, weight_decay=0.05)
)
