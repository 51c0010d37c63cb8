# ViT-ResNAS-Medium's higher-resolution fine-tuning (yilunliao/vit-search scripts/vit-sr-nas/finetune/
# medium_img-size@{280,392}.sh): 30 epochs from the 224 Medium's best EMA checkpoint, 8 GPUs x 32 images.
_base_ = "vit_resnas.py"

model = dict(
    pretrained=True,
    drop_path_rate=0.75,  # --drop-path 0.75
    # --finetune .../best_ema_checkpoint.pth.tar of searched_net/medium_mac@4.6G.sh (Dropbox only, see
    # model_cards/vit_resnas.md); the position embedding is resized to the larger grid on load
    kwargs=dict(pretrained_cfg_overlay=dict(file="checkpoints/vit_resnas_medium.pth.tar")),
)

data = dict(batch_size=32)  # --batch-size 32 on 8 GPUs: 256 images per step

optimizer = dict(
    # --lr 5e-6, scaled by 256 / 512 (main.py L383); --min-lr 5e-6 is not scaled, so the cosine rises from
    # 2.5e-6 to 5e-6: the authors' schedule as it ran
    lr=5e-6 * 256 / 512,
    weight_decay=1e-8,
    base_batch_size=256,
)

scheduler = dict(epochs=30, min_lr=5e-6)  # warmup stays main.py's 5 epochs from 1e-6
