#!/usr/bin/env python
"""Compile vitzoo's Triton kernels for NVIDIA GPUs on a machine without one, and report what each costs a GPU.

    python tools/compile_kernels.py                                   # sm_90 and sm_80, every case below
    python tools/compile_kernels.py --arch 90 --dtypes bf16 --ops window_attention --cases models
    python tools/compile_kernels.py --csv kernels_sm90.csv            # also write every row

Triton's CPU interpreter (how the tests run the kernels) checks their numbers, not whether they compile for a
GPU, how long that takes, or whether a program's tiles fit the GPU's registers.  This tool answers those
with Triton's ahead-of-time path: a stand-in Triton driver names the target GPU (no CUDA device or driver is
needed), and each launch of a ``@triton.jit`` kernel becomes a compile, in Triton's warmup mode, of exactly
the specialization a real launch would compile.  The ops run through their registered ``triton``
implementations on CPU tensors, so block sizes, warps and compile-time constants are the ones a GPU run picks;
nothing is computed (outputs stay uninitialised).

Per kernel it reports registers per thread and stack bytes per thread (``cuobjdump -res-usage`` on the
cubin; both ship with Triton), Triton's shared memory per program, warps, how many warps fit on one SM (the
lower of the register, shared-memory, warp and program limits of the architecture) and the compile time
(a fresh Triton cache is used, so it is what a user's first call pays).  In Triton kernels the stack holds
only spilled registers: stack > 0 means every access to those values goes to local memory.

Cases (``--cases``):
``models``  the shapes ``tools/benchmark_kernels.py`` times: every Swin-T stage's shifted block (window
            attention) and every RMT-T stage (axial or full decay attention, the rotary embedding of q or k),
            at ``--sizes`` and ``--batch``.
``matrix``  window attention at windows 7, 8, 12 and 16 with head dims 32, 64 and 128 (a map with pad tokens
            and a shift), both decay ops at head dims 16, 32, 64 and 128, the rotary embedding at head dims
            16-128 (48: padded lanes).

Exit status 1 when a kernel does not compile, spills registers (unless ``--allow-spills``), or asks for more
shared memory than the architecture gives one program; shapes an op's ``supports`` check refuses on a CUDA
device are listed as refused, not compiled.
"""
from __future__ import annotations

import argparse
import contextlib
import csv
import dataclasses
import functools
import math
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Optional

import torch

import benchmark
import benchmark_kernels

ROTARY = "rotary_embedding"
OPS = benchmark_kernels.OPS
DTYPES = benchmark_kernels.DTYPES
CASE_SETS = ("models", "matrix")
MATRIX_WINDOWS = (7, 8, 12, 16)
MATRIX_WINDOW_HEAD_DIMS = (32, 64, 128)
MATRIX_DECAY_HEAD_DIMS = (16, 32, 64, 128)
MATRIX_ROTARY_HEAD_DIMS = (16, 32, 48, 64, 128)
MAX_REGISTERS = 255  # per thread, every architecture since sm_50


@dataclass(frozen=True)
class SmLimits:
    """Per-SM resources of an architecture (CUDA C programming guide, compute capabilities table)."""

    max_warps: int
    max_programs: int
    shared_per_sm: int  # bytes
    shared_per_program: int  # bytes, the most one program (thread block) may use
    registers: int = 65536
    register_unit: int = 256  # registers are given to a warp in multiples of this
    reserved_shared: int = 1024  # the driver keeps this much of each program's shared memory


ARCHS = {
    80: SmLimits(max_warps=64, max_programs=32, shared_per_sm=167936, shared_per_program=166912),  # A100
    86: SmLimits(max_warps=48, max_programs=16, shared_per_sm=102400, shared_per_program=101376),  # A10, RTX 30
    89: SmLimits(max_warps=48, max_programs=24, shared_per_sm=102400, shared_per_program=101376),  # L4, RTX 40
    90: SmLimits(max_warps=64, max_programs=32, shared_per_sm=233472, shared_per_program=232448),  # H100, H200
}


