# ViT-ResNAS-Medium, ImageNet-1k 224: top-1 not stated in the authors' repository (see arXiv:2109.00642's
# results table, not checked here)
_base_ = "_base_/vit_resnas.py"
model = dict(name="vit_resnas_medium", drop_path_rate=0.3)  # searched_net/medium_mac@4.6G.sh --drop-path 0.3
