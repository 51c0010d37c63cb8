# A small synthetic dataset in the COCO instance format (vitzoo/synthetic.py: person / car / dog
# drawn as red ellipses / green rectangles / blue triangles), written on first use by tools/train.py
# and tools/test.py: the COCO pipelines, dataset class and COCO mAP at CPU scale.
_base_ = ["mmdet::_base_/datasets/coco_instance.py"]
data_root = "data/synthetic_coco/"
synthetic_data = dict(kind="coco", root=data_root, num_train=64, num_val=16, size=(192, 160))
metainfo = dict(classes=("person", "car", "dog"), palette=[(220, 60, 50), (50, 170, 70), (40, 90, 210)])
train_pipeline = [
    dict(type="LoadImageFromFile"),
    dict(type="LoadAnnotations", with_bbox=True, with_mask=True),
    dict(type="RandomResize", scale=(192, 160), ratio_range=(0.8, 1.25), keep_ratio=True),
    dict(type="RandomFlip", prob=0.5),
    dict(type="PackDetInputs"),
]
test_pipeline = [
    dict(type="LoadImageFromFile"),
    dict(type="Resize", scale=(192, 160), keep_ratio=True),
    dict(type="LoadAnnotations", with_bbox=True, with_mask=True),
    dict(type="PackDetInputs", meta_keys=("img_id", "img_path", "ori_shape", "img_shape", "scale_factor")),
]
train_dataloader = dict(
    batch_size=2,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(data_root=data_root, metainfo=metainfo, pipeline=train_pipeline),
)
val_dataloader = dict(
    batch_size=1,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(data_root=data_root, metainfo=metainfo, pipeline=test_pipeline),
)
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + "annotations/instances_val2017.json")
test_evaluator = val_evaluator
