# HorNet-B (GF), ImageNet-1k 224: top-1 84.3 (HorNet README.md, ImageNet-1K trained models table)
_base_ = "_base_/hornet.py"
# TRAINING.md L60-62: --drop_path 0.5 --clip_grad 1, --aa rand-m15-mstd0.5-inc1
model = dict(name="hornet_base_gf", drop_path_rate=0.5)
# --batch_size 64 --update_freq 2 on 32 GPUs: the same 4096 images per step
data = dict(batch_size=64, auto_augment="rand-m15-mstd0.5-inc1")
train = dict(clip_grad=1.0, grad_accum_steps=2)
