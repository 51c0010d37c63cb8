# RMT-B Mask R-CNN 3x (the authors' recipe: multi-scale + crop, AdamW 0.0002); box/mask AP 52.2 / 46.1
# backbone weights: the authors' ImageNet file (Baidu Netdisk only, see model_cards/rmt.md) at checkpoints/rmt_b.pth
# RMT-S's config with the RMT-B backbone and lr 0.0002.
_base_ = "./mask-rcnn_rmt_s_fpn_ms-crop-3x_coco.py"
model = dict(
    backbone=dict(model_name="rmt_b", pretrained="checkpoints/rmt_b.pth", drop_path_rate=0.4),
    neck=dict(in_channels=[80, 160, 320, 512]),
)
optim_wrapper = dict(optimizer=dict(lr=0.0002))
