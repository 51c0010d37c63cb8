# HorNet-B (GF) UPerNet, ADE20K 160k: the authors' recipe (AdamW 1e-4, stage-wise lr decay 0.9 over 12 layers, sliding-window test); mIoU 50.5 / 50.9 (single / multi-scale)
_base_ = [
    "../_base_/models/upernet_vitzoo.py",
    "../_base_/datasets/ade20k_8xb2.py",
    "mmseg::_base_/default_runtime.py",
    "../_base_/schedules/seg_adamw_poly_160k.py",
]
crop_size = (512, 512)
model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(model_name="hornet_base_gf", pretrained=True, drop_path_rate=0.5),
    decode_head=dict(in_channels=[128, 256, 512, 1024]),
    auxiliary_head=dict(in_channels=512),
    test_cfg=dict(mode="slide", crop_size=crop_size, stride=(341, 341)),
)
optim_wrapper = dict(
    _delete_=True,
    type="OptimWrapper",
    optimizer=dict(type="AdamW", lr=0.0001, betas=(0.9, 0.999), weight_decay=0.05),
    constructor="LayerDecayOptimWrapperConstructor",
    paramwise_cfg=dict(layer_decay_rate=0.9, decay_type="stage_wise", num_layers=12),
)
