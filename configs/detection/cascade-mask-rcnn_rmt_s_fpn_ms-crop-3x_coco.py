# RMT-S Cascade Mask R-CNN 3x (the authors' recipe, AdamW 0.0004); box/mask AP 53.2 / 46.1
# backbone weights: the authors' ImageNet file (Baidu Netdisk only, see model_cards/rmt.md) at checkpoints/rmt_s.pth
_base_ = [
    "../_base_/models/cascade_mask_rcnn_vitzoo_fpn.py",
    "../_base_/datasets/coco_instance_ms_crop.py",
    "mmdet::_base_/default_runtime.py",
    "../_base_/schedules/det_adamw_3x.py",
]
model = dict(
    backbone=dict(model_name="rmt_s", pretrained='checkpoints/rmt_s.pth', drop_path_rate=0.15),
    neck=dict(in_channels=[64, 128, 256, 512]),
)
optim_wrapper = dict(
    _delete_=True,
    type="OptimWrapper",
    optimizer=dict(type="AdamW", lr=0.0004, betas=(0.9, 0.999), weight_decay=0.05),
    paramwise_cfg=dict(
        custom_keys={
            "absolute_pos_embed": dict(decay_mult=0.0),
            "relative_position_bias_table": dict(decay_mult=0.0),
            "norm": dict(decay_mult=0.0),
        }
    ),
)
