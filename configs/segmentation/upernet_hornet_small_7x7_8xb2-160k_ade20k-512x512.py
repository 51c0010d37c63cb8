# HorNet-S (7X7) UPerNet, ADE20K 160k: the authors' recipe (AdamW 1e-4, stage-wise lr decay 0.9 over 12 layers, sliding-window test); mIoU 49.2 / 49.8 (single / multi-scale)
# HorNet-T (7X7)'s config with the HorNet-S backbone and lr decay over 12 layers.
_base_ = "./upernet_hornet_tiny_7x7_8xb2-160k_ade20k-512x512.py"
model = dict(
    backbone=dict(model_name="hornet_small_7x7", drop_path_rate=0.3),
    decode_head=dict(in_channels=[96, 192, 384, 768]),
    auxiliary_head=dict(in_channels=384),
)
optim_wrapper = dict(paramwise_cfg=dict(num_layers=12))
