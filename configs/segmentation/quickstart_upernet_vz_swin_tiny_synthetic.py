# Quick start: UPerNet + Swin-T trained from scratch for 200 iterations on a synthetic ADE20K-format
# dataset (written to data/synthetic_ade20k on first use), evaluated (mIoU) every 100 iterations.
# Runs on a CPU in minutes:  python tools/train.py configs/segmentation/quickstart_upernet_vz_swin_tiny_synthetic.py
_base_ = [
    "../_base_/models/upernet_vitzoo.py",
    "../_base_/datasets/synthetic_ade20k.py",
    "mmseg::_base_/default_runtime.py",
]
crop_size = (128, 128)
norm_cfg = dict(type="BN", requires_grad=True)
model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(model_name="vz_swin_tiny_patch4_window7_224", pretrained=False, drop_path_rate=0.1),
    # narrower heads than the 160k recipe (512 / 256 channels): the synthetic task needs less
    decode_head=dict(in_channels=[96, 192, 384, 768], channels=128, norm_cfg=norm_cfg),
    auxiliary_head=dict(in_channels=384, channels=64, norm_cfg=norm_cfg),
)
optim_wrapper = dict(
    type="OptimWrapper",
    optimizer=dict(type="AdamW", lr=4e-4, betas=(0.9, 0.999), weight_decay=0.01),
    constructor="LayerDecayOptimWrapperConstructor",
    paramwise_cfg=dict(layer_decay_rate=0.9, decay_type="stage_wise"),
)
max_iters = 200
param_scheduler = [
    dict(type="LinearLR", start_factor=0.01, by_epoch=False, begin=0, end=30),
    dict(type="PolyLR", eta_min=0.0, power=1.0, begin=30, end=max_iters, by_epoch=False),
]
train_cfg = dict(type="IterBasedTrainLoop", max_iters=max_iters, val_interval=100)
val_cfg = dict(type="ValLoop")
test_cfg = dict(type="TestLoop")
default_hooks = dict(
    logger=dict(type="LoggerHook", interval=10, log_metric_by_epoch=False),
    checkpoint=dict(type="CheckpointHook", by_epoch=False, interval=100, max_keep_ckpts=2),
    visualization=dict(type="SegVisualizationHook"),
)
env_cfg = dict(cudnn_benchmark=False)
randomness = dict(seed=0)
