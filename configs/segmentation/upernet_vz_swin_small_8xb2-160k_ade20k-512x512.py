# Swin-S UPerNet, ADE20K 160k: the authors' recipe (Swin-Transformer-Semantic-Segmentation), mIoU 47.6 / 49.5 (single / multi-scale)
# Swin-T's config with the Swin-S backbone (same channels and drop path).
_base_ = "./upernet_vz_swin_tiny_8xb2-160k_ade20k-512x512.py"
model = dict(backbone=dict(model_name="vz_swin_small_patch4_window7_224"))
