#!/usr/bin/env python
"""Time, peak memory and memory bandwidth of vitzoo's attention ops, per backend, at Swin-T and RMT-T stage shapes.

    python tools/benchmark_kernels.py                                  # all ops, 224 and 1024, every backend
    python tools/benchmark_kernels.py --ops window_attention --sizes 224 --dtype bf16 --batch 128
    python tools/benchmark_kernels.py --sizes 224 --csv benchmark_results/kernels.csv

Ops and shapes, read from the models' configs (built on the meta device, so nothing is allocated):
``window_attention`` at every Swin-T stage (``vz_swin_tiny_patch4_window7_224``), on the stage's shifted
block with the window and shift that Swin uses at that map size; ``axial_decay_attention`` and
``decay_attention`` at RMT-T's decomposed and full-attention stages (``rmt_t``), with the stage's own decay
rates and RMT's cached decay masks, passed as RMT passes them: built by the first (untimed) step of a
backend that reads masks (torch, xformers), never for Triton, and then not in the timed steps nor their peak
memory, as the model builds them once per map size; ``rotary_embedding`` (RMT's theta shift of q, or of
k) at every RMT-T stage with the stage's own sin/cos tables.  Stages are numbered 1-4 (``layers.0`` is
stage 1); the map side is the input size over the stage's stride.

Backends (``vitzoo.ops.BACKENDS``): ``torch`` is the reference (SDPA with the bias and masks materialised,
as timm does), ``triton`` the fused kernels, ``xformers`` xformers' ``memory_efficient_attention`` with the
bias and masks as a tensor ``attn_bias``.  A backend that ``vitzoo.ops.available_backends`` refuses gets a
row "unavailable: <its reason>" instead of numbers (for xformers: not installed, its import error, built for
another torch or CUDA, or no operator for the device or dtype).  On CPU the torch backend and the authors'
paths are timed: Triton's CPU interpreter runs kernels in Python, a correctness tool, not a speed one.

A fourth row, ``authors``, times the same op written as the papers' code computes it, without SDPA:
microsoft/Swin-Transformer's block around its ``WindowAttention`` (pad as its detection backbone does, roll,
partition, project, ``(q * scale) @ k^T``, plus the relative position bias gathered from the table on every
call, plus the shift mask broadcast over the batch, softmax, ``@ v``, reverse, roll back) and qhfan/RMT's
``VisionRetentionAll`` / ``VisionRetentionChunk`` (``q @ k^T + mask``, softmax, ``@ v``; the chunked form
along W, then along H over that output) and their ``theta_shift`` (``x * cos + rotate_every_two(x) * sin`` on
their (B, heads, H, W, d) layout).  Each stores its (windows or tokens, heads, N, N) scores and
probabilities.  It runs under autocast to the benchmark's dtype when that is 16-bit, as the authors train
with AMP, so their float32 masks make the softmax run in float32.  Its masks are built before the timed
steps, as the torch row's are (Swin's classification model keeps its shift mask as a buffer; RMT builds its
masks once per stage per forward, shared by the stage's blocks, a cost neither row counts).  The output
projection and RMT's rotary shift (an op of its own here) are outside the attention ops in every row.

Each (op, stage, size) case is timed in two modes, ``forward`` (under no_grad) and ``fwd+bwd`` (forward,
then backward of a fixed output gradient), backends alternating iteration by iteration; time and peak
memory are ``tools/benchmark.py``'s (median wall time between device syncs; the CUDA allocator's peak above
what was allocated before the step, or on CPU the profiler's peak of tensor allocations during one step).
On CUDA the sync around each step costs some microseconds: use a batch large enough for the op to take
milliseconds before reading bandwidths.  Cases not started within ``--time-limit`` are reported as skipped.

Bytes moved are the op's minimal HBM traffic, what a fused kernel cannot avoid:

    forward  = R + O
    fwd+bwd  = (R + O) + (R + O + G) = 2R + 2O + G

R: bytes of the inputs, each read once (window_attention: the map x, the qkv weight and bias, the bias
table; the decay ops: q, k, v and the decay rates; a cached mask is not counted, fused kernels never read
one; rotary_embedding: x and the sin/cos tables); O: bytes of the output, written once (and its gradient
read once in the backward); G: bytes of the input gradients, written once (window_attention: x, the qkv
weight and bias, the bias table; the decay ops: q, k, v; rotary_embedding: x).  Achieved bandwidth is bytes
moved over the median time, and the roofline % compares it to the device's peak HBM bandwidth from
``PEAK_HBM_TB_S`` (no roofline % on a device missing from it).
"""
from __future__ import annotations

