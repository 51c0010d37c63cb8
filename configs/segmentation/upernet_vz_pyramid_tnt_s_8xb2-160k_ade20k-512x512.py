# PyramidTNT-S UPerNet, ADE20K 160k; no dense recipe in the authors' code, so vitzoo's default: Swin-T's recipe, drop path 0.1
# backbone weights: the authors' ImageNet file (BaiduDisk only, see model_cards/tnt.md) at checkpoints/pyramid_tnt_s.pth
# Swin-T's config with the PyramidTNT-S backbone and drop path 0.1.
_base_ = "./upernet_vz_swin_tiny_8xb2-160k_ade20k-512x512.py"
model = dict(
    backbone=dict(model_name="vz_pyramid_tnt_s", pretrained="checkpoints/pyramid_tnt_s.pth", drop_path_rate=0.1),
    decode_head=dict(in_channels=[128, 256, 512, 512]),
    auxiliary_head=dict(in_channels=512),
)
