# ADE20K 512x512 as the backbone papers train it: 16 images per iteration as 2 per GPU x 8 GPUs.
_base_ = ["mmseg::_base_/datasets/ade20k.py"]
train_dataloader = dict(batch_size=2)
val_dataloader = dict(batch_size=1)
test_dataloader = val_dataloader
