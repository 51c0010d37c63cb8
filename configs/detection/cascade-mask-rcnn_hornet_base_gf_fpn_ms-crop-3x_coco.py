# HorNet-B (GF) Cascade Mask R-CNN 3x: the authors' recipe (AdamW 2e-4, layer-wise lr decay 0.8 over 12 layers); box/mask AP 54.0 / 46.9
# HorNet-B (7X7)'s config with the global-filter backbone.
_base_ = "./cascade-mask-rcnn_hornet_base_7x7_fpn_ms-crop-3x_coco.py"
model = dict(backbone=dict(model_name="hornet_base_gf"))
