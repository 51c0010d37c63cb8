# SReT-S, ImageNet-1k 224: top-1 81.9 (SReT README.md L93, last-epoch checkpoint)
_base_ = "_base_/sret.py"
# SReT_S keeps SReT.__init__'s drop_path_rate=.1 (SReT.py L236), DeiT's --drop-path 0.1 too
model = dict(name="sret_s", drop_path_rate=0.1)
