# Semantic FPN's ADE20K schedule as RMT trains it: AdamW (lr 1e-4, wd 1e-4), poly (power 0.9) to 1e-6
# over 80k iterations, no warm-up.
_base_ = ["mmseg::_base_/schedules/schedule_80k.py"]
optim_wrapper = dict(
    _delete_=True, type="OptimWrapper", optimizer=dict(type="AdamW", lr=1e-4, weight_decay=1e-4)
)
param_scheduler = [dict(type="PolyLR", eta_min=1e-6, power=0.9, begin=0, end=80000, by_epoch=False)]
