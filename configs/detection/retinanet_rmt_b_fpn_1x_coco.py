# RMT-B RetinaNet 1x (the authors' recipe: AdamW 0.0004, wd 1e-4); box AP 49.1
# backbone weights: the authors' ImageNet file (Baidu Netdisk only, see model_cards/rmt.md) at checkpoints/rmt_b.pth
# RMT-T's config with the RMT-B backbone.
_base_ = "./retinanet_rmt_t_fpn_1x_coco.py"
model = dict(
    backbone=dict(model_name="rmt_b", pretrained="checkpoints/rmt_b.pth", drop_path_rate=0.4),
    neck=dict(in_channels=[80, 160, 320, 512]),
)
