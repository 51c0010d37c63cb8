# SOFT-Norm-S Mask R-CNN 1x (paper: box/mask AP 43.8 / 40.1); the authors released no dense code, so vitzoo's default: Swin-T's recipe, drop path 0.1 with single-scale 1x
# backbone weights: the authors' ImageNet file (Google Drive only, see model_cards/soft.md) at checkpoints/soft_norm_small.pth
_base_ = "../_base_/mask_rcnn_vitzoo_fpn_1x_coco.py"
model = dict(
    backbone=dict(model_name="soft_norm_small", pretrained="checkpoints/soft_norm_small.pth", drop_path_rate=0.1),
    neck=dict(in_channels=[64, 128, 320, 512]),
)
