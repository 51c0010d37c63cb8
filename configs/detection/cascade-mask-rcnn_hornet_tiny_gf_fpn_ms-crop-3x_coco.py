# HorNet-T (GF) Cascade Mask R-CNN 3x: the authors' recipe (AdamW 2e-4, layer-wise lr decay 0.7 over 12 layers); box/mask AP 52.4 / 45.6
_base_ = [
    "../_base_/models/cascade_mask_rcnn_vitzoo_fpn.py",
    "../_base_/datasets/coco_instance_ms_crop.py",
    "mmdet::_base_/default_runtime.py",
    "../_base_/schedules/det_adamw_3x.py",
]
model = dict(
    backbone=dict(model_name="hornet_tiny_gf", pretrained=True, drop_path_rate=0.4),
    neck=dict(in_channels=[64, 128, 256, 512]),
)
optim_wrapper = dict(
    _delete_=True,
    type="OptimWrapper",
    optimizer=dict(type="AdamW", lr=0.0002, betas=(0.9, 0.999), weight_decay=0.05),
    constructor="LayerDecayOptimWrapperConstructor",
    paramwise_cfg=dict(layer_decay_rate=0.7, decay_type="layer_wise", num_layers=12),
)
