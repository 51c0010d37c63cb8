# Swin-B 384, fine-tuned from the ImageNet-1k 224 model: top-1 84.5 (Swin-Transformer README.md, ImageNet-1K table)
_base_ = "_base_/swin.py"
# configs/swin/swin_base_patch4_window12_384_finetune.yaml and get_started.md L210-214: start from
# swin_base_patch4_window7_224.pth (the window-7 relative-position tables are resized to window 12 on load)
model = dict(
    name="vz_swin_base_patch4_window12_384",
    pretrained=True,
    drop_path_rate=0.5,
    # the 384 model's own weights are the result of this recipe; start from the 224 release instead. Its
    # checksum differs from the one the 384 cfg may record, so none is checked for this file.
    kwargs=dict(
        pretrained_cfg_overlay=dict(
            url="https://github.com/SwinTransformer/storage/releases/download/v1.0.0/swin_base_patch4_window7_224.pth",
            sha256=None,
        )
    ),
)
data = dict(img_size=384, batch_size=64, crop_pct=1.0)  # TEST.CROP False: resize to 384x384, no crop
train = dict(grad_accum_steps=2)  # get_started.md L212-214: 64 per GPU x 2 steps on 8 GPUs
optimizer = dict(lr=2e-5, weight_decay=1e-8)
scheduler = dict(epochs=30, warmup_epochs=5, warmup_lr=2e-8, min_lr=2e-7)
