# HorNet-T (GF) Cascade Mask R-CNN 3x: the authors' recipe (AdamW 2e-4, layer-wise lr decay 0.7 over 12 layers); box/mask AP 52.4 / 45.6
# HorNet-T (7X7)'s config with the global-filter backbone.
_base_ = "./cascade-mask-rcnn_hornet_tiny_7x7_fpn_ms-crop-3x_coco.py"
model = dict(backbone=dict(model_name="hornet_tiny_gf"))
