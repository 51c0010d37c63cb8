# PyramidTNT-Ti, ImageNet-1k 192: top-1 75.2 (tnt_pytorch/readme.md, PyramidTNT pretrained models table)
_base_ = "_base_/pyramid_tnt.py"
# the readme publishes the PyramidTNT-S command only (L36); this variant takes its drop path 0.1
model = dict(name="vz_pyramid_tnt_ti", drop_path_rate=0.1)
data = dict(img_size=192)  # pyramid_tnt.py L50-60: ptnt_ti_patch16_192's input size
