# Swin-T Mask R-CNN 1x as in the authors' repo (Swin-Transformer-Object-Detection): multi-scale + crop, drop path 0.1; box/mask AP 43.7 / 39.8
_base_ = [
    "../_base_/models/mask_rcnn_vitzoo_fpn.py",
    "../_base_/datasets/coco_instance_ms_crop.py",
    "mmdet::_base_/default_runtime.py",
    "../_base_/schedules/det_adamw_1x.py",
]
model = dict(
    backbone=dict(model_name="vz_swin_tiny_patch4_window7_224", pretrained=True, drop_path_rate=0.1),
    neck=dict(in_channels=[96, 192, 384, 768]),
)
