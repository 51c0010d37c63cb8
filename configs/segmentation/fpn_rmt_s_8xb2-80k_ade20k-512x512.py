# RMT-S Semantic FPN, ADE20K 80k: the authors' recipe (AdamW 1e-4, wd 1e-4, poly 0.9); mIoU 49.4
# backbone weights: the authors' ImageNet file (Baidu Netdisk only, see model_cards/rmt.md) at checkpoints/rmt_s.pth
# RMT-T's config with the RMT-S backbone (same channels).
_base_ = "./fpn_rmt_t_8xb2-80k_ade20k-512x512.py"
model = dict(backbone=dict(model_name="rmt_s", pretrained="checkpoints/rmt_s.pth", drop_path_rate=0.15))
