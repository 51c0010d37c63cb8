# TNT-S, ImageNet-1k 224: top-1 81.5 (tnt_pytorch/readme.md, TNT pretrained models table)
_base_ = "_base_/tnt.py"
model = dict(name="vz_tnt_s_patch16_224", drop_path_rate=0.1)  # readme.md L16: --drop-path .1
