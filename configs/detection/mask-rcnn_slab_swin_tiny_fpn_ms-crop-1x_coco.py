# SLAB-Swin-T Mask R-CNN 1x: the authors' recipe (SLAB detection/configs/swin: multi-scale + crop, AdamW 1e-4)
_base_ = [
    "../_base_/models/mask_rcnn_vitzoo_fpn.py",
    "../_base_/datasets/coco_instance_ms_crop.py",
    "mmdet::_base_/default_runtime.py",
    "../_base_/schedules/det_adamw_1x.py",
]
model = dict(
    backbone=dict(model_name="slab_swin_tiny", pretrained=True, drop_path_rate=0.1),
    neck=dict(in_channels=[96, 192, 384, 768]),
)
