# RMT-B Mask R-CNN 3x (the authors' recipe: multi-scale + crop, AdamW 0.0002); box/mask AP 52.2 / 46.1
# backbone weights: the authors' ImageNet file (Baidu Netdisk only, see model_cards/rmt.md) at checkpoints/rmt_b.pth
_base_ = [
    "../_base_/models/mask_rcnn_vitzoo_fpn.py",
    "../_base_/datasets/coco_instance_ms_crop.py",
    "mmdet::_base_/default_runtime.py",
    "../_base_/schedules/det_adamw_3x.py",
]
model = dict(
    backbone=dict(model_name="rmt_b", pretrained='checkpoints/rmt_b.pth', drop_path_rate=0.4),
    neck=dict(in_channels=[80, 160, 320, 512]),
)
optim_wrapper = dict(
    _delete_=True,
    type="OptimWrapper",
    optimizer=dict(type="AdamW", lr=0.0002, betas=(0.9, 0.999), weight_decay=0.05),
    paramwise_cfg=dict(
        custom_keys={
            "absolute_pos_embed": dict(decay_mult=0.0),
            "relative_position_bias_table": dict(decay_mult=0.0),
            "norm": dict(decay_mult=0.0),
        }
    ),
)