@dataclass
class Row:
    op: str
    case: str
    dtype: str
    arch: int
    kernel: str
    status: str  # "ok", "spills", or why it did not compile / was not compiled
    num_warps: int = 0
    registers: int = 0
    stack_bytes: int = 0
    shared_bytes: int = 0
    warps_per_sm: int = 0
    occupancy_pct: float = math.nan
    compile_s: float = math.nan


@dataclass(frozen=True)
class CompileCase:
    op: str
    description: str
    run: Callable[[torch.dtype], None]  # calls the op's triton implementation, forward and backward


# ---------------------------------------------------------------------------------------------------------
# Compiling without a GPU


class _TargetOnlyDriver:
    """What Triton's JIT asks of its driver before a launch: the target, and a device and stream id.

    The device id is the architecture number, so kernels compiled for different targets do not share
    Triton's in-process cache (it is keyed by device).
    """

    def __init__(self, arch: int):
        from triton.backends.compiler import GPUTarget

        self.target = GPUTarget("cuda", arch, 32)

    def get_current_target(self):
        return self.target

    def get_current_device(self) -> int:
        return self.target.arch

    def get_current_stream(self, device=None) -> int:
        return 0


@contextlib.contextmanager
def compile_only(arch: int) -> Iterator[list]:
    """Inside the block, kernel launches compile for ``arch`` and launch nothing; yields the compiled kernels.

    Each entry is (kernel name, Triton CompiledKernel, seconds the launch call took).
    """
    from triton.runtime import driver
    from triton.runtime.jit import JITFunction

    compiled: list = []
    launch = JITFunction.run

    def compile_instead(self, *args, grid, warmup, **kwargs):
        start = time.perf_counter()
        kernel = launch(self, *args, grid=grid, warmup=True, **kwargs)
        compiled.append((self.fn.__name__, kernel, time.perf_counter() - start))
        return kernel

    # reset_active() would build the default driver, which needs a CUDA driver: put back what was there
    previous = driver._active
    driver.set_active(_TargetOnlyDriver(arch))
    JITFunction.run = compile_instead
    try:
        yield compiled
    finally:
        JITFunction.run = launch
        driver.set_active(previous)


def _cuobjdump() -> Path:
    import triton

    tool = Path(triton.__file__).parent / "backends" / "nvidia" / "bin" / "cuobjdump"
    if not tool.is_file():
        raise SystemExit(f"{tool} is missing: this Triton has no NVIDIA backend tools (reinstall triton)")
    return tool


def resource_usage(cubin: bytes) -> tuple[int, int]:
    """(registers per thread, stack bytes per thread) of a one-kernel cubin."""
    with tempfile.NamedTemporaryFile(suffix=".cubin") as f:
        f.write(cubin)
        f.flush()
        report = subprocess.run([str(_cuobjdump()), "-res-usage", f.name], capture_output=True, text=True, check=True)
    match = re.search(r"REG:(\d+) STACK:(\d+)", report.stdout)
    if match is None:
        raise RuntimeError(f"no resource usage in cuobjdump's report:\n{report.stdout}{report.stderr}")
    return int(match.group(1)), int(match.group(2))


