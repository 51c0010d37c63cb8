# 12 epochs, lr steps at 8 and 11, 1000 linear warm-up iterations; AdamW (lr 1e-4, wd 0.05) with
# no weight decay on norms and position tables; 16 images per iteration (2 per GPU x 8 GPUs).
_base_ = ["mmdet::_base_/schedules/schedule_1x.py"]
max_epochs = 12
train_cfg = dict(max_epochs=max_epochs)
param_scheduler = [
    dict(type="LinearLR", start_factor=0.001, by_epoch=False, begin=0, end=1000),
    dict(type="MultiStepLR", begin=0, end=max_epochs, by_epoch=True, milestones=[8, 11], gamma=0.1),
]
optim_wrapper = dict(
    type="OptimWrapper",
    optimizer=dict(_delete_=True, type="AdamW", lr=1e-4, betas=(0.9, 0.999), weight_decay=0.05),
    paramwise_cfg=dict(
        custom_keys={
            "absolute_pos_embed": dict(decay_mult=0.0),
            "relative_position_bias_table": dict(decay_mult=0.0),
            "norm": dict(decay_mult=0.0),
        }
    ),
)
auto_scale_lr = dict(enable=False, base_batch_size=16)
