#!/usr/bin/env python
"""Install the OpenMMLab stack (mmengine, mmcv with ops, mmsegmentation, mmdet) into this Python, on current PyTorch.

    python tools/install_mm.py            # build (or reuse) mmcv 2.1.0 for the installed torch, then install the rest
    python tools/install_mm.py --jobs 2   # compile with 2 processes (default: all cores)
    python tools/install_mm.py --cuda     # also compile the CUDA ops (default: only when torch sees a GPU)

mmcv 2.1.0 -- the newest mmcv that mmsegmentation 1.2.2 and mmdet 3.3.0 accept -- ships no wheel for current torch,
and its setup.py pins ``-std=c++14``/``-std=c++17`` while torch's headers need a newer standard.  This script
builds mmcv from its sdist (SHA-256 checked) with those pins removed, so that torch's own extension builder picks
the standard its headers need (and with CUDA ops when torch sees a GPU), and caches the wheel keyed by the
mmcv, torch, Python and CUDA versions: the next install of the same combination takes seconds.  The cache is
``$VITZOO_CACHE/wheels`` (default ``~/.cache/vitzoo/wheels``).
"""
from __future__ import annotations

import argparse
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

MMCV_VERSION = "2.1.0"
MMCV_SDIST_SHA256 = "d387bcab66b467479b6660310e23746cfc79c6e57acf04094680adb499a5cd3f"
MMENGINE = "mmengine==0.10.7"
MM_PACKAGES = ("mmsegmentation==1.2.2", "mmdet==3.3.0")
# Used without being declared: mmseg 1.2.2 imports ftfy and regex at `import mmseg.models` (its text
# tokenizer); mmengine imports pkg_resources, which setuptools dropped in 81, to resolve the package-scoped
# base configs (`mmseg::_base_/...`) that vitzoo's configs build on.
MM_UNDECLARED_DEPENDENCIES = ("ftfy", "regex", "setuptools<81")
# mmcv's setup.py imports pkg_resources too; the isolated build gets its own old setuptools.
BUILD_REQUIREMENTS = ("setuptools<80", "wheel", "ninja", "psutil")
# the C++ standard flags mmcv 2.1.0 hard-codes; without them torch.utils.cpp_extension adds the one torch needs
PINNED_STD = re.compile(r"""['"][-/]std[=:]c\+\+1[47]['"]""")


class StepFailed(RuntimeError):
    pass


def cache_root() -> Path:
    return Path(os.environ.get("VITZOO_CACHE", Path.home() / ".cache" / "vitzoo"))


def step(n: int, total: int, what: str) -> None:
    print(f"[{n}/{total}] {what}", flush=True)


def run(cmd: list[str], what: str, log: Path | None = None, env: dict | None = None) -> None:
    """Run ``cmd``; on failure raise with the step name and where the full output is."""
    if log is None:
        result = subprocess.run(cmd, env=env)
        if result.returncode:
            raise StepFailed(f"{what} failed (exit {result.returncode}): {' '.join(cmd)}")
        return
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env)
        start = time.monotonic()
        while proc.poll() is None:
            time.sleep(30)
            if proc.poll() is None:
                print(f"      ... {what}: {(time.monotonic() - start) / 60:.1f} min (log: {log})", flush=True)
    if proc.returncode:
        tail = log.read_text(errors="replace").splitlines()[-25:]
        raise StepFailed(f"{what} failed (exit {proc.returncode}); last lines of {log}:\n" + "\n".join(tail))


def build_key(cuda: bool | None) -> tuple[str, bool]:
    """(cache key, whether to build CUDA ops) for the torch in this Python; ``cuda=None``: when torch sees a GPU."""
    import torch

    with_cuda = torch.cuda.is_available() if cuda is None else cuda
    if with_cuda and not torch.version.cuda:
        raise StepFailed(f"CUDA ops requested, but torch {torch.__version__} is a CPU-only build")
    device = f"cu{torch.version.cuda.replace('.', '')}" if with_cuda else "cpu"
    torch_version = torch.__version__.split("+")[0]
    python = f"cp{sys.version_info.major}{sys.version_info.minor}"
    return f"mmcv-{MMCV_VERSION}_torch-{torch_version}_{python}_{device}", with_cuda


