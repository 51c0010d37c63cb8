# ViT-ResNAS-Small, ImageNet-1k 224: top-1 "similar to DeiT-B" (81.8) per arXiv:2109.00642's abstract (MIT DSpace
# 1721.1/140187 version); the authors' repository states no accuracies and the paper's table was not checked
_base_ = "_base_/vit_resnas.py"
model = dict(name="vit_resnas_small", drop_path_rate=0.3)  # searched_net/small_mac@2.9G.sh --drop-path 0.3
