# SOFT-Small, ImageNet-1k 224: top-1 82.2 (SOFT README.md, ImageNet table)
_base_ = "_base_/soft.py"
# config/SOFT_Small.yaml: lr 1e-3, batch_size 128; no --drop-path, so main.py L171's 0.1
model = dict(name="soft_small", drop_path_rate=0.1)
