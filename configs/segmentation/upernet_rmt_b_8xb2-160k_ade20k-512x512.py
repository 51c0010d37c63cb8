# RMT-B UPerNet, ADE20K 160k (the authors' recipe = Swin's); mIoU 52.0
# backbone weights: the authors' ImageNet file (Baidu Netdisk only, see model_cards/rmt.md) at checkpoints/rmt_b.pth
_base_ = [
    "../_base_/models/upernet_vitzoo.py",
    "../_base_/datasets/ade20k_8xb2.py",
    "mmseg::_base_/default_runtime.py",
    "../_base_/schedules/seg_adamw_poly_160k.py",
]
crop_size = (512, 512)
model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(model_name="rmt_b", pretrained='checkpoints/rmt_b.pth', drop_path_rate=0.4),
    decode_head=dict(in_channels=[80, 160, 320, 512]),
    auxiliary_head=dict(in_channels=320),
)
