"""Pretrained downloads: a local HTTP server serves the authors' Swin-T file built from the parity fixture."""
import functools
import hashlib
import http.server
import threading

import pytest
import timm
import torch
from huggingface_hub import constants as hf_constants

from parity_utils import PARITY_DIR, assert_fixture_close, parity_module, save_authors_checkpoint
from vitzoo.checkpoint import CheckpointError
from vitzoo.hub import cache_dir, cached_file_name, download_url, file_sha256, hash_prefix_in_name

SWIN = "vz_swin_tiny_patch4_window7_224"
FIXTURE = "swin_tiny_patch4_window7_224"


class _Handler(http.server.SimpleHTTPRequestHandler):
    """Serves the folder; logs each GET; the first ``server.truncate_first`` GETs close the connection mid-body."""

    def log_message(self, *args):
        pass

    def do_GET(self):
        self.server.requests.append(self.path)
        if self.server.truncate_first > 0:
            self.server.truncate_first -= 1
            with open(self.translate_path(self.path), "rb") as f:
                data = f.read()
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[: len(data) // 3])
            self.close_connection = True
            return
        super().do_GET()


class _HubEntryNotFound(http.server.BaseHTTPRequestHandler):
    """Answers every request as huggingface.co does for a file that is not in the repo."""

    def log_message(self, *args):
        pass

    def do_HEAD(self):
        self.send_response(404)
        self.send_header("X-Error-Code", "EntryNotFound")
        self.send_header("X-Error-Message", "Entry not found")
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_HEAD


def _serve(handler):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.requests, server.truncate_first = [], 0
    server.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture
def server(tmp_path):
    served = tmp_path / "served"
    served.mkdir()
    server = _serve(functools.partial(_Handler, directory=str(served)))
    server.served = served
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def torch_home(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))


@pytest.fixture(scope="module")
def authors_swin(tmp_path_factory):
    """The fixture's weights as the authors' release file (``{'model': state_dict}``), and the fixture."""
    state_dict, fx = parity_module().original_state_dict(PARITY_DIR / f"{FIXTURE}.safetensors")
    path = save_authors_checkpoint(state_dict, tmp_path_factory.mktemp("authors") / f"{FIXTURE}.pth")
    return path, fx


def _serve_file(server, path, name):
    (server.served / name).symlink_to(path)
    return f"{server.base_url}/{name}"


def test_url_download_is_verified_converted_retried_and_cached(server, authors_swin, torch_home):
    path, fx = authors_swin
    url = _serve_file(server, path, f"{FIXTURE}.pth")
    sha256 = file_sha256(path)
    server.truncate_first = 1
    overlay = dict(url=url, sha256=sha256)
    model = timm.create_model(SWIN, pretrained=True, pretrained_cfg_overlay=overlay).eval()
    with torch.no_grad():
        assert_fixture_close(model(fx.input), fx.output, fx)
    assert model.pretrained_cfg["sha256"] == sha256
    assert len(server.requests) == 2  # the interrupted request, then the retry
    cached = cache_dir() / cached_file_name(url)
    assert sorted(p.name for p in cache_dir().iterdir()) == [cached.name]  # no partial file left
    assert file_sha256(cached) == sha256

    timm.create_model(SWIN, pretrained=True, pretrained_cfg_overlay=overlay)
    assert len(server.requests) == 2  # read from the cache


def test_checksum_mismatch_is_rejected_and_nothing_cached(server, authors_swin, torch_home):
    url = _serve_file(server, authors_swin[0], f"{FIXTURE}.pth")
    with pytest.raises(CheckpointError, match="does not match the recorded 0000"):
        timm.create_model(SWIN, pretrained=True, pretrained_cfg_overlay=dict(url=url, sha256="0" * 64))
    assert len(server.requests) == 1  # a wrong file is not fetched again
    assert not any(cache_dir().iterdir())


def test_interrupted_downloads_give_up_with_the_manual_file_hint(server, tmp_path):
    (server.served / "blob.bin").write_bytes(b"x" * 10000)
    server.truncate_first = 3
    with pytest.raises(OSError, match=r"stopped after 3333 of 10000 bytes.*pretrained_cfg_overlay=dict\(file="):
        download_url(f"{server.base_url}/blob.bin", directory=tmp_path / "cache", retries=2)
    assert len(server.requests) == 3
    assert not any((tmp_path / "cache").iterdir())


