# TNT's ImageNet-1k recipe (huawei-noah/Efficient-AI-Backbones, tnt_pytorch/readme.md L16, the 8-GPU training
# command, run by tnt_pytorch/train.py, timm 0.3.2's train.py): AdamW 1e-3 at 8 x 128 images, 300 + 10 epochs.
task = "classification"

data = dict(
    img_size=224,
    batch_size=128,  # per GPU, 8 GPUs (readme.md L16: -b 128, --nproc_per_node=8)
    color_jitter=0.4,
    auto_augment="rand-m9-mstd0.5-inc1",
    re_prob=0.25,
    re_mode="pixel",
    re_count=1,  # train.py L180 default
    train_interpolation="random",  # train.py L200 default: a random PIL filter per image
    repeated_aug=3,  # --repeated-aug: data/rasampler.py L34/L50 repeats every image 3 times
    # evaluation follows the model's default cfg (tnt.py L37-55, train.py L550-555): bicubic, crop 0.9,
    # mean = std = 0.5, which the training transform uses too
    interpolation="bicubic",
    crop_pct=0.9,
    mean=(0.5, 0.5, 0.5),
    std=(0.5, 0.5, 0.5),
)

mixup = dict(mixup_alpha=0.8, cutmix_alpha=1.0)  # readme.md L16; train.py L190-195 defaults: prob 1, switch 0.5

loss = dict(label_smoothing=0.1)  # train.py L198 default

optimizer = dict(
    scale_warmup_min_lr=False,  # the code scales the peak lr only
    opt="adamw",
    lr=1e-3,
    weight_decay=0.05,
    opt_eps=1e-8,
    opt_betas=None,  # train.py L111 default: torch's (0.9, 0.999)
    # train.py uses --lr as given (no batch scaling): 1e-3 is the lr of the 1024-image step
    base_batch_size=1024,
)

scheduler = dict(
    step_on_epochs=True,  # timm's train loop: lr_scheduler.step(epoch) only
    sched="cosine",
    epochs=300,
    warmup_epochs=5,
    warmup_lr=1e-6,
    min_lr=1e-5,  # train.py L139 default
    # train.py L149 default; timm 0.3.2's create_scheduler returns epochs + cooldown and the loop runs them all
    # (train.py L468, L597): 10 more epochs at min_lr
    cooldown_epochs=10,
)

ema = dict(enabled=True, decay=0.99996)  # --model-ema --model-ema-decay 0.99996, updated every step

train = dict(clip_grad=None)  # train.py L117 default
