#!/usr/bin/env python
"""Params, GFLOPs, throughput and peak memory of timm/vitzoo models, optionally compared in one run.

    python tools/benchmark.py                                   # vz Swin-T vs timm Swin-T, CPU, 224x224
    python tools/benchmark.py @configs/benchmark/swin_tiny_vs_timm.args   # arguments from a file
    python tools/benchmark.py rmt_t --compare-to hornet_tiny_7x7 --img-size 224 --batch-size 16
    python tools/benchmark.py vz_swin_tiny_patch4_window7_224 --mode train --device cuda --dtype bfloat16
    python tools/benchmark.py rmt_t --compare-to rmt_t --attention triton torch --img-size 1024 --device cuda

GFLOPs are multiply-accumulates (as the papers count them) from ``torch.utils.flop_counter`` at batch 1.
When two models are given, their timed iterations alternate (A, B, A, B, ...) so that both see the
same machine state, and the table ends with the ratio B/A of throughput (>1: the first model is slower).
``--attention`` runs each model's steps under one of vitzoo's attention backends (one name for both models,
or one per model): a model compared with itself measures what a backend changes.
Peak memory is the CUDA allocator's peak on GPU; on CPU it is the peak of tensor allocations recorded
by the PyTorch profiler during one step (the same accounting for both models).
"""
from __future__ import annotations

import argparse
import contextlib
import csv
import os
import statistics
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

DEFAULT_MODEL = "vz_swin_tiny_patch4_window7_224"
DEFAULT_COMPARE = "swin_tiny_patch4_window7_224"


@dataclass
class Result:
    model: str
    mode: str
    device: str
    dtype: str
    img_size: str
    batch_size: int
    params_m: float
    gflops: float
    samples_per_s: float
    step_ms_median: float
    peak_mem_mb: float


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter, fromfile_prefix_chars="@"
    )
    p.add_argument(
        "model", nargs="?", default=None, help=f"timm/vitzoo model name (default: {DEFAULT_MODEL} vs {DEFAULT_COMPARE})"
    )
    p.add_argument(
        "--compare-to",
        default=None,
        help="second model measured in the same run",
    )
    p.add_argument("--img-size", type=int, nargs="+", default=None, help="H [W]; default: the model's input size")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--mode", choices=("infer", "train"), default="infer", help="forward, or forward+backward+SGD")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--dtype", choices=("float32", "float16", "bfloat16"), default="float32", help="autocast dtype")
    p.add_argument("--iters", type=int, default=10, help="timed iterations per model")
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    p.add_argument("--no-flops", action="store_true", help="skip the FLOP count (it runs one extra forward)")
    p.add_argument("--csv", type=Path, default=None, help="append results to this CSV file")
    p.add_argument("--model-kwargs", default="", help="extra create_model kwargs as k=v,k=v (Python literals)")
    p.add_argument(
        "--attention", nargs="+", default=None, metavar="BACKEND",
        help="vitzoo attention backend (triton, xformers, torch) for both models, or one per model; "
        "default: vitzoo's automatic choice",
    )
    args = p.parse_args(argv)
    if args.model is None:
        args.model, args.compare_to = DEFAULT_MODEL, args.compare_to or DEFAULT_COMPARE
    if args.img_size is not None and len(args.img_size) not in (1, 2):
        p.error("--img-size takes H or H W")
    if args.batch_size < 1 or args.iters < 1 or args.warmup < 0:
        p.error("--batch-size and --iters must be >= 1, --warmup >= 0")
    if args.attention is not None:
        from vitzoo.ops import BACKENDS

        models = 1 + (args.compare_to is not None)
        if len(args.attention) not in (1, models) or not set(args.attention) <= set(BACKENDS):
            p.error(f"--attention takes 1 or {models} of {', '.join(BACKENDS)} (one per model), got {args.attention}")
        args.attention = args.attention * models if len(args.attention) == 1 else args.attention
    return args


def parse_kwargs(text: str) -> dict:
    import ast

    kwargs = {}
    for item in filter(None, text.split(",")):
        key, _, value = item.partition("=")
        kwargs[key.strip()] = ast.literal_eval(value.strip())
    return kwargs


