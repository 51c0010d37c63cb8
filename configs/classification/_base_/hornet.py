# HorNet's ImageNet-1k recipe (raoyongming/HorNet: main.py defaults, TRAINING.md commands, the ConvNeXt
# codebase): AdamW 4e-3 at 4096 images (4 nodes x 8 GPUs x 128), 300 epochs with 20 warmup, EMA.
task = "classification"

data = dict(
    img_size=224,
    batch_size=128,  # per GPU; TRAINING.md: 32 GPUs x 128 x update_freq 1 = 4096 (S/B: 64 x update_freq 2)
    color_jitter=0.4,  # main.py L97
    auto_augment="rand-m9-mstd0.5-inc1",  # main.py L99; HorNet-S/B (GF) raise the magnitude (their configs)
    re_prob=0.25,  # main.py L110-115
    re_mode="pixel",
    re_count=1,
    train_interpolation="bicubic",  # main.py L103
    repeated_aug=0,
    interpolation="bicubic",
    crop_pct=224 / 256,  # datasets.py L87-92: crop_pct None -> 224/256
)

mixup = dict(mixup_alpha=0.8, cutmix_alpha=1.0)  # main.py L120-131 (prob 1, switch 0.5, per batch)

loss = dict(label_smoothing=0.1)  # main.py L101

optimizer = dict(
    scale_warmup_min_lr=False,  # the code scales nothing; warmup from 0 and min_lr as given
    opt="adamw",
    lr=4e-3,  # main.py L86, TRAINING.md --lr 4e-3
    weight_decay=0.05,  # main.py L80
    opt_eps=1e-8,
    opt_betas=None,
    layer_decay=None,  # main.py L88: 1.0
    # main.py L337-340 uses the lr as given for its total batch (batch x update_freq x GPUs = 4096)
    base_batch_size=4096,
)

scheduler = dict(  # utils.py L434-437 cosine_scheduler, per iteration, warmup from 0
    sched="cosine",
    epochs=300,
    warmup_epochs=20,  # main.py L91
    warmup_lr=0.0,
    min_lr=1e-6,  # main.py L89
    cooldown_epochs=0,
)

ema = dict(enabled=True, decay=0.9999)  # TRAINING.md --model_ema true --model_ema_eval true; main.py L65

train = dict(clip_mode="norm")  # --clip_grad differs per model: the model configs set it