def patch_setup_py(setup_py: Path) -> int:
    text = setup_py.read_text()
    patched, count = PINNED_STD.subn("", text)
    if count == 0:
        raise StepFailed(f"{setup_py}: found no pinned -std flags; is this mmcv {MMCV_VERSION}?")
    # the removals leave e.g. ['-Wall', ] or [cuda_args, ] behind, both valid Python
    setup_py.write_text(patched)
    return count


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def build_mmcv_wheel(wheel_dir: Path, with_cuda: bool, jobs: int, log_dir: Path) -> Path:
    pip = [sys.executable, "-m", "pip"]
    with tempfile.TemporaryDirectory(prefix="vitzoo-mmcv-") as tmp:
        tmp = Path(tmp)
        build_deps = tmp / "build-deps"
        run(pip + ["install", "-q", "--target", str(build_deps), *BUILD_REQUIREMENTS], "installing build tools")
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(build_deps), os.environ.get("PYTHONPATH")])))
        env["PATH"] = os.pathsep.join([str(build_deps / "bin"), env.get("PATH", "")])
        run(
            pip + ["download", "-q", "--no-deps", "--no-binary", ":all:", "--no-build-isolation",
                   f"mmcv=={MMCV_VERSION}", "-d", str(tmp)],
            "downloading the mmcv sdist", log=log_dir / "mmcv-download.log", env=env,
        )
        sdist = tmp / f"mmcv-{MMCV_VERSION}.tar.gz"
        if not sdist.is_file() or sha256(sdist) != MMCV_SDIST_SHA256:
            raise StepFailed(f"the mmcv sdist is missing or its SHA-256 is not {MMCV_SDIST_SHA256}")
        with tarfile.open(sdist) as tar:
            tar.extractall(tmp, filter="data")
        source = tmp / f"mmcv-{MMCV_VERSION}"
        removed = patch_setup_py(source / "setup.py")
        print(f"      removed {removed} pinned C++ standard flags from mmcv's setup.py", flush=True)
        env.update(MMCV_WITH_OPS="1", MAX_JOBS=str(jobs), FORCE_CUDA="1" if with_cuda else "0")
        staging = tmp / "wheel"
        run(
            pip + ["wheel", "--no-deps", "--no-build-isolation", "-w", str(staging), str(source)],
            f"compiling mmcv {MMCV_VERSION} ({'CUDA+CPU' if with_cuda else 'CPU'} ops, {jobs} jobs)",
            log=log_dir / "mmcv-build.log", env=env,
        )
        (wheel,) = staging.glob("mmcv-*.whl")
        wheel_dir.mkdir(parents=True, exist_ok=True)
        shutil.move(str(wheel), wheel_dir / wheel.name)  # into the cache only once complete
        return wheel_dir / wheel.name


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="parallel compile jobs")
    p.add_argument("--rebuild", action="store_true", help="ignore a cached mmcv wheel")
    p.add_argument(
        "--cuda", action=argparse.BooleanOptionalAction, default=None,
        help="build mmcv's CUDA ops (default: when torch sees a GPU; --cuda on a GPU-less build host with nvcc)",
    )
    args = p.parse_args(argv)
    if args.jobs < 1:
        p.error("--jobs must be >= 1")
    pip = [sys.executable, "-m", "pip"]
    try:
        step(1, 4, f"installing {MMENGINE}")
        run(pip + ["install", "-q", MMENGINE], "installing mmengine")
        key, with_cuda = build_key(args.cuda)
        wheel_dir = cache_root() / "wheels" / key
        cached = sorted(wheel_dir.glob("mmcv-*.whl"))
        if cached and not args.rebuild:
            step(2, 4, f"mmcv {MMCV_VERSION}: using the cached wheel {cached[-1]}")
            wheel = cached[-1]
        else:
            step(2, 4, f"mmcv {MMCV_VERSION}: no cached wheel for {key}; building it (CPU ops take ~10-20 min)")
            wheel = build_mmcv_wheel(wheel_dir, with_cuda, args.jobs, cache_root() / "logs" / key)
            print(f"      cached {wheel}", flush=True)
        step(3, 4, "installing mmcv")
        run(pip + ["install", "-q", str(wheel)], "installing the mmcv wheel")
        step(4, 4, f"installing {' and '.join(MM_PACKAGES)}")
        run(pip + ["install", "-q", *MM_PACKAGES, *MM_UNDECLARED_DEPENDENCIES], "installing mmsegmentation and mmdet")
        run([sys.executable, "-c", "import mmcv.ops, mmseg.models, mmdet.models"], "importing the installed stack")
    except StepFailed as e:
        print(f"install_mm: {e}", file=sys.stderr)
        return 1
    print("OpenMMLab stack ready: mmengine, mmcv (with ops), mmsegmentation, mmdet")
    return 0


if __name__ == "__main__":
    sys.exit(main())
