# SOFT-Huge-Norm, ImageNet-1k 224: top-1 83.4 (SOFT README.md, ImageNet table)
_base_ = "_base_/soft.py"
# config/SOFT_Huge_norm.yaml: lr 2.7e-4 (per 1024 images), batch_size 32 per GPU; no --drop-path, so main.py L171's 0.1
model = dict(name="soft_norm_huge", drop_path_rate=0.1)
optimizer = dict(lr=2.7e-4)
data = dict(batch_size=32)
