# Swin-S, ImageNet-1k 224: top-1 83.2 (Swin-Transformer README.md, ImageNet-1K table)
_base_ = "_base_/swin.py"
# configs/swin/swin_small_patch4_window7_224.yaml: DROP_PATH_RATE 0.3
model = dict(name="vz_swin_small_patch4_window7_224", drop_path_rate=0.3)
