# SparseFormer-S, ImageNet-1k 224: top-1 82.0 (sparseformer imagenet/README.md, results table)
_base_ = "_base_/sparseformer.py"
model = dict(name="sparseformer_small", drop_path_rate=0.3)  # configs/sparseformer_s.yaml SF.DROP_PATH_RATE 0.3
