# HorNet-T (GF) UPerNet, ADE20K 160k: the authors' recipe (AdamW 1e-4, stage-wise lr decay 0.9 over 6 layers, sliding-window test); mIoU 49.2 / 49.3 (single / multi-scale)
# HorNet-T (7X7)'s config with the global-filter backbone.
_base_ = "./upernet_hornet_tiny_7x7_8xb2-160k_ade20k-512x512.py"
model = dict(backbone=dict(model_name="hornet_tiny_gf"))
