# SLAB's PVT recipe: the SLAB codebase with the TRAIN section of cfgs/slab_pvt_*.yaml and cfgs/pvt_*_prepbn.yaml
# (PVT's own schedule: 5 warmup epochs, then 10 cooldown epochs at min_lr after the 300).
_base_ = "slab.py"

scheduler = dict(warmup_epochs=5, warmup_lr=1e-6, min_lr=1e-5, cooldown_epochs=10)

train = dict(clip_grad=None)  # CLIP_GRAD None (PVT-M: 1.0, set in its configs)
