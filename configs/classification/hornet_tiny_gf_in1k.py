# HorNet-T (GF), ImageNet-1k 224: top-1 83.0 (HorNet README.md, ImageNet-1K trained models table)
_base_ = "_base_/hornet.py"
# TRAINING.md L20-22: --drop_path 0.2 --clip_grad 1
model = dict(name="hornet_tiny_gf", drop_path_rate=0.2)
train = dict(clip_grad=1.0)
