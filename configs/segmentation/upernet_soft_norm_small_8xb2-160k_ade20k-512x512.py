# SOFT-Norm-S UPerNet, ADE20K 160k (paper: 46.2 mIoU); the authors released no dense code, so vitzoo's default: Swin-T's recipe, drop path 0.1
# backbone weights: the authors' ImageNet file (Google Drive only, see model_cards/soft.md) at checkpoints/soft_norm_small.pth
# Swin-T's config with the SOFT-Norm-S backbone and drop path 0.1.
_base_ = "./upernet_vz_swin_tiny_8xb2-160k_ade20k-512x512.py"
model = dict(
    backbone=dict(model_name="soft_norm_small", pretrained="checkpoints/soft_norm_small.pth", drop_path_rate=0.1),
    decode_head=dict(in_channels=[64, 128, 320, 512]),
    auxiliary_head=dict(in_channels=320),
)
