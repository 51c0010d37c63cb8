# PyramidTNT-S, ImageNet-1k 256: top-1 82.0 (tnt_pytorch/readme.md, PyramidTNT pretrained models table)
_base_ = "_base_/pyramid_tnt.py"
# readme.md L36 (the PyramidTNT-S command): --drop-path .1
model = dict(name="vz_pyramid_tnt_s", drop_path_rate=0.1)
data = dict(img_size=256)  # pyramid_tnt.py L50-60: ptnt_s_patch16_256's input size
