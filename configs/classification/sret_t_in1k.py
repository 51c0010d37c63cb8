# SReT-T, ImageNet-1k 224: top-1 76.0 (SReT README.md L88, last-epoch checkpoint)
_base_ = "_base_/sret.py"
# SReT_T keeps SReT.__init__'s drop_path_rate=.1 (SReT.py L236), DeiT's --drop-path 0.1 too
model = dict(name="sret_t", drop_path_rate=0.1)
