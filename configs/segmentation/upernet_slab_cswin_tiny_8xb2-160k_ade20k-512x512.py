# SLAB-CSWin-T UPerNet, ADE20K 160k; SLAB reports no segmentation, so vitzoo's default: Swin-T's recipe, drop path 0.3
# Swin-T's config with the SLAB-CSWin-T backbone.
_base_ = "./upernet_vz_swin_tiny_8xb2-160k_ade20k-512x512.py"
model = dict(
    backbone=dict(model_name="slab_cswin_tiny"),
    decode_head=dict(in_channels=[64, 128, 256, 512]),
    auxiliary_head=dict(in_channels=256),
)
