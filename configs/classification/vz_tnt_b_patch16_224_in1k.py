# TNT-B, ImageNet-1k 224: top-1 82.9 (tnt_pytorch/readme.md, TNT pretrained models table)
_base_ = "_base_/tnt.py"
# the readme's command (L16) is TNT-S's and the only one published; TNT-B takes its drop path 0.1
model = dict(name="vz_tnt_b_patch16_224", drop_path_rate=0.1)
