# RMT-S UPerNet, ADE20K 160k (the authors' recipe = Swin's); mIoU 49.8
# backbone weights: the authors' ImageNet file (Baidu Netdisk only, see model_cards/rmt.md) at checkpoints/rmt_s.pth
# Swin-T's config with the RMT-S backbone.
_base_ = "./upernet_vz_swin_tiny_8xb2-160k_ade20k-512x512.py"
model = dict(
    backbone=dict(model_name="rmt_s", pretrained="checkpoints/rmt_s.pth", drop_path_rate=0.15),
    decode_head=dict(in_channels=[64, 128, 256, 512]),
    auxiliary_head=dict(in_channels=256),
)