def resident_warps(limits: SmLimits, registers: int, num_warps: int, shared_bytes: int) -> int:
    """Warps of this kernel that fit on one SM at once."""
    warp_registers = -(-registers * 32 // limits.register_unit) * limits.register_unit
    by_registers = (limits.registers // warp_registers) // num_warps
    by_shared = limits.shared_per_sm // (shared_bytes + limits.reserved_shared)
    programs = min(by_registers, by_shared, limits.max_warps // num_warps, limits.max_programs)
    return programs * num_warps


def describe(arch: int, op: str, case: str, dtype: str, name: str, kernel, seconds: float) -> Row:
    limits = ARCHS[arch]
    registers, stack = resource_usage(kernel.asm["cubin"])
    warps, shared = kernel.metadata.num_warps, kernel.metadata.shared
    row = Row(op, case, dtype, arch, name, "ok", warps, registers, stack, shared, compile_s=seconds)
    if shared > limits.shared_per_program:
        row.status = f"needs {shared} B of shared memory, sm_{arch} gives a program {limits.shared_per_program} B"
        return row
    row.warps_per_sm = resident_warps(limits, registers, warps, shared)
    row.occupancy_pct = 100 * row.warps_per_sm / limits.max_warps
    if stack:
        row.status = "spills"
    return row


class _CompileTimeout(Exception):
    pass


@contextlib.contextmanager
def time_limit(seconds: int) -> Iterator[None]:
    """Raise _CompileTimeout after ``seconds`` (checked when control is back in Python, e.g. after ptxas)."""

    def expire(signum, frame):
        raise _CompileTimeout(f"compiling took longer than {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def compile_case(case: CompileCase, dtype_name: str, arch: int, seen: set, timeout: int) -> list[Row]:
    """Rows of the kernels one case compiles; a kernel compiled before (same binary) is reported once."""
    dtype = DTYPES[dtype_name]
    try:
        with time_limit(timeout), compile_only(arch) as compiled:
            case.run(dtype)
    except _Refused as refusal:
        return [Row(case.op, case.description, dtype_name, arch, "-", f"refused: {refusal}")]
    except Exception as e:  # a compile error of any kind is this tool's finding
        message = " ".join(f"{type(e).__name__}: {e}".split())[:300]
        return [Row(case.op, case.description, dtype_name, arch, "-", f"compile failed: {message}")]
    rows = []
    for name, kernel, seconds in compiled:
        if kernel.metadata.hash in seen:
            continue
        seen.add(kernel.metadata.hash)
        rows.append(describe(arch, case.op, case.description, dtype_name, name, kernel, seconds))
    return rows


# ---------------------------------------------------------------------------------------------------------
# Cases


class _Refused(Exception):
    """The op's supports check refuses these inputs on a CUDA device (not a compile failure)."""


def _triton_impl(op: str) -> Callable:
    from vitzoo.ops import _dispatch

    return _dispatch._REGISTRY[op]["triton"].fn


def _cuda_refusal(op: str, args: tuple) -> Optional[str]:
    """Why the triton backend refuses ``args`` on a CUDA device, or None (its supports check refuses all
    CPU tensors when the interpreter is off, so the shape and dtype rules are asked directly)."""
    if op == "window_attention":
        from vitzoo.ops import _triton_window

        x, heads, window = args[0], args[4], args[5]
        return _triton_window.unsupported_reason(x.dtype, window, x.shape[-1] // heads)
    if op == ROTARY:
        return None  # every float dtype of the cases runs on CUDA
    from vitzoo.ops.decay_attention import kernel_refusal

    q, v, decay = args[0], args[2], args[3]
    return kernel_refusal(q, v, decay, "cuda")


def _run_call(op: str, make: Callable[[torch.dtype], "benchmark_kernels.OpCall"]) -> Callable[[torch.dtype], None]:
    """A case runner: build the call, check the kernels take it, run its forward and backward."""

    def run(dtype: torch.dtype) -> None:
        call = make(dtype)
        refusal = _cuda_refusal(op, call.args)
        if refusal:
            raise _Refused(refusal)
        # the implementation, called directly as the dispatcher calls it on a GPU
        out = _triton_impl(op)(*call.args)
        out.backward(call.grad_output)

    return run


def _small_rotary_call(dtype, *, head_dim) -> "benchmark_kernels.OpCall":
    """A 5x6 map with 2 heads and float32 sin/cos tables, as RMT passes them."""
    x = torch.randn(1, 5, 6, 2, head_dim).to(dtype).requires_grad_()
    table = torch.randn(5, 6, 1, head_dim)
    return benchmark_kernels.OpCall(fn=None, authors=None, args=(x, table, table), reads=(x, table, table),
                                    trainable=(x,), grad_output=torch.randn_like(x))


def model_cases(ops, sizes, batch) -> list[CompileCase]:
    cpu = torch.device("cpu")
    cases = []
    for size in sizes:
        for op in ops:
            for case in benchmark_kernels.cases_for(op, size):
                description = f"{case.model} stage {case.stage} at {size}: {case.shape}, batch {batch}"
                make = lambda dtype, case=case: case.make(batch, cpu, dtype)  # noqa: E731
                cases.append(CompileCase(op, description, _run_call(op, make)))
    return cases


def _small_decay_call(dtype, *, head_dim, axial) -> "benchmark_kernels.OpCall":
    """A 5x6 map with 2 heads: the kernels' blocks see ragged token and head-dim edges."""
    side_h, side_w, heads = 5, 6, 2
    shape = (1, side_h, side_w, heads, head_dim) if axial else (1, heads, side_h * side_w, head_dim)
    q, k, v = (torch.randn(shape).to(dtype).requires_grad_() for _ in range(3))
    decay = torch.full((heads,), -0.5)
    args = (q, k, v, decay, None) if axial else (q, k, v, decay, (side_h, side_w), None)
    return benchmark_kernels.OpCall(fn=None, authors=None, args=args, reads=(q, k, v), trainable=(q, k, v),
                                    grad_output=torch.randn_like(v))


def matrix_cases(ops) -> list[CompileCase]:
    cases = []
    if "window_attention" in ops:
        for window in MATRIX_WINDOWS:
            for head_dim in MATRIX_WINDOW_HEAD_DIMS:
                side, shift = 2 * window + 1, window // 2
                make = lambda dtype, w=window, d=head_dim, s=side, sh=shift: benchmark_kernels._window_call(  # noqa
                    1, torch.device("cpu"), dtype, side=s, dim=2 * d, heads=2, window=w, shift=sh,
                    table_rows=(2 * w - 1) ** 2, qkv_bias=True,
                )
                description = f"window {window}, head dim {head_dim}, {side}x{side} map, shift {shift}"
                cases.append(CompileCase("window_attention", description, _run_call("window_attention", make)))
    for op in ("decay_attention", "axial_decay_attention"):
        if op not in ops:
            continue
        for head_dim in MATRIX_DECAY_HEAD_DIMS:
            make = functools.partial(_small_decay_call, head_dim=head_dim, axial=op.startswith("axial"))
            cases.append(CompileCase(op, f"head dim {head_dim}, 5x6 map", _run_call(op, make)))
    if ROTARY in ops:
        for head_dim in MATRIX_ROTARY_HEAD_DIMS:
            make = functools.partial(_small_rotary_call, head_dim=head_dim)
            cases.append(CompileCase(ROTARY, f"head dim {head_dim}, 5x6 map", _run_call(ROTARY, make)))
    return cases


# ---------------------------------------------------------------------------------------------------------
# Report


def _fmt(value: float, spec: str) -> str:
    return "-" if isinstance(value, float) and math.isnan(value) else format(value, spec)


COLUMNS = (
    ("arch", lambda r: f"sm_{r.arch}"), ("dtype", lambda r: r.dtype), ("op", lambda r: r.op),
    ("case", lambda r: r.case), ("kernel", lambda r: r.kernel), ("warps", lambda r: str(r.num_warps)),
    ("regs", lambda r: str(r.registers)), ("stack B", lambda r: str(r.stack_bytes)),
    ("shared KB", lambda r: _fmt(r.shared_bytes / 1024, ".1f")),
    ("warps/SM", lambda r: str(r.warps_per_sm)), ("occupancy %", lambda r: _fmt(r.occupancy_pct, ".0f")),
    ("compile s", lambda r: _fmt(r.compile_s, ".1f")), ("status", lambda r: r.status),
)


def print_report(rows: list[Row]) -> None:
    benchmark.print_columns([title for title, _ in COLUMNS], [[cell(r) for _, cell in COLUMNS] for r in rows])


def failures(rows: list[Row], allow_spills: bool) -> list[Row]:
    return [r for r in rows if r.status != "ok" and not r.status.startswith("refused")
            and not (allow_spills and r.status == "spills")]


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--arch", nargs="+", type=int, choices=sorted(ARCHS), default=[90, 80],
                   help="CUDA compute capabilities to compile for, e.g. 90 (H100/H200), 80 (A100); default: 90 80")
    p.add_argument("--ops", nargs="+", choices=OPS, default=list(OPS))
    p.add_argument("--dtypes", nargs="+", choices=tuple(DTYPES), default=list(DTYPES))
    p.add_argument("--cases", nargs="+", choices=CASE_SETS, default=list(CASE_SETS))
    p.add_argument("--sizes", nargs="+", type=int, default=[224, 1024],
                   help="input sizes of the model cases (default: 224 1024)")
    p.add_argument("--batch", type=int, default=1,
                   help="batch of the model cases (default 1; launch constants that depend on the number of "
                        "windows change above 4096 and 16384 windows)")
    p.add_argument("--compile-timeout", type=int, default=120,
                   help="seconds one case may take to compile before it counts as failed (default: 120)")
    p.add_argument("--allow-spills", action="store_true", help="report spills without failing")
    p.add_argument("--csv", type=Path, default=None, help="also write every row to this CSV file")
    args = p.parse_args(argv)
    benchmark_kernels.check_sizes(p, args.sizes)
    if args.batch < 1 or args.compile_timeout < 1:
        p.error("--batch and --compile-timeout must be >= 1")
    return args


def use_compilable_kernels() -> None:
    """Have vitzoo's kernels decorated by the real triton.jit (interpreted kernels cannot be compiled).

    triton.jit reads TRITON_INTERPRET when vitzoo's kernel modules are imported, so it must be gone first.
    """
    os.environ.pop("TRITON_INTERPRET", None)
    from vitzoo.ops import _triton_decay, _triton_rotary, _triton_window

    if _triton_decay.INTERPRETED or _triton_window.INTERPRETED or _triton_rotary.INTERPRETED:
        raise SystemExit("vitzoo's kernels were imported under TRITON_INTERPRET=1 in this process: run "
                         "tools/compile_kernels.py in a fresh process without TRITON_INTERPRET")


def main(argv=None) -> int:
    """Compile, report; 1 if a kernel failed (see the module docstring), else 0."""
    use_compilable_kernels()
    args = parse_args(argv)
    cases = []
    if "models" in args.cases:
        cases += model_cases(args.ops, args.sizes, args.batch)
    if "matrix" in args.cases:
        cases += matrix_cases(args.ops)
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as cache:
        # a fresh cache: compile times are what a first launch pays, and nothing is left in ~/.triton
        os.environ["TRITON_CACHE_DIR"] = cache
        for arch in args.arch:
            seen: set = set()
            for dtype in args.dtypes:
                for case in cases:
                    rows += compile_case(case, dtype, arch, seen, args.compile_timeout)
    print_report(rows)
    if args.csv:
        with args.csv.open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=[field.name for field in dataclasses.fields(Row)])
            writer.writeheader()
            writer.writerows(dataclasses.asdict(r) for r in rows)
        print(f"rows written to {args.csv}")
    bad = failures(rows, args.allow_spills)
    if bad:
        print(f"\n{len(bad)} kernel(s) failed: " + "; ".join(f"{r.kernel} ({r.case}, {r.dtype}, sm_{r.arch}): "
                                                             f"{r.status}" for r in bad))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