import argparse
import copy
import functools
import math
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

import torch

import benchmark

OPS = ("window_attention", "decay_attention", "axial_decay_attention", "rotary_embedding")
SWIN_T = "vz_swin_tiny_patch4_window7_224"
RMT_T = "rmt_t"
MODEL_OF_OP = {"window_attention": SWIN_T, "decay_attention": RMT_T, "axial_decay_attention": RMT_T,
               "rotary_embedding": RMT_T}
DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
MODES = ("forward", "fwd+bwd")
MEASURED = "measured"
AUTHORS = "authors"

# Peak HBM bandwidth (TB/s) by torch.cuda.get_device_name(), from the vendors' data sheets.
PEAK_HBM_TB_S = {
    "NVIDIA H100 80GB HBM3": 3.35,  # H100 SXM
    "NVIDIA H100 PCIe": 2.0,
    "NVIDIA H200": 4.8,
    "NVIDIA A100-SXM4-80GB": 2.0,
    "NVIDIA A100 80GB PCIe": 1.94,
    "NVIDIA A100-SXM4-40GB": 1.56,
}

CPU_NOTE = "not timed on CPU: Triton's CPU interpreter is a correctness tool, not a speed one"


@dataclass
class Result:
    op: str
    model: str
    stage: int
    img_size: int
    shape: str
    mode: str
    backend: str
    device: str
    dtype: str
    batch: int
    status: str  # "measured", or why this backend was not timed
    ms_median: float = math.nan
    peak_mem_mb: float = math.nan
    gb_moved: float = math.nan
    gb_per_s: float = math.nan
    roofline_pct: float = math.nan
    speedup_vs_torch: float = math.nan  # torch's time / this backend's
    mem_vs_torch: float = math.nan  # this backend's peak memory / torch's
    speedup_vs_authors: float = math.nan  # the authors' path's time / this backend's
    mem_vs_authors: float = math.nan  # this backend's peak memory / the authors' path's


def _nbytes(tensors) -> int:
    return sum(t.numel() * t.element_size() for t in tensors)


@dataclass
class OpCall:
    """One call of an op: its arguments, what it must read, and what a backward pass feeds and fills."""

    fn: Callable
    authors: Callable  # the same op as the authors' code computes it, on the same arguments
    args: tuple
    reads: tuple  # the tensors of R in the module docstring
    trainable: tuple  # the tensors that get gradients (G)
    grad_output: torch.Tensor  # shaped as the output (O)

    def gb_moved(self, backward: bool) -> float:
        read, out = _nbytes(self.reads), _nbytes([self.grad_output])
        moved = 2 * read + 2 * out + _nbytes(self.trainable) if backward else read + out
        return moved / 1e9


@dataclass(frozen=True)
class Case:
    """One op at one model stage and input size; ``make(batch, device, dtype)`` builds its call."""

    op: str
    model: str
    stage: int
    img_size: int
    shape: str
    make: Callable[[int, torch.device, torch.dtype], OpCall]


@functools.lru_cache(maxsize=None)
def _meta_model(name: str) -> torch.nn.Module:
    """The model's modules with meta tensors: its configuration, at no memory cost."""
    import timm

    import vitzoo  # noqa: F401  (registers vitzoo models)

    with torch.device("meta"):
        return timm.create_model(name)


