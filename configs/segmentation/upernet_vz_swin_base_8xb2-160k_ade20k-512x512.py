# Swin-B UPerNet, ADE20K 160k: the authors' recipe (Swin-Transformer-Semantic-Segmentation), mIoU 48.1 / 49.7 (single / multi-scale)
# Swin-T's config with the Swin-B backbone.
_base_ = "./upernet_vz_swin_tiny_8xb2-160k_ade20k-512x512.py"
model = dict(
    backbone=dict(model_name="vz_swin_base_patch4_window7_224"),
    decode_head=dict(in_channels=[128, 256, 512, 1024]),
    auxiliary_head=dict(in_channels=512),
)