def create(name: str, kwargs: dict, device: str) -> torch.nn.Module:
    import timm

    import vitzoo  # noqa: F401  (registers vitzoo models)

    if name not in timm.list_models() and name not in timm.list_models(pretrained=True):
        raise SystemExit(f"unknown model {name!r}; see timm.list_models('vz_*') and the README's model list")
    return timm.create_model(name, **kwargs).to(device)


def input_size(model: torch.nn.Module, img_size) -> tuple[int, int, int]:
    chans = model.pretrained_cfg.get("input_size", (3, 224, 224))[0]
    if img_size is None:
        return tuple(model.pretrained_cfg.get("input_size", (3, 224, 224)))
    h, w = (img_size[0], img_size[0]) if len(img_size) == 1 else img_size
    return chans, h, w


def _cpu_attention_flop_formulas() -> dict:
    """Formulas for SDPA's CPU flash kernels, which torch's counter does not list (it would count them as 0).

    SDPA picks that kernel on CPU whenever its inputs allow it (e.g. a 4-D float mask), so without these a
    model's attention would vanish from its GFLOPs depending on how it passes its mask.
    """
    from torch.utils.flop_counter import sdpa_backward_flop_count, sdpa_flop_count

    def forward(query_shape, key_shape, value_shape, *args, out_shape=None, **kwargs) -> int:
        return sdpa_flop_count(query_shape, key_shape, value_shape)

    def backward(grad_out_shape, query_shape, key_shape, value_shape, *args, out_shape=None, **kwargs) -> int:
        return sdpa_backward_flop_count(grad_out_shape, query_shape, key_shape, value_shape)

    aten = torch.ops.aten
    return {
        aten._scaled_dot_product_flash_attention_for_cpu: forward,
        aten._scaled_dot_product_flash_attention_for_cpu_backward: backward,
    }


def count_gflops(model: torch.nn.Module, size, device: str) -> float:
    from torch.utils.flop_counter import FlopCounterMode

    from vitzoo.ops import attention_backend

    x = torch.randn(1, *size, device=device)
    counter = FlopCounterMode(display=False, custom_mapping=_cpu_attention_flop_formulas())
    was_training = model.training
    # The counter sees torch's operators only, not a Triton kernel: count the attention on the torch backend.
    with torch.no_grad(), counter, attention_backend("torch"):
        model.eval()(x)
    model.train(was_training)
    return counter.get_total_flops() / 2 / 1e9  # multiply-accumulates, as papers report "FLOPs"


@contextlib.contextmanager
def _quiet_stderr():
    """Silence the profiler's C++ start/stop lines (written to file descriptor 2, not sys.stderr)."""
    sys.stderr.flush()
    saved = os.dup(2)
    with open(os.devnull, "w") as devnull:
        os.dup2(devnull.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)


class Runner:
    """One model's step (inference or a training step) on a fixed batch."""

    def __init__(self, name, model, size, args, attention=None):
        self.name = name if attention is None else f"{name} [{attention}]"
        self.attention = attention
        self.model = model
        self.args = args
        self.x = torch.randn(args.batch_size, *size, device=args.device)
        self.dtype = getattr(torch, args.dtype)
        if args.mode == "train":
            self.model.train()
            self.target = torch.randint(0, max(getattr(model, "num_classes", 1000), 1), (args.batch_size,), device=args.device)
            self.optimizer = torch.optim.SGD(model.parameters(), lr=1e-4)
        else:
            self.model.eval()
        self.times: list[float] = []

    def step(self):
        from vitzoo.ops import attention_backend

        with attention_backend(self.attention):
            self._step()

    def _step(self):
        autocast = torch.autocast(self.args.device.split(":")[0], dtype=self.dtype, enabled=self.args.dtype != "float32")
        if self.args.mode == "train":
            with autocast:
                loss = torch.nn.functional.cross_entropy(self.model(self.x).float(), self.target)
            loss.backward()
            self.optimizer.step()
            self.optimizer.zero_grad(set_to_none=True)
        else:
            with torch.no_grad(), autocast:
                self.model(self.x)

    def sync(self):
        if self.args.device.startswith("cuda"):
            torch.cuda.synchronize()

    def timed_step(self):
        self.sync()
        start = time.perf_counter()
        self.step()
        self.sync()
        self.times.append(time.perf_counter() - start)

    def peak_memory_mb(self) -> float:
        if self.args.device.startswith("cuda"):
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            base = torch.cuda.memory_allocated()
            self.step()
            torch.cuda.synchronize()
            return (torch.cuda.max_memory_allocated() - base) / 2**20
        from torch.profiler import ProfilerActivity, profile

        with _quiet_stderr(), profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
            self.step()
        deltas = sorted(
            (e.time_range.start, e.cpu_memory_usage if e.name == "[memory]" else e.self_cpu_memory_usage)
            for e in prof.events()
            if e.name == "[memory]" or e.self_cpu_memory_usage
        )
        current = peak = 0
        for _, delta in deltas:
            current += delta
            peak = max(peak, current)
        return peak / 2**20


