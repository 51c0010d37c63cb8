# RMT-L UPerNet, ADE20K 160k (the authors' recipe = Swin's); mIoU 52.8
# backbone weights: the authors' ImageNet file (Baidu Netdisk only, see model_cards/rmt.md) at checkpoints/rmt_l.pth
# Swin-T's config with the RMT-L backbone.
_base_ = "./upernet_vz_swin_tiny_8xb2-160k_ade20k-512x512.py"
model = dict(
    backbone=dict(model_name="rmt_l", pretrained="checkpoints/rmt_l.pth", drop_path_rate=0.5),
    decode_head=dict(in_channels=[112, 224, 448, 640]),
    auxiliary_head=dict(in_channels=448),
)
