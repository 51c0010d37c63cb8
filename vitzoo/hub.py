"""Where pretrained weights come from: a local file, a direct URL, or a Hugging Face Hub file."""
from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any, Mapping

from .checkpoint import CheckpointError, load_checkpoint_file

__all__ = ["NO_WEIGHTS_NOTE", "cache_dir", "cached_file_name", "download_url", "fetch_pretrained", "manual_download_message"]

# A variant's pretrained cfg lists this note when the authors define the architecture but released no weights.
NO_WEIGHTS_NOTE = "The authors released no weights for this variant."


def cache_dir() -> Path:
    """vitzoo's download cache, inside torch's hub cache (``$TORCH_HOME``)."""
    import torch.hub

    return Path(torch.hub.get_dir()) / "checkpoints" / "vitzoo"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def cached_file_name(url: str) -> str:
    """A cache file name unique to ``url``: a hash of the whole URL, then its last non-empty path segment.

    Hosts such as cloud.tsinghua.edu.cn serve every file as ``/f/<id>/?dl=1``, whose basename is empty
    and whose query selects the file, so the name alone cannot tell two downloads apart.
    """
    segments = [s for s in urllib.parse.urlparse(url).path.split("/") if s]
    digest = hashlib.sha256(url.encode()).hexdigest()[:10]
    return f"{digest}-{segments[-1] if segments else 'checkpoint'}"


def download_url(url: str, sha256: str | None = None, directory: Path | None = None, retries: int = 2) -> Path:
    """Download ``url`` into the cache once; verify ``sha256`` when it is known.

    The file is written next to its final place and renamed only when complete (and verified), so an
    interrupted download never leaves a corrupt file in the cache.
    """
    directory = Path(directory or cache_dir())
    directory.mkdir(parents=True, exist_ok=True)
    name = cached_file_name(url)
    target = directory / name
    if target.is_file() and (sha256 is None or _sha256(target) == sha256):
        return target
    last_error: Exception | None = None
    for _ in range(retries + 1):
        fd, tmp_name = tempfile.mkstemp(dir=directory, prefix=f".{name}.", suffix=".partial")
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=60) as response:
                expected_len = response.headers.get("Content-Length")
                shutil.copyfileobj(response, out)
            if expected_len is not None and tmp.stat().st_size != int(expected_len):
                raise OSError(f"download of {url} stopped after {tmp.stat().st_size} of {expected_len} bytes")
            if sha256 is not None and (actual := _sha256(tmp)) != sha256:
                tmp.unlink()
                raise CheckpointError(
                    f"{url}: SHA-256 {actual} does not match the recorded {sha256}; the file was not cached. "
                    "The server may serve a different file: report it, or pass a file you verified with "
                    "pretrained_cfg_overlay=dict(file=PATH)"
                )
            os.replace(tmp, target)
            return target
        except CheckpointError:
            raise
        except OSError as e:  # connection errors (URLError is an OSError) and short reads are retried
            last_error = e
        finally:
            if tmp.exists():
                tmp.unlink()
    raise OSError(
        f"could not download {url} ({last_error}). Download it by hand and pass "
        "pretrained_cfg_overlay=dict(file=PATH)"
    ) from last_error


def manual_download_message(model_name: str, cfg: Mapping[str, Any]) -> str:
    notes = " ".join(cfg.get("notes") or ())
    if NO_WEIGHTS_NOTE in notes:
        return (
            f"{model_name}: the authors released no pretrained weights for this variant. Create it with "
            f"pretrained=False to train it, or load your own checkpoint with timm.create_model({model_name!r}, "
            "pretrained=True, pretrained_cfg_overlay=dict(file='/path/to/checkpoint.pth'))"
        )
    where = cfg.get("origin_url") or "the authors' repository"
    return (
        f"{model_name}: the authors publish these weights only behind a manual download page ({where}). "
        f"{notes} Download the file, then load it with timm.create_model({model_name!r}, pretrained=True, "
        "pretrained_cfg_overlay=dict(file='/path/to/checkpoint.pth'))"
    ).replace("  ", " ")


def fetch_pretrained(model_name: str, cfg: Mapping[str, Any]) -> Mapping:
    """The checkpoint a resolved pretrained cfg points at (file, then URL, then Hugging Face Hub)."""
    if cfg.get("file"):
        return load_checkpoint_file(cfg["file"])
    if cfg.get("url"):
        return load_checkpoint_file(download_url(cfg["url"]))
    if cfg.get("hf_hub_id"):
        from huggingface_hub import hf_hub_download

        filename = cfg.get("hf_hub_filename") or "model.safetensors"
        return load_checkpoint_file(hf_hub_download(cfg["hf_hub_id"], filename))
    raise RuntimeError(manual_download_message(model_name, cfg))
