# HorNet-T (7X7) UPerNet, ADE20K 160k: the authors' recipe (AdamW 1e-4, stage-wise lr decay 0.9 over 6 layers, sliding-window test); mIoU 48.1 / 48.9 (single / multi-scale)
# Swin-T's config with the HorNet-T backbone, AdamW lr 1e-4 and wd 0.05 with stage-wise lr decay in place of
# the schedule's no-decay rules, and a sliding-window test.
_base_ = "./upernet_vz_swin_tiny_8xb2-160k_ade20k-512x512.py"
model = dict(
    backbone=dict(model_name="hornet_tiny_7x7", drop_path_rate=0.4),
    decode_head=dict(in_channels=[64, 128, 256, 512]),
    auxiliary_head=dict(in_channels=256),
    test_cfg=dict(mode="slide", crop_size={{_base_.crop_size}}, stride=(341, 341)),
)
optim_wrapper = dict(
    optimizer=dict(lr=0.0001, weight_decay=0.05),
    constructor="LayerDecayOptimWrapperConstructor",
    paramwise_cfg=dict(_delete_=True, layer_decay_rate=0.9, decay_type="stage_wise", num_layers=6),
)
