"""Checkpoint reading and pretrained loading: safe, and clear when the input is wrong."""
import argparse
import functools
import http.server
import os
import threading

import pytest
import timm
import torch
from safetensors.torch import save_file

import vitzoo
from vitzoo.checkpoint import CheckpointError, load_checkpoint_file, unwrap_state_dict
from vitzoo.hub import download_url

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


def test_manual_download_message():
    cfg = dict(origin_url="https://pan.example/s/abc", notes=("Password: x1y2.",))
    message = vitzoo.hub.manual_download_message("some_model", cfg)
    assert "pan.example" in message and "pretrained_cfg_overlay=dict(file=" in message and "x1y2" in message


class _Handler(http.server.SimpleHTTPRequestHandler):
    truncate_first = 0  # serve this many truncated responses before the whole file

    def log_message(self, *args):
        pass

    def do_GET(self):
        if type(self).truncate_first > 0:
            type(self).truncate_first -= 1
            data = (self.directory and open(os.path.join(self.directory, self.path.lstrip("/")), "rb").read())
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[: len(data) // 3])
            self.close_connection = True
            return
        super().do_GET()


@pytest.fixture
def local_server(tmp_path):
    served = tmp_path / "served"
    served.mkdir()
    handler = functools.partial(_Handler, directory=str(served))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield served, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    _Handler.truncate_first = 0


def test_pretrained_url_download_and_cache(local_server, tmp_path, tiny_state_dict, monkeypatch):
    served, base = local_server
    torch.save({"model": tiny_state_dict}, served / "swin.pth")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    model = timm.create_model(TINY, pretrained=True, pretrained_cfg_overlay=dict(url=f"{base}/swin.pth"))
    torch.testing.assert_close(model.state_dict()["norm.weight"], tiny_state_dict["norm.weight"])
    cached = vitzoo.hub.cache_dir() / vitzoo.hub.cached_file_name(f"{base}/swin.pth")
    assert cached.is_file() and cached.name.endswith("-swin.pth")
    assert not list(cached.parent.glob("*.partial"))


def test_download_retries_interrupted_and_rejects_bad_hash(local_server, tmp_path):
    served, base = local_server
    (served / "blob.bin").write_bytes(b"x" * 10000)
    _Handler.truncate_first = 1
    path = download_url(f"{base}/blob.bin", directory=tmp_path / "cache")
    assert path.read_bytes() == b"x" * 10000
    with pytest.raises(CheckpointError, match="does not match"):
        download_url(f"{base}/blob.bin", sha256="0" * 64, directory=tmp_path / "cache2")
    assert not any((tmp_path / "cache2").iterdir())


def test_download_urls_with_empty_basename_cache_apart(local_server, tmp_path):
    """Hosts like cloud.tsinghua.edu.cn serve every file as /f/<id>/?dl=1: each must get its own cache file."""
    served, base = local_server
    for name, payload in (("one", b"first"), ("two", b"second")):
        (served / "f" / name).mkdir(parents=True)
        (served / "f" / name / "index.html").write_bytes(payload)  # what the server sends for /f/<id>/
    first = download_url(f"{base}/f/one/?dl=1", directory=tmp_path / "cache")
    second = download_url(f"{base}/f/two/?dl=1", directory=tmp_path / "cache")
    assert first != second
    assert (first.read_bytes(), second.read_bytes()) == (b"first", b"second")


@pytest.mark.parametrize("model_name", ["slab_swin_base", "hornet_base_gf_img384"])
def test_variant_without_released_weights_says_so(model_name):
    with pytest.raises(RuntimeError, match="released no pretrained weights") as excinfo:
        timm.create_model(model_name, pretrained=True)
    assert "manual download" not in str(excinfo.value)
