"""Checkpoint reading and pretrained loading: safe, and clear when the input is wrong."""
import argparse

import pytest
import timm
import torch
from safetensors.torch import save_file

from vitzoo.checkpoint import CheckpointError, load_checkpoint_file, unwrap_state_dict

TINY = "vz_swin_tiny_patch4_window7_224"


@pytest.fixture(scope="module")
def tiny_state_dict():
    return timm.create_model(TINY).state_dict()


def _create_from(path, **kwargs):
    return timm.create_model(TINY, pretrained=True, pretrained_cfg_overlay=dict(file=str(path)), **kwargs)


def _leave_marker(path):
    open(path, "w").close()


class ArbitraryCode:
    """Unpickling this calls a function (it leaves a marker file): a checkpoint must never get that far."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (_leave_marker, (self.marker,))


def test_safetensors_and_torch_files_round_trip(tmp_path, tiny_state_dict):
    save_file(tiny_state_dict, tmp_path / "w.safetensors")
    torch.save({"model": tiny_state_dict, "args": argparse.Namespace(lr=0.1)}, tmp_path / "w.pth")
    for name in ("w.safetensors", "w.pth"):
        model = _create_from(tmp_path / name)
        torch.testing.assert_close(model.state_dict()["norm.weight"], tiny_state_dict["norm.weight"])


def test_pickled_code_is_refused_and_not_run(tmp_path, tiny_state_dict):
    marker = tmp_path / "code_ran"
    path = tmp_path / "evil.pth"
    torch.save({"model": tiny_state_dict, "payload": ArbitraryCode(marker)}, path)
    with pytest.raises(CheckpointError, match="weights_only=True"):
        _create_from(path)
    assert not marker.exists()


@pytest.mark.parametrize("kind", ["torch", "safetensors"])
def test_truncated_file(tmp_path, tiny_state_dict, kind):
    path = tmp_path / ("w.pth" if kind == "torch" else "w.safetensors")
    if kind == "torch":
        torch.save(tiny_state_dict, path)
    else:
        save_file(tiny_state_dict, path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated"):
        _create_from(path)


def test_not_a_checkpoint(tmp_path):
    path = tmp_path / "page.pth"
    path.write_text("<html>Please log in to download</html>")
    with pytest.raises(CheckpointError, match="not a checkpoint"):
        _create_from(path)
    empty = tmp_path / "empty.pth"
    empty.write_bytes(b"")
    with pytest.raises(CheckpointError, match="empty"):
        _create_from(empty)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        _create_from(tmp_path / "missing.pth")


@pytest.mark.parametrize(
    "other_model, match",
    [("resnet18", "does not belong to vz_swin_tiny"), ("vz_swin_tiny_c24_patch4_window8_256", "shape mismatches")],
)
def test_checkpoint_of_another_model(tmp_path, other_model, match):
    path = tmp_path / "other.pth"
    torch.save(timm.create_model(other_model).state_dict(), path)
    with pytest.raises(CheckpointError, match=match):
        _create_from(path)


def test_unwrap_state_dict_rejects_non_mappings():
    with pytest.raises(CheckpointError, match="expected a state dict"):
        unwrap_state_dict([torch.zeros(1)])
    with pytest.raises(CheckpointError, match="holds no tensors"):
        unwrap_state_dict({"epoch": 3, "args": None})
    assert list(unwrap_state_dict({"module": {"module.a": torch.zeros(1)}})) == ["a"]


def test_load_checkpoint_file_reads_plain_state_dict(tmp_path):
    torch.save({"a": torch.ones(2)}, tmp_path / "a.pt")
    torch.save({"a": torch.ones(2)}, tmp_path / "legacy.pt", _use_new_zipfile_serialization=False)
    for name in ("a.pt", "legacy.pt"):
        assert torch.equal(load_checkpoint_file(tmp_path / name)["a"], torch.ones(2))


@pytest.mark.parametrize("model_name", ["slab_swin_base", "hornet_base_gf_img384"])
def test_variant_without_released_weights_says_so(model_name):
    with pytest.raises(RuntimeError, match="released no pretrained weights") as excinfo:
        timm.create_model(model_name, pretrained=True)
    assert "manual download" not in str(excinfo.value)
