# RMT-S* (token labelling), ImageNet-1k 224: top-1 84.8 (RMT README.md, results table)
_base_ = "_base_/rmt_token_label.py"
# classification_token_label_release/RMT.py L695: RMT_S fixes drop_path_rate=0.15 (configs/RMT/*.py's
# drop_path does not reach it)
model = dict(name="rmt_s_token_label", drop_path_rate=0.15)
