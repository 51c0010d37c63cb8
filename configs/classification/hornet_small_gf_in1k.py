# HorNet-S (GF), ImageNet-1k 224: top-1 84.0 (HorNet README.md, ImageNet-1K trained models table)
_base_ = "_base_/hornet.py"
# TRAINING.md L40-42: --drop_path 0.4 --clip_grad 1, --aa rand-m12-mstd0.5-inc1
model = dict(name="hornet_small_gf", drop_path_rate=0.4)
# --batch_size 64 --update_freq 2 on 32 GPUs: the same 4096 images per step
data = dict(batch_size=64, auto_augment="rand-m12-mstd0.5-inc1")
train = dict(clip_grad=1.0, grad_accum_steps=2)