def test_torch_hub_file_name_hash_prefix_is_checked(server, tmp_path):
    data = b"weights"
    prefix = hashlib.sha256(data).hexdigest()[:8]
    wrong = format(int(prefix, 16) ^ 1, "08x")
    for name in (f"net-{prefix}.pth", f"net-{wrong}.pth"):
        (server.served / name).write_bytes(data)
    assert hash_prefix_in_name(f"{server.base_url}/net-{prefix}.pth?dl=1") == prefix
    assert download_url(f"{server.base_url}/net-{prefix}.pth", directory=tmp_path / "cache").read_bytes() == data
    with pytest.raises(CheckpointError, match=f"in its file name .* {wrong}"):
        download_url(f"{server.base_url}/net-{wrong}.pth", directory=tmp_path / "cache")
    assert [p.name for p in (tmp_path / "cache").iterdir()] == [cached_file_name(f"{server.base_url}/net-{prefix}.pth")]


@pytest.mark.parametrize(
    "url", ["https://github.com/SwinTransformer/storage/releases/download/v1.0.0/swin_tiny_patch4_window7_224.pth",
            "https://cloud.tsinghua.edu.cn/f/bac9690c72944d19aca1/?dl=1", "https://host/tnt_s_81.5.pth.tar"],
)
def test_names_without_hash_prefix(url):
    assert hash_prefix_in_name(url) is None


def test_download_urls_with_empty_basename_cache_apart(server, tmp_path):
    """Hosts like cloud.tsinghua.edu.cn serve every file as /f/<id>/?dl=1: each must get its own cache file."""
    for name, payload in (("one", b"first"), ("two", b"second")):
        (server.served / "f" / name).mkdir(parents=True)
        (server.served / "f" / name / "index.html").write_bytes(payload)  # what the server sends for /f/<id>/
    first = download_url(f"{server.base_url}/f/one/?dl=1", directory=tmp_path / "cache")
    second = download_url(f"{server.base_url}/f/two/?dl=1", directory=tmp_path / "cache")
    assert first != second
    assert (first.read_bytes(), second.read_bytes()) == (b"first", b"second")


def test_sha256_in_pretrained_cfg_is_validated_and_round_trips():
    with pytest.raises(ValueError, match="64 lowercase hex digits"):
        timm.create_model(SWIN, pretrained=True, pretrained_cfg_overlay=dict(url="http://127.0.0.1:9/w.pth", sha256="abc"))
    sha256 = "ab" * 32
    model = timm.create_model("slab_pvt_v2_b0", pretrained_cfg_overlay=dict(sha256=sha256))
    again = timm.create_model("slab_pvt_v2_b0", pretrained_cfg=model.pretrained_cfg)  # timm's PretrainedCfg has no sha256
    assert again.pretrained_cfg["sha256"] == sha256


@pytest.fixture
def hf_cache(tmp_path, monkeypatch):
    # huggingface_hub reads its environment once, at import: set its constants as the variables would
    monkeypatch.setattr(hf_constants, "HF_HUB_CACHE", str(tmp_path / "hf_cache"))


def test_hub_file_offline_gives_the_manual_file_message(hf_cache, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(OSError) as excinfo:
        timm.create_model("dvt_denoiser_vitb14", pretrained=True)
    message = str(excinfo.value)
    assert "LocalEntryNotFoundError" in message and "HF_HUB_OFFLINE=1" in message
    assert "huggingface.co/jjiaweiyang/DVT/resolve/main/imgnet_denoised/vit_base_patch14_dinov2.lvd142m.pth" in message
    assert "pretrained_cfg_overlay=dict(file=" in message


def test_hub_file_missing_gives_the_manual_file_message(hf_cache, monkeypatch):
    hub = _serve(_HubEntryNotFound)
    try:
        monkeypatch.setattr(hf_constants, "ENDPOINT", hub.base_url)
        monkeypatch.setattr(hf_constants, "HUGGINGFACE_CO_URL_TEMPLATE", hub.base_url + "/{repo_id}/resolve/{revision}/{filename}")
        with pytest.raises(OSError, match=r"could not get missing\.pth .*RemoteEntryNotFoundError.*dict\(file="):
            timm.create_model("dvt_denoiser_vitb14", pretrained=True, pretrained_cfg_overlay=dict(hf_hub_filename="missing.pth"))
    finally:
        hub.shutdown()
        hub.server_close()


@pytest.mark.parametrize(
    "model_name, page",
    [("rmt_t", "Baidu Netdisk only (password vsyv)"), ("soft_tiny", "https://drive.google.com/file/d/1S04DCotIOkP0DaBb8WStQ513z82qT9de")],
)
def test_manual_download_message_names_the_page_and_the_convert_tool(model_name, page):
    with pytest.raises(RuntimeError, match="manual download page") as excinfo:
        timm.create_model(model_name, pretrained=True)
    message = str(excinfo.value)
    assert page in message and "pretrained_cfg_overlay=dict(file=" in message
    assert f"tools/convert_checkpoint.py FILE OUT.safetensors --model {model_name}" in message
