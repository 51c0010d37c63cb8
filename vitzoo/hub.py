"""Where pretrained weights come from: a local file, a direct URL, or a Hugging Face Hub file."""
from __future__ import annotations

import hashlib
import http.client
import os
import re
import shutil
import tempfile
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any, Mapping

import torch.hub

from .checkpoint import CheckpointError, load_checkpoint_file

__all__ = [
    "NO_WEIGHTS_NOTE",
    "cache_dir",
    "cached_file_name",
    "download_url",
    "file_sha256",
    "fetch_pretrained",
    "hash_prefix_in_name",
    "manual_download_message",
]

# A variant's pretrained cfg lists this note when the authors define the architecture but released no weights.
NO_WEIGHTS_NOTE = "The authors released no weights for this variant."


def cache_dir() -> Path:
    """vitzoo's download cache, inside torch's hub cache (``$TORCH_HOME``)."""
    return Path(torch.hub.get_dir()) / "checkpoints" / "vitzoo"


def file_sha256(path: str | os.PathLike) -> str:
    """The SHA-256 of a file, as `sha256sum` prints it."""
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


def hash_prefix_in_name(url: str) -> str | None:
    """The SHA-256 prefix in a ``name-<hex>.ext`` file name (torch.hub's convention), else None."""
    match = torch.hub.HASH_REGEX.search(os.path.basename(urllib.parse.urlparse(url).path))
    return match.group(1) if match and match.group(1) else None


def _matches(path: Path, sha256: str | None) -> bool:
    return sha256 is None or file_sha256(path).startswith(sha256)


def download_url(url: str, sha256: str | None = None, directory: Path | None = None, retries: int = 2) -> Path:
    """Download ``url`` into the cache once; verify its SHA-256 when it is known.

    ``sha256`` is the file's SHA-256 or a prefix of it; without it, the prefix in a torch.hub-style
    file name (``resnet18-5c106cde.pth``) is checked.  The file is written next to its final place and
    renamed only when complete and verified, so an interrupted or wrong download never leaves a file
    in the cache; a cached file that does not match is downloaded again.
    """
    if sha256 is not None and not re.fullmatch(r"[0-9a-f]{1,64}", sha256):
        raise ValueError(f"sha256 must be lowercase hex digits (the file's SHA-256 or a prefix of it), got {sha256!r}")
    expected = sha256 or hash_prefix_in_name(url)
    directory = Path(directory or cache_dir())
    directory.mkdir(parents=True, exist_ok=True)
    name = cached_file_name(url)
    target = directory / name
    if target.is_file() and _matches(target, expected):
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
            if not _matches(tmp, expected):
                recorded = "recorded" if sha256 else "in its file name (torch.hub's name-<sha256 prefix> convention)"
                raise CheckpointError(
                    f"{url}: SHA-256 {file_sha256(tmp)} does not match the {recorded} {expected}; the file was not "
                    "cached. The server may serve a different file: report it, or pass a file you verified with "
                    "pretrained_cfg_overlay=dict(file=PATH)"
                )
            os.replace(tmp, target)
            return target
        except CheckpointError:
            raise
        except (OSError, http.client.HTTPException) as e:  # connection errors (URLError) and short reads are retried
            last_error = e
        finally:
            if tmp.exists():
                tmp.unlink()
    raise OSError(
        f"could not download {url} ({last_error}). Download it by hand and pass "
        "pretrained_cfg_overlay=dict(file=PATH)"
    ) from last_error


def _file_overlay_example(model_name: str) -> str:
    return (
        f"timm.create_model({model_name!r}, pretrained=True, pretrained_cfg_overlay=dict(file='/path/to/checkpoint.pth'))"
    )


def manual_download_message(model_name: str, cfg: Mapping[str, Any]) -> str:
    notes = " ".join(cfg.get("notes") or ())
    if NO_WEIGHTS_NOTE in notes:
        return (
            f"{model_name}: the authors released no pretrained weights for this variant. Create it with "
            f"pretrained=False to train it, or load your own checkpoint with {_file_overlay_example(model_name)}"
        )
    where = cfg.get("origin_url") or "the authors' repository"
    return (
        f"{model_name}: the authors publish these weights only behind a manual download page ({where}). "
        f"{notes} Download the file, then load it with {_file_overlay_example(model_name)}, or convert it once "
        f"with `python tools/convert_checkpoint.py FILE OUT.safetensors --model {model_name}` (in the vitzoo "
        "repository) and pass file=OUT.safetensors"
    ).replace("  ", " ")


def _hub_file(model_name: str, repo_id: str, filename: str) -> str:
    """The path of a Hugging Face Hub file in the HF cache, downloaded on first use."""
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import EntryNotFoundError

    try:
        return hf_hub_download(repo_id, filename)
    except (EntryNotFoundError, OSError) as e:  # offline, no network, missing repo or file (HTTP errors are OSErrors)
        reason = (str(e).strip().splitlines() or [""])[0]
        raise OSError(
            f"{model_name}: could not get {filename} from the Hugging Face Hub repo {repo_id} "
            f"({type(e).__name__}: {reason}). Offline (HF_HUB_OFFLINE=1) or without access to huggingface.co, "
            f"download https://huggingface.co/{repo_id}/resolve/main/{filename} where you can and load it with "
            f"{_file_overlay_example(model_name)}"
        ) from e


def fetch_pretrained(model_name: str, cfg: Mapping[str, Any]) -> Mapping:
    """The checkpoint a resolved pretrained cfg points at (file, then URL, then Hugging Face Hub).

    A downloaded file is checked against the cfg's ``sha256`` when it has one; a local ``file`` is the
    user's own and is not.
    """
    if cfg.get("file"):
        return load_checkpoint_file(cfg["file"])
    if cfg.get("url"):
        return load_checkpoint_file(download_url(cfg["url"], sha256=cfg.get("sha256")))
    if cfg.get("hf_hub_id"):
        path = Path(_hub_file(model_name, cfg["hf_hub_id"], cfg.get("hf_hub_filename") or "model.safetensors"))
        if not _matches(path, cfg.get("sha256")):
            raise CheckpointError(
                f"{model_name}: the Hugging Face Hub file {path} has SHA-256 {file_sha256(path)}, not the recorded "
                f"{cfg['sha256']}: delete it from the HF cache and try again, or pass a file you verified with "
                "pretrained_cfg_overlay=dict(file=PATH)"
            )
        return load_checkpoint_file(path)
    raise RuntimeError(manual_download_message(model_name, cfg))
