# Swin-B, ImageNet-1k 224: top-1 83.5 (Swin-Transformer README.md, ImageNet-1K table)
_base_ = "_base_/swin.py"
# configs/swin/swin_base_patch4_window7_224.yaml: DROP_PATH_RATE 0.5
model = dict(name="vz_swin_base_patch4_window7_224", drop_path_rate=0.5)
# get_started.md L192-194: 64 per GPU x 2 accumulation steps on 8 GPUs, the same 1024 images per step
data = dict(batch_size=64)
train = dict(grad_accum_steps=2)
