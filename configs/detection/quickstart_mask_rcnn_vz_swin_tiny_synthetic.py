# Quick start: Mask R-CNN + Swin-T trained from scratch on a synthetic COCO-format dataset (written to
# data/synthetic_coco on first use) for 200 iterations, evaluated (box and mask mAP) every 100.
# Runs on a CPU in minutes:  python tools/train.py configs/detection/quickstart_mask_rcnn_vz_swin_tiny_synthetic.py
_base_ = [
    "../_base_/models/mask_rcnn_vitzoo_fpn.py",
    "../_base_/datasets/synthetic_coco_instance.py",
    "mmdet::_base_/default_runtime.py",
]
model = dict(
    backbone=dict(model_name="vz_swin_tiny_patch4_window7_224", pretrained=False, drop_path_rate=0.1),
    neck=dict(in_channels=[96, 192, 384, 768]),
    roi_head=dict(bbox_head=dict(num_classes=3), mask_head=dict(num_classes=3)),
    # a few objects per image: far fewer proposals and sampled RoIs than COCO's 1000 / 512 keep CPU steps short
    train_cfg=dict(rpn_proposal=dict(nms_pre=300, max_per_img=100), rcnn=dict(sampler=dict(num=64))),
    test_cfg=dict(rpn=dict(nms_pre=300, max_per_img=100), rcnn=dict(max_per_img=20)),
)
optim_wrapper = dict(
    type="OptimWrapper",
    optimizer=dict(type="AdamW", lr=2e-4, betas=(0.9, 0.999), weight_decay=0.05),
    constructor="LayerDecayOptimWrapperConstructor",
    paramwise_cfg=dict(layer_decay_rate=0.9, decay_type="stage_wise"),
)
max_iters = 200
param_scheduler = [
    dict(type="LinearLR", start_factor=0.01, by_epoch=False, begin=0, end=30),
    dict(type="MultiStepLR", by_epoch=False, begin=0, end=max_iters, milestones=[160], gamma=0.1),
]
train_cfg = dict(type="IterBasedTrainLoop", max_iters=max_iters, val_interval=100)
val_cfg = dict(type="ValLoop")
test_cfg = dict(type="TestLoop")
train_dataloader = dict(sampler=dict(type="InfiniteSampler", shuffle=True))
default_hooks = dict(
    logger=dict(type="LoggerHook", interval=10),
    checkpoint=dict(type="CheckpointHook", by_epoch=False, interval=100, max_keep_ckpts=2),
)
log_processor = dict(by_epoch=False)
randomness = dict(seed=0)
