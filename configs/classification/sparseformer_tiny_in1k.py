# SparseFormer-T, ImageNet-1k 224: top-1 81.0 (sparseformer imagenet/README.md, results table)
_base_ = "_base_/sparseformer.py"
model = dict(name="sparseformer_tiny", drop_path_rate=0.2)  # configs/sparseformer_t.yaml SF.DROP_PATH_RATE 0.2
