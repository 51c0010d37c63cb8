# Swin-T/C24, ImageNet-1k 256: top-1 81.6 (Swin-Transformer README.md, "Swin-T/C24" row)
_base_ = "_base_/swin.py"
# configs/swin/swin_tiny_c24_patch4_window8_256.yaml: IMG_SIZE 256, DROP_PATH_RATE 0.2
model = dict(name="vz_swin_tiny_c24_patch4_window8_256", drop_path_rate=0.2)
data = dict(img_size=256)
