# Swin-T with PRepBN Mask R-CNN 3x: the authors' recipe (SLAB detection/configs/swin: multi-scale + crop, AdamW 1e-4)
_base_ = [
    "../_base_/models/mask_rcnn_vitzoo_fpn.py",
    "../_base_/datasets/coco_instance_ms_crop.py",
    "mmdet::_base_/default_runtime.py",
    "../_base_/schedules/det_adamw_3x.py",
]
model = dict(
    backbone=dict(model_name="slab_swin_tiny_prepbn", pretrained=True, drop_path_rate=0.2),
    neck=dict(in_channels=[96, 192, 384, 768]),
)
