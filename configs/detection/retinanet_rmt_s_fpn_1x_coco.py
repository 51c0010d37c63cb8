# RMT-S RetinaNet 1x (the authors' recipe: AdamW 0.0004, wd 1e-4); box AP 47.8
# backbone weights: the authors' ImageNet file (Baidu Netdisk only, see model_cards/rmt.md) at checkpoints/rmt_s.pth
# RMT-T's config with the RMT-S backbone (same channels).
_base_ = "./retinanet_rmt_t_fpn_1x_coco.py"
model = dict(backbone=dict(model_name="rmt_s", pretrained="checkpoints/rmt_s.pth", drop_path_rate=0.15))
