# SReT-⋇S (without slicing), ImageNet-1k 224: top-1 82.0 (SReT README.md L92, last-epoch checkpoint)
_base_ = "_base_/sret.py"
# SReT_wo_slice.py's SReT_S keeps SReT.__init__'s drop_path_rate=.1 (SReT.py L236), DeiT's --drop-path 0.1 too
model = dict(name="sret_s_wo_slice", drop_path_rate=0.1)
