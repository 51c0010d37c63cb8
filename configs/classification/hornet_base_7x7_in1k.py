# HorNet-B (7x7), ImageNet-1k 224: top-1 84.2 (HorNet README.md, ImageNet-1K trained models table)
_base_ = "_base_/hornet.py"
# TRAINING.md L50-52: --drop_path 0.5 --clip_grad 5
model = dict(name="hornet_base_7x7", drop_path_rate=0.5)
# --batch_size 64 --update_freq 2 on 32 GPUs: the same 4096 images per step
data = dict(batch_size=64)
train = dict(clip_grad=5.0, grad_accum_steps=2)
