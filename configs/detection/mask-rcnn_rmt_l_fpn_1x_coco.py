# RMT-L Mask R-CNN 1x (the authors' recipe: single scale, AdamW 0.0002); box/mask AP 51.6 / 45.9
# backbone weights: the authors' ImageNet file (Baidu Netdisk only, see model_cards/rmt.md) at checkpoints/rmt_l.pth
# RMT-T's config with the RMT-L backbone and lr 0.0002.
_base_ = "./mask-rcnn_rmt_t_fpn_1x_coco.py"
model = dict(
    backbone=dict(model_name="rmt_l", pretrained="checkpoints/rmt_l.pth", drop_path_rate=0.5),
    neck=dict(in_channels=[112, 224, 448, 640]),
)
optim_wrapper = dict(optimizer=dict(lr=0.0002))
