# RMT-L RetinaNet 1x (the authors' recipe: AdamW 0.0002, wd 1e-4); box AP 49.4
# backbone weights: the authors' ImageNet file (Baidu Netdisk only, see model_cards/rmt.md) at checkpoints/rmt_l.pth
# RMT-T's config with the RMT-L backbone and lr 0.0002.
_base_ = "./retinanet_rmt_t_fpn_1x_coco.py"
model = dict(
    backbone=dict(model_name="rmt_l", pretrained="checkpoints/rmt_l.pth", drop_path_rate=0.5),
    neck=dict(in_channels=[112, 224, 448, 640]),
)
optim_wrapper = dict(optimizer=dict(lr=0.0002))
