# ViT-ResNAS's recipe for training the searched networks on ImageNet-1k (yilunliao/vit-search: main.py, DeiT's
# main.py with its defaults unchanged (L74-172), and scripts/vit-sr-nas/searched_net/*.sh): DeiT's recipe at
# 8 GPUs x 128 (the same 1024 images per step), without repeated augmentation, and with the authors' shifted
# patch token mixup instead of Mixup/CutMix.
_base_ = "deit.py"

data = dict(
    batch_size=128,  # searched_net/*.sh --batch-size 128, --nproc_per_node=8
    repeated_aug=0,  # searched_net/*.sh --no-repeated-aug
)

# searched_net/*.sh --use-patch-mixup: main.py L316-322 replaces Mixup/CutMix by SwitchTokenMix
# (token_mixup.py: CutMix boxes aligned to a 4x4 grid of patches, a per-patch target map for the patch head,
# switch_prob 0.5). vitzoo's trainer has no such option and vitzoo's models drop the authors' per-patch head
# (model_cards/vit_resnas.md), so neither mixing runs here; label smoothing stays.
mixup = dict(mixup_alpha=0.0, cutmix_alpha=0.0)
