# PyramidTNT's ImageNet-1k recipe: TNT's (tnt_pytorch/train.py) with 20 warmup epochs instead of 5
# (tnt_pytorch/readme.md L36, the 8-GPU PyramidTNT-S command; every other argument is TNT's).
_base_ = "tnt.py"

scheduler = dict(warmup_epochs=20)
