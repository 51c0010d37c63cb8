# SLAB's CSWin recipe: the SLAB codebase with the TRAIN section of cfgs/slab_cswin_{t,s}.yaml (20 warmup epochs,
# then 10 cooldown epochs at min_lr after the 300).
_base_ = "slab.py"

scheduler = dict(warmup_epochs=20, warmup_lr=1e-6, min_lr=1e-5, cooldown_epochs=10)

train = dict(clip_grad=None)
