# RMT-B UPerNet, ADE20K 160k (the authors' recipe = Swin's); mIoU 52.0
# backbone weights: the authors' ImageNet file (Baidu Netdisk only, see model_cards/rmt.md) at checkpoints/rmt_b.pth
# Swin-T's config with the RMT-B backbone.
_base_ = "./upernet_vz_swin_tiny_8xb2-160k_ade20k-512x512.py"
model = dict(
    backbone=dict(model_name="rmt_b", pretrained="checkpoints/rmt_b.pth", drop_path_rate=0.4),
    decode_head=dict(in_channels=[80, 160, 320, 512]),
    auxiliary_head=dict(in_channels=320),
)
