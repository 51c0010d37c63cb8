# HorNet-S (7X7) Cascade Mask R-CNN 3x: the authors' recipe (AdamW 2e-4, layer-wise lr decay 0.7 over 12 layers); box/mask AP 52.7 / 45.6
# HorNet-T (7X7)'s config with the HorNet-S backbone.
_base_ = "./cascade-mask-rcnn_hornet_tiny_7x7_fpn_ms-crop-3x_coco.py"
model = dict(
    backbone=dict(model_name="hornet_small_7x7", drop_path_rate=0.6),
    neck=dict(in_channels=[96, 192, 384, 768]),
)
