# Mask R-CNN + FPN over a vitzoo backbone on COCO at a single scale, 12 epochs of det_adamw_1x: the
# recipe that RMT and SLAB-PVT train with (with their own optimizer values), and vitzoo's default for
# backbones whose authors released no detection code. A config sets the backbone and neck.in_channels.
_base_ = [
    "./models/mask_rcnn_vitzoo_fpn.py",
    "mmdet::_base_/datasets/coco_instance.py",
    "mmdet::_base_/default_runtime.py",
    "./schedules/det_adamw_1x.py",
]
