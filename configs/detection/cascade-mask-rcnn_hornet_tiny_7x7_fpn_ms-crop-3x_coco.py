# HorNet-T (7X7) Cascade Mask R-CNN 3x: the authors' recipe (AdamW 2e-4, layer-wise lr decay 0.7 over 12 layers); box/mask AP 51.7 / 44.8
# Swin-T's Cascade Mask R-CNN 3x config with the HorNet-T backbone and HorNet's optimizer.
_base_ = "./cascade-mask-rcnn_vz_swin_tiny_fpn_ms-crop-3x_coco.py"
model = dict(
    backbone=dict(model_name="hornet_tiny_7x7", drop_path_rate=0.4),
    neck=dict(in_channels=[64, 128, 256, 512]),
)
optim_wrapper = dict(
    _delete_=True,
    type="OptimWrapper",
    optimizer=dict(type="AdamW", lr=0.0002, betas=(0.9, 0.999), weight_decay=0.05),
    constructor="LayerDecayOptimWrapperConstructor",
    paramwise_cfg=dict(layer_decay_rate=0.7, decay_type="layer_wise", num_layers=12),
)
