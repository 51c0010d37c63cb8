# Mask R-CNN with FPN over any vitzoo backbone (COCO, 80 classes).
# A family config sets backbone.model_name, drop_path_rate and neck.in_channels.
_base_ = ["mmdet::_base_/models/mask-rcnn_r50_fpn.py"]
custom_imports = dict(imports=["vitzoo.mm"], allow_failed_imports=False)
model = dict(
    backbone=dict(
        _delete_=True,
        type="VitzooBackbone",
        model_name=None,
        pretrained=True,
        out_indices=(0, 1, 2, 3),
        drop_path_rate=0.2,
    ),
)
