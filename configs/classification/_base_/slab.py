# SLAB's ImageNet-1k recipe (xinghaochen/SLAB classification/: config.py, main.py, lr_scheduler.py): the Swin
# code base with Swin's defaults unchanged (config.py L105-164, main.py L89-91), 8 GPUs (README.md L65). The
# DeiT and Swin configs (cfgs/slab_deit_*.yaml, cfgs/*swin*.yaml, cfgs/deit_*_prepbn.yaml) set only the model
# and drop path on top.
#
# Progressive LayerNorm -> BatchNorm (models/prepbn.py L19-40, LinearNorm): its `warm` counter is 0 in every
# model and `step` counts forward passes, one per iteration. The model configs give the authors' step count in
# epochs at their iterations per epoch (ImageNet's 1281167 training images // total batch, drop_last).
_base_ = "swin.py"

# this code's older copy of Swin's lr_scheduler.py counts the warmup in the cosine
scheduler = dict(warmup_prefix=False)
