# Swin Transformer's ImageNet-1k recipe (microsoft/Swin-Transformer: config.py, data/build.py, main.py,
# get_started.md): AdamW 5e-4 per 512 images, 300 epochs with 20 warmup, batch 8 GPUs x 128.
task = "classification"

data = dict(
    img_size=224,
    batch_size=128,  # per GPU; get_started.md L178-179 trains on 8 GPUs (1024 images per step)
    # config.py L205-213 and data/build.py L128-137: timm's create_transform with these
    color_jitter=0.4,
    auto_augment="rand-m9-mstd0.5-inc1",
    re_prob=0.25,
    re_mode="pixel",
    re_count=1,
    train_interpolation="bicubic",  # config.py L34 DATA.INTERPOLATION, used for training and evaluation
    repeated_aug=0,
    interpolation="bicubic",
    crop_pct=224 / 256,  # data/build.py L147-153: resize to 256/224 of the input, centre crop
)

mixup = dict(mixup_alpha=0.8, cutmix_alpha=1.0)  # config.py L215-225 (prob 1, switch 0.5, per batch)

loss = dict(label_smoothing=0.1)  # config.py L70

optimizer = dict(  # config.py L155-156, L184-191
    opt="adamw",
    lr=5e-4,
    weight_decay=0.05,
    opt_eps=1e-8,
    opt_betas=(0.9, 0.999),
    # main.py L327-329 scales the lr, warmup lr and min lr by total batch / 512, as vitzoo's trainer does
    base_batch_size=512,
)

scheduler = dict(  # config.py L153-158, lr_scheduler.py L18-33 (cosine, stepped every iteration)
    warmup_prefix=True,  # lr_scheduler.py: the cosine runs over the steps after the warmup
    sched="cosine",
    epochs=300,
    warmup_epochs=20,
    warmup_lr=5e-7,
    min_lr=5e-6,
    cooldown_epochs=0,
)

ema = dict(enabled=False)  # main.py keeps no EMA of the weights

train = dict(clip_grad=5.0, clip_mode="norm")  # config.py L160, main.py L200
