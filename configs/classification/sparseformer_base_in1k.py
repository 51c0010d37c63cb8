# SparseFormer-B, ImageNet-1k 224: top-1 82.6 (sparseformer imagenet/README.md, results table)
_base_ = "_base_/sparseformer.py"
model = dict(name="sparseformer_base", drop_path_rate=0.4)  # configs/sparseformer_b.yaml SF.DROP_PATH_RATE 0.4