def swin_authors_attention(x, qkv_weight, qkv_bias, bias_table, num_heads, window, shift, dropout_p, *, shift_mask):
    """window_attention as microsoft/Swin-Transformer computes it (module docstring); ``shift_mask``: its
    (windows, N, N) float32 buffer for the padded map, unused without a shift."""
    from vitzoo.layers.window import window_partition, window_reverse
    from vitzoo.ops import relative_position_bias

    B, H, W, C = x.shape
    head_dim = C // num_heads
    x = torch.nn.functional.pad(x, (0, 0, 0, (-W) % window, 0, (-H) % window))
    Hp, Wp = x.shape[1:3]
    if shift:
        x = torch.roll(x, shifts=(-shift, -shift), dims=(1, 2))
    windows = window_partition(x, window)
    B_, N, _ = windows.shape
    qkv = torch.nn.functional.linear(windows, qkv_weight, qkv_bias)
    q, k, v = qkv.reshape(B_, N, 3, num_heads, head_dim).permute(2, 0, 3, 1, 4).unbind(0)
    attn = (q * head_dim**-0.5) @ k.transpose(-2, -1)
    attn = attn + relative_position_bias(bias_table, window).unsqueeze(0)
    if shift:
        num_windows = shift_mask.shape[0]
        attn = attn.view(B_ // num_windows, num_windows, num_heads, N, N) + shift_mask.unsqueeze(1).unsqueeze(0)
        attn = attn.view(B_, num_heads, N, N)
    attn = torch.nn.functional.dropout(attn.softmax(dim=-1), dropout_p)
    out = window_reverse((attn @ v).transpose(1, 2).reshape(B_, N, C), window, Hp, Wp)
    if shift:
        out = torch.roll(out, shifts=(shift, shift), dims=(1, 2))
    return out[:, :H, :W]


def _masked_softmax_attention(q, k, v, mask):
    """``softmax(q @ k^T + mask) @ v`` with the scores stored, as RMT's retention modules compute it."""
    return torch.softmax(q @ k.transpose(-1, -2) + mask, -1) @ v


def rmt_authors_full(q, k, v, decay, grid_size, mask):
    """decay_attention as qhfan/RMT's ``VisionRetentionAll`` computes it: (B, heads, HW, d) tokens, one mask."""
    return _masked_softmax_attention(q, k, v, mask())


def rmt_authors_axial(q, k, v, decay, masks):
    """axial_decay_attention as qhfan/RMT's ``VisionRetentionChunk`` computes it, on (B, H, W, heads, d) maps:
    along W in (B, H, heads, W, d) layout, then along H in (B, W, heads, H, d) over the W pass's output."""
    mask_h, mask_w = masks()
    along_w = _masked_softmax_attention(*(t.permute(0, 1, 3, 2, 4) for t in (q, k, v)), mask_w)
    q_h, k_h = (t.permute(0, 2, 3, 1, 4) for t in (q, k))
    out = _masked_softmax_attention(q_h, k_h, along_w.permute(0, 3, 2, 1, 4), mask_h)  # (B, W, heads, H, d)
    return out.permute(0, 3, 1, 2, 4)


def rmt_authors_theta_shift(x, sin, cos):
    """rotary_embedding as qhfan/RMT's ``theta_shift`` computes it, on its (B, heads, H, W, d) view of the map;
    with float32 tables a 16-bit x's result stays float32, as theirs does until autocast casts it for q @ k^T."""
    x = x.permute(0, 3, 1, 2, 4)
    pairs_rotated = torch.stack([-x[..., 1::2], x[..., ::2]], dim=-1).flatten(-2)  # their rotate_every_two
    return (x * cos.squeeze(2) + pairs_rotated * sin.squeeze(2)).permute(0, 2, 3, 1, 4)


def _window_call(batch, device, dtype, *, side, dim, heads, window, shift, table_rows, qkv_bias) -> OpCall:
    from vitzoo.layers.window import shifted_window_mask
    from vitzoo.ops import window_attention

    def leaf(*shape, scale=1.0):
        return (torch.randn(*shape, device=device) * scale).to(dtype).requires_grad_()

    x = leaf(batch, side, side, dim)
    weight = leaf(3 * dim, dim, scale=dim**-0.5)
    bias = leaf(3 * dim, scale=0.02) if qkv_bias else None
    table = leaf(table_rows, heads, scale=0.02)
    tensors = tuple(t for t in (x, weight, bias, table) if t is not None)
    call_args = (x, weight, bias, table, heads, window, shift, 0.0)  # no attention dropout, as in eval
    padded_side = side + (-side) % window
    authors = functools.partial(
        swin_authors_attention, shift_mask=shifted_window_mask(padded_side, padded_side, window, shift, device)
    )
    return OpCall(window_attention, authors, call_args, tensors, tensors, torch.randn_like(x))


def swin_cases(img_size: int) -> list[Case]:
    """window_attention at each Swin-T stage, on its shifted block (the one that needs the shift mask)."""
    from vitzoo.layers.window import effective_window

    model = _meta_model(SWIN_T)
    cases = []
    for stage, (layer, info) in enumerate(zip(model.layers, model.feature_info), start=1):
        block = max(layer.blocks, key=lambda b: b.shift_size)
        side = img_size // info["reduction"]
        window, shift = effective_window(side, side, block.window_size, block.shift_size)
        attn = block.attn
        shape = f"{side}x{side}x{attn.dim}, {attn.num_heads} heads, window {window}, shift {shift}"
        make = functools.partial(
            _window_call, side=side, dim=attn.dim, heads=attn.num_heads, window=window, shift=shift,
            table_rows=attn.relative_position_bias_table.shape[0], qkv_bias=attn.qkv.bias is not None,
        )
        cases.append(Case("window_attention", SWIN_T, stage, img_size, shape, make))
    return cases


def _stage_grid(rel_pos, side: int, device: torch.device):
    """The stage's rotary tables, decay rates and (lazily) decay masks at a side x side map, computed as RMT
    computes them (on a copy: the model is meta)."""
    stage_rel_pos = copy.deepcopy(rel_pos).to_empty(device=device)
    stage_rel_pos.init_non_persistent_buffers()
    return stage_rel_pos(side, side)


def _decay_call(batch, device, dtype, *, rel_pos, side, heads, head_dim, axial) -> OpCall:
    from vitzoo.ops import axial_decay_attention, decay_attention

    grid = _stage_grid(rel_pos, side, device)
    shape = (batch, side, side, heads, head_dim) if axial else (batch, heads, side * side, head_dim)
    q, k, v = (torch.randn(shape, device=device).to(dtype).requires_grad_() for _ in range(3))
    with torch.no_grad():
        k.mul_(head_dim**-0.5)  # RMT scales k before the op
    if axial:
        fn, authors, args = axial_decay_attention, rmt_authors_axial, (q, k, v, grid.decay, grid.axial_masks)
    else:
        fn, authors, args = decay_attention, rmt_authors_full, (q, k, v, grid.decay, (side, side), grid.full_mask)
    return OpCall(fn, authors, args, (q, k, v, grid.decay), (q, k, v), torch.randn_like(v))


def _rotary_call(batch, device, dtype, *, rel_pos, side, heads, head_dim) -> OpCall:
    from vitzoo.ops import rotary_embedding

    grid = _stage_grid(rel_pos, side, device)
    x = torch.randn(batch, side, side, heads, head_dim, device=device).to(dtype).requires_grad_()
    args = (x, grid.sin, grid.cos)
    return OpCall(rotary_embedding, rmt_authors_theta_shift, args, args, (x,), torch.randn_like(x))


def rmt_cases(img_size: int, op: str) -> list[Case]:
    """``op`` at each RMT-T stage that runs it: the decay ops at the stages of their form of the attention,
    the rotary embedding (of one of q, k) at every stage."""
    model = _meta_model(RMT_T)
    cases = []
    for stage, (layer, info) in enumerate(zip(model.layers, model.feature_info), start=1):
        attn = layer.blocks[0].attn
        side = img_size // info["reduction"]
        stage_args = dict(rel_pos=layer.rel_pos, side=side, heads=attn.num_heads, head_dim=attn.head_dim)
        if op == "rotary_embedding":
            make = functools.partial(_rotary_call, **stage_args)
        elif attn.decomposed == (op == "axial_decay_attention"):
            make = functools.partial(_decay_call, **stage_args, axial=attn.decomposed)
        else:
            continue
        shape = f"{side}x{side}, {attn.num_heads} heads, head dim {attn.head_dim}"
        cases.append(Case(op, RMT_T, stage, img_size, shape, make))
    return cases


def cases_for(op: str, img_size: int) -> list[Case]:
    return swin_cases(img_size) if op == "window_attention" else rmt_cases(img_size, op)


def largest_stride() -> int:
    """The deepest stage's stride over both models: input sizes must be multiples of it."""
    return max(info["reduction"] for name in (SWIN_T, RMT_T) for info in _meta_model(name).feature_info)


def check_sizes(parser: argparse.ArgumentParser, sizes: list[int]) -> None:
    """``parser.error`` unless every input size is a multiple of the deepest stage's stride."""
    stride = largest_stride()
    bad_sizes = [s for s in sizes if s < stride or s % stride]
    if bad_sizes:
        bad = " ".join(map(str, bad_sizes))
        parser.error(f"--sizes {bad}: sizes must be multiples of {stride}, the last stages' stride")


class OpRunner(benchmark.Runner):
    """``benchmark.Runner``'s timing and peak-memory accounting around one op call instead of a model step."""

    def __init__(self, call: OpCall, backend: str, mode: str, device: str):
        # Runner.__init__ builds a model and its batch; only the step protocol (args.device, step, times) is shared.
        self.args = argparse.Namespace(device=device)
        self.call = call
        self.backend = backend
        self.backward = mode == "fwd+bwd"
        self.times: list[float] = []

    def step(self):
        with self._context(), torch.set_grad_enabled(self.backward):
            fn = self.call.authors if self.backend == AUTHORS else self.call.fn
            out = fn(*self.call.args)
        if self.backward:
            out.backward(self.call.grad_output)
            for t in self.call.trainable:
                t.grad = None

    def _context(self):
        """The forced vitzoo backend, or for the authors' path autocast to a 16-bit dtype (their AMP)."""
        from vitzoo.ops import attention_backend

        if self.backend != AUTHORS:
            return attention_backend(self.backend)
        dtype = self.call.args[0].dtype
        return torch.autocast(self.args.device, dtype=dtype, enabled=dtype != torch.float32)


def unmeasured_reasons(call: OpCall, op: str, device: str) -> dict[str, Optional[str]]:
    """Backend -> None if it will be timed here, else why not (the dispatcher's reason, or CPU_NOTE)."""
    from vitzoo.ops import available_backends

    reasons = {
        backend: reason and f"unavailable: {reason}"
        for backend, reason in available_backends(op, device, *call.args).items()
    }
    if device == "cpu":
        reasons["triton"] = CPU_NOTE  # whether or not the interpreter is on
    reasons[AUTHORS] = None  # plain torch ops: runs wherever torch does
    return reasons


def measure_case(case: Case, args, device_name: str, peak_tb_s: Optional[float]) -> list[Result]:
    call = case.make(args.batch, torch.device(args.device), DTYPES[args.dtype])
    reasons = unmeasured_reasons(call, case.op, args.device)
    results = []
    for mode in MODES:
        rows = {
            b: Result(case.op, case.model, case.stage, case.img_size, case.shape, mode, b, device_name, args.dtype,
                      args.batch, reasons[b] or MEASURED)
            for b in row_backends()
        }
        runners = {b: OpRunner(call, b, mode, args.device) for b in row_backends() if reasons[b] is None}
        for b, runner in list(runners.items()):
            try:
                for _ in range(args.warmup):
                    runner.step()
            except torch.OutOfMemoryError:  # e.g. a materialised mask at 1024x1024: the others still run
                del runners[b]
                torch.cuda.empty_cache()
                rows[b].status = f"out of memory at batch {args.batch}"
        for _ in range(args.iters):  # interleaved so every backend sees the same machine state
            for runner in runners.values():
                runner.timed_step()
        peaks = {b: runner.peak_memory_mb() for b, runner in runners.items()}
        for b, runner in runners.items():
            row = rows[b]
            row.ms_median = statistics.median(runner.times) * 1e3
            row.peak_mem_mb = peaks[b]
            row.gb_moved = call.gb_moved(runner.backward)
            row.gb_per_s = row.gb_moved / (row.ms_median / 1e3)
            if peak_tb_s:
                row.roofline_pct = 100 * row.gb_per_s / (peak_tb_s * 1e3)
        for reference, ratios in ((rows["torch"], ("speedup_vs_torch", "mem_vs_torch")),
                                  (rows[AUTHORS], ("speedup_vs_authors", "mem_vs_authors"))):
            if reference.status == MEASURED:
                for row in rows.values():
                    setattr(row, ratios[0], reference.ms_median / row.ms_median)
                    setattr(row, ratios[1], row.peak_mem_mb / max(reference.peak_mem_mb, 1e-9))
        results.extend(rows.values())
    return results


def row_backends() -> tuple[str, ...]:
    """The rows of every case: vitzoo's backends, then the authors' path."""
    from vitzoo.ops import BACKENDS

    return BACKENDS + (AUTHORS,)


def describe_setup(args) -> tuple[str, Optional[float]]:
    """The run's first report line, and the device's peak HBM bandwidth (TB/s) if known."""
    threads = torch.get_num_threads()
    what = f"dtype {args.dtype}, batch {args.batch}, timed iterations {args.iters}, CPU threads {threads}"
    if args.device == "cpu":
        where = "CPU only (torch sees no CUDA device)" if not torch.cuda.is_available() else "CPU (--device cpu)"
        return f"{where}: timing the torch backend and the authors' paths only, {what}; {CPU_NOTE}", None
    name = torch.cuda.get_device_name()
    peak = PEAK_HBM_TB_S.get(name)
    roofline = f"peak HBM {peak} TB/s" if peak else f"no known peak bandwidth for {name!r}: no roofline %"
    return f"{name}: {what}; {roofline}", peak


def run(args) -> list[Result]:
    if args.threads:
        torch.set_num_threads(args.threads)
    setup, peak_tb_s = describe_setup(args)
    print(setup)
    device_name = torch.cuda.get_device_name() if args.device == "cuda" else "cpu"
    start = time.perf_counter()
    results = []
    for size in args.sizes:
        for op in args.ops:
            for case in cases_for(op, size):
                if time.perf_counter() - start > args.time_limit:
                    results.extend(skipped(case, args, device_name))
                else:
                    results.extend(measure_case(case, args, device_name, peak_tb_s))
    return results


def skipped(case: Case, args, device_name: str) -> list[Result]:
    status = f"skipped: the {args.time_limit:g} s time limit was reached"
    return [
        Result(case.op, case.model, case.stage, case.img_size, case.shape, mode, b, device_name, args.dtype,
               args.batch, status)
        for mode in MODES
        for b in row_backends()
    ]


def _fmt(value: float, spec: str) -> str:
    return "-" if math.isnan(value) else format(value, spec)


def print_report(results: list[Result]) -> None:
    """The measured rows as a table, then each distinct reason a backend was not measured."""
    columns = (
        ("op", lambda r: r.op), ("stage", lambda r: str(r.stage)), ("img", lambda r: str(r.img_size)),
        ("shape", lambda r: r.shape), ("mode", lambda r: r.mode), ("backend", lambda r: r.backend),
        ("ms", lambda r: _fmt(r.ms_median, ".3f")), ("peak MB", lambda r: _fmt(r.peak_mem_mb, ".1f")),
        ("GB/s", lambda r: _fmt(r.gb_per_s, ".1f")), ("roofline %", lambda r: _fmt(r.roofline_pct, ".0f")),
        ("x faster than torch", lambda r: _fmt(r.speedup_vs_torch, ".2f")),
        ("memory vs torch", lambda r: _fmt(r.mem_vs_torch, ".2f")),
        ("x faster than authors", lambda r: _fmt(r.speedup_vs_authors, ".2f")),
        ("memory vs authors", lambda r: _fmt(r.mem_vs_authors, ".2f")),
    )
    measured = [[cell(r) for _, cell in columns] for r in results if r.status == MEASURED]
    benchmark.print_columns([title for title, _ in columns], measured)
    not_measured = dict.fromkeys((r.op, r.backend, r.status) for r in results if r.status != MEASURED)
    if not_measured:
        print("\nnot measured:")
        for op, backend, status in not_measured:
            print(f"  {op} / {backend}: {status}")


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ops", nargs="+", choices=OPS, default=list(OPS), help="ops to measure (default: all)")
    p.add_argument("--sizes", nargs="+", type=int, default=[224, 1024], help="square input sizes (default: 224 1024)")
    p.add_argument("--device", choices=("cuda", "cpu"), default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--dtype", choices=tuple(DTYPES), default=None, help="default: bf16 on CUDA, fp32 on CPU")
    p.add_argument("--batch", type=int, default=None, help="default: 32 on CUDA, 1 on CPU")
    p.add_argument("--iters", type=int, default=None, help="timed iterations per backend (default: 20 CUDA, 3 CPU)")
    p.add_argument(
        "--warmup", type=int, default=1,
        help="untimed steps per backend first, at least 1: Triton compiles there, and a backend that runs out of "
        "memory there is reported as such",
    )
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    p.add_argument(
        "--time-limit", type=float, default=None,
        help="seconds after which cases not yet started are skipped (default: none on CUDA, 120 on CPU)",
    )
    p.add_argument("--csv", type=Path, default=None, help="append every row (measured or not) to this CSV file")
    args = p.parse_args(argv)
    cuda = args.device == "cuda"
    if cuda and not torch.cuda.is_available():
        p.error("--device cuda asked for, but torch sees no CUDA device")
    defaults = dict(dtype="bf16", batch=32, iters=20, time_limit=math.inf) if cuda else dict(
        dtype="fp32", batch=1, iters=3, time_limit=120.0
    )
    for name, value in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    check_sizes(p, args.sizes)
    if min(args.batch, args.iters, args.warmup) < 1 or args.time_limit <= 0:
        p.error("--batch, --iters and --warmup must be >= 1, --time-limit > 0")
    return args


def main(argv=None) -> list[Result]:
    args = parse_args(argv)
    results = run(args)
    print_report(results)
    if args.csv:
        benchmark.write_csv(results, args.csv)
        print(f"results appended to {args.csv}")
    return results


if __name__ == "__main__":
    main()
