# PyramidTNT-S Mask R-CNN 1x; the paper reports COCO results, its code has no dense recipe, so vitzoo's default: Swin-T's recipe, drop path 0.1 with single-scale 1x
# backbone weights: the authors' ImageNet file (BaiduDisk only, see model_cards/tnt.md) at checkpoints/pyramid_tnt_s.pth
_base_ = "../_base_/mask_rcnn_vitzoo_fpn_1x_coco.py"
model = dict(
    backbone=dict(model_name="vz_pyramid_tnt_s", pretrained="checkpoints/pyramid_tnt_s.pth", drop_path_rate=0.1),
    neck=dict(in_channels=[128, 256, 512, 512]),
)
