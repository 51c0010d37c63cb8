# PyramidTNT-M, ImageNet-1k 256: top-1 83.5 (tnt_pytorch/readme.md, PyramidTNT pretrained models table)
_base_ = "_base_/pyramid_tnt.py"
# the readme publishes the PyramidTNT-S command only (L36); this variant takes its drop path 0.1
model = dict(name="vz_pyramid_tnt_m", drop_path_rate=0.1)
data = dict(img_size=256)  # pyramid_tnt.py L50-60: ptnt_m_patch16_256's input size
