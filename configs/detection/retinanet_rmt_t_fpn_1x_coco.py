# RMT-T RetinaNet 1x (the authors' recipe: AdamW 0.0004, wd 1e-4); box AP 45.1
# backbone weights: the authors' ImageNet file (Baidu Netdisk only, see model_cards/rmt.md) at checkpoints/rmt_t.pth
_base_ = [
    "../_base_/models/retinanet_vitzoo_fpn.py",
    "mmdet::_base_/datasets/coco_detection.py",
    "mmdet::_base_/default_runtime.py",
    "../_base_/schedules/det_adamw_1x.py",
]
model = dict(
    backbone=dict(model_name="rmt_t", pretrained="checkpoints/rmt_t.pth", drop_path_rate=0.1),
    neck=dict(in_channels=[64, 128, 256, 512]),
)
# AdamW without det_adamw_1x's betas and its no-decay rules for norms and position tables
optim_wrapper = dict(
    _delete_=True, type="OptimWrapper", optimizer=dict(type="AdamW", lr=0.0004, weight_decay=0.0001)
)
