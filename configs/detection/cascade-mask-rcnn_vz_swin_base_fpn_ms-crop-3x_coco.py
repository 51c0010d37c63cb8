# Swin-B Cascade Mask R-CNN 3x (the authors' recipe): box/mask AP 51.9 / 45.0
_base_ = [
    "../_base_/models/cascade_mask_rcnn_vitzoo_fpn.py",
    "../_base_/datasets/coco_instance_ms_crop.py",
    "mmdet::_base_/default_runtime.py",
    "../_base_/schedules/det_adamw_3x.py",
]
model = dict(
    backbone=dict(model_name="vz_swin_base_patch4_window7_224", pretrained=True, drop_path_rate=0.3),
    neck=dict(in_channels=[128, 256, 512, 1024]),
)
