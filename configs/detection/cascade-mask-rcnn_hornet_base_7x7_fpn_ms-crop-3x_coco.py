# HorNet-B (7X7) Cascade Mask R-CNN 3x: the authors' recipe (AdamW 2e-4, layer-wise lr decay 0.8 over 12 layers); box/mask AP 53.3 / 46.1
# HorNet-T (7X7)'s config with the HorNet-B backbone and lr decay 0.8.
_base_ = "./cascade-mask-rcnn_hornet_tiny_7x7_fpn_ms-crop-3x_coco.py"
model = dict(
    backbone=dict(model_name="hornet_base_7x7", drop_path_rate=0.7),
    neck=dict(in_channels=[128, 256, 512, 1024]),
)
optim_wrapper = dict(paramwise_cfg=dict(layer_decay_rate=0.8))
