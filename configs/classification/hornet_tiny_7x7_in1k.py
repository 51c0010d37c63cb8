# HorNet-T (7x7), ImageNet-1k 224: top-1 82.8 (HorNet README.md, ImageNet-1K trained models table)
_base_ = "_base_/hornet.py"
# TRAINING.md L10-12: --drop_path 0.2 --clip_grad 100
model = dict(name="hornet_tiny_7x7", drop_path_rate=0.2)
train = dict(clip_grad=100.0)