def run(args) -> list[Result]:
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        raise SystemExit("--device cuda asked for, but torch sees no CUDA device")
    kwargs = parse_kwargs(args.model_kwargs)
    names = [args.model] + ([args.compare_to] if args.compare_to else [])
    runners = []
    for i, name in enumerate(names):
        model = create(name, kwargs if name == args.model else {}, args.device)
        size = input_size(model, args.img_size)
        runners.append((Runner(name, model, size, args, args.attention and args.attention[i]), size))
    for runner, _ in runners:
        for _ in range(args.warmup):
            runner.step()
    for _ in range(args.iters):  # interleaved so both models see the same machine state
        for runner, _ in runners:
            runner.timed_step()
    results = []
    for runner, size in runners:
        median = statistics.median(runner.times)
        results.append(
            Result(
                model=runner.name,
                mode=args.mode,
                device=args.device if not args.device.startswith("cuda") else torch.cuda.get_device_name(),
                dtype=args.dtype,
                img_size=f"{size[1]}x{size[2]}",
                batch_size=args.batch_size,
                params_m=sum(p.numel() for p in runner.model.parameters()) / 1e6,
                gflops=float("nan") if args.no_flops else count_gflops(runner.model, size, args.device),
                samples_per_s=args.batch_size / median,
                step_ms_median=median * 1e3,
                peak_mem_mb=runner.peak_memory_mb(),
            )
        )
    return results


def print_columns(header: list[str], rows: list[list[str]]) -> None:
    """A plain-text table: the header, a rule, then the rows, each column as wide as its widest cell."""
    table = [header, *rows]
    widths = [max(map(len, column)) for column in zip(*table)]
    for i, cells in enumerate(table):
        print(" | ".join(c.ljust(w) for c, w in zip(cells, widths)))
        if i == 0:
            print("-|-".join("-" * w for w in widths))


def print_table(results: list[Result]) -> None:
    header = ["model", "mode", "device", "dtype", "img", "batch", "params (M)", "GFLOPs", "samples/s", "ms/step", "peak MB"]
    rows = [
        [r.model, r.mode, r.device, r.dtype, r.img_size, str(r.batch_size), f"{r.params_m:.2f}", f"{r.gflops:.2f}",
         f"{r.samples_per_s:.1f}", f"{r.step_ms_median:.1f}", f"{r.peak_mem_mb:.0f}"]
        for r in results
    ]
    print_columns(header, rows)
    if len(results) == 2:
        a, b = results
        print(
            f"\nratio {a.model} / {b.model} (same run): throughput {a.samples_per_s / b.samples_per_s:.3f}x, "
            f"peak memory {a.peak_mem_mb / max(b.peak_mem_mb, 1e-9):.3f}x"
        )


def write_csv(results: list[Result], path: Path) -> None:
    new = not path.exists()
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(asdict(results[0])))
        if new:
            writer.writeheader()
        for r in results:
            writer.writerow(asdict(r))


def main(argv=None) -> list[Result]:
    args = parse_args(argv)
    results = run(args)
    print_table(results)
    if args.csv:
        write_csv(results, args.csv)
        print(f"results appended to {args.csv}")
    return results


if __name__ == "__main__":
    main()
