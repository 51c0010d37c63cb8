# HorNet-B (GF) UPerNet, ADE20K 160k: the authors' recipe (AdamW 1e-4, stage-wise lr decay 0.9 over 12 layers, sliding-window test); mIoU 50.5 / 50.9 (single / multi-scale)
# HorNet-B (7X7)'s config with the global-filter backbone and drop path 0.5.
_base_ = "./upernet_hornet_base_7x7_8xb2-160k_ade20k-512x512.py"
model = dict(backbone=dict(model_name="hornet_base_gf", drop_path_rate=0.5))
