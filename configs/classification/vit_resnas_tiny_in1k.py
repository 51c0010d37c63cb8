# ViT-ResNAS-Tiny, ImageNet-1k 224: top-1 80.8, 8.6 points above DeiT-Ti's 72.2 (arXiv:2109.00642 abstract,
# MIT DSpace 1721.1/140187 version; the authors' repository states no accuracies)
_base_ = "_base_/vit_resnas.py"
model = dict(name="vit_resnas_tiny", drop_path_rate=0.2)  # searched_net/tiny.sh --drop-path 0.2
