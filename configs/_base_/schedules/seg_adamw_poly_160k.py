# The Swin-style ADE20K recipe most backbone papers reuse: AdamW, 1500 linear warm-up iterations,
# poly (power 1) decay to 0 over 160k iterations (with datasets/ade20k_8xb2.py: 16 images per iteration).
_base_ = ["mmseg::_base_/schedules/schedule_160k.py"]
optim_wrapper = dict(
    _delete_=True,
    type="OptimWrapper",
    optimizer=dict(type="AdamW", lr=6e-5, betas=(0.9, 0.999), weight_decay=0.01),
    paramwise_cfg=dict(
        custom_keys={
            "absolute_pos_embed": dict(decay_mult=0.0),
            "relative_position_bias_table": dict(decay_mult=0.0),
            "norm": dict(decay_mult=0.0),
        }
    ),
)
param_scheduler = [
    dict(type="LinearLR", start_factor=1e-6, by_epoch=False, begin=0, end=1500),
    dict(type="PolyLR", eta_min=0.0, power=1.0, begin=1500, end=160000, by_epoch=False),
]
