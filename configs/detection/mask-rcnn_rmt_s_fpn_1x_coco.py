# RMT-S Mask R-CNN 1x (the authors' recipe: single scale, AdamW 0.0004); box/mask AP 49.0 / 43.9
# backbone weights: the authors' ImageNet file (Baidu Netdisk only, see model_cards/rmt.md) at checkpoints/rmt_s.pth
# RMT-T's config with the RMT-S backbone (same channels).
_base_ = "./mask-rcnn_rmt_t_fpn_1x_coco.py"
model = dict(backbone=dict(model_name="rmt_s", pretrained="checkpoints/rmt_s.pth", drop_path_rate=0.15))
