"""tools/compile_kernels.py: vitzoo's Triton kernels compiled for NVIDIA GPUs on this GPU-less machine.

The tool needs the real ``triton.jit`` (the test session runs kernels under the interpreter), so every
compile runs in a subprocess.
"""
import csv
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TOOLS = ROOT / "tools"
sys.path.insert(0, str(TOOLS))

import compile_kernels  # noqa: E402


def run_tool(*args, cwd=ROOT):
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    return subprocess.run([sys.executable, str(TOOLS / "compile_kernels.py"), *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)


def read_rows(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def test_model_stage_kernels_compile_for_h100_without_spills(tmp_path):
    out = tmp_path / "rows.csv"
    result = run_tool("--arch", "90", "--dtypes", "bf16", "--cases", "models", "--sizes", "32", "--csv", str(out))
    assert result.returncode == 0, result.stdout + result.stderr
    rows = read_rows(out)
    # window attention and both decay ops each compile a forward and at least one backward kernel
    for op in set(compile_kernels.OPS) - {compile_kernels.ROTARY}:
        kernels = {r["kernel"] for r in rows if r["op"] == op}
        assert len(kernels) >= 2 and any("fwd" in k for k in kernels) and any("bwd" in k for k in kernels), op
    # the rotary embedding: one kernel, compiled as the forward and as the transposed (backward) rotation
    assert len([r for r in rows if r["op"] == compile_kernels.ROTARY]) >= 2
    for r in rows:
        assert r["status"] == "ok" and r["arch"] == "90" and r["dtype"] == "bf16", r
        assert 0 < int(r["registers"]) <= compile_kernels.MAX_REGISTERS and int(r["stack_bytes"]) == 0, r
        assert int(r["warps_per_sm"]) >= int(r["num_warps"]), r
        # the attention kernels stage their tiles for tl.dot in shared memory; the elementwise rotation needs none
        assert (int(r["shared_bytes"]) > 0) == (r["op"] != compile_kernels.ROTARY), r
    assert "sm_90 | bf16" in result.stdout


# A kernel that cannot compile (a static assertion) and one whose (64, 128) fp32 tile cannot fit the registers
# of one warp (255 per thread), launched through compile_kernels' machinery like the ops are.
PROBE = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, {tools!r})
    import compile_kernels as ck
    import torch, triton, triton.language as tl
    from triton.runtime import driver
    from triton.runtime.jit import JITFunction

    @triton.jit
    def broken(x_ptr):
        tl.static_assert(False, "this kernel does not compile")

    @triton.jit
    def spilling(x_ptr, ROWS: tl.constexpr, COLS: tl.constexpr):
        offs = tl.arange(0, ROWS)[:, None] * COLS + tl.arange(0, COLS)[None, :]
        x = tl.load(x_ptr + offs)
        total = tl.sum(tl.exp(x), axis=1)
        tl.store(x_ptr + offs, x / total[:, None] + tl.sum(x * x, axis=0)[None, :])

    x = torch.zeros(64 * 128)
    run_before = JITFunction.run
    for name, launch in (("broken", lambda dtype: broken[(1,)](x)),
                         ("spilling", lambda dtype: spilling[(1,)](x, ROWS=64, COLS=128, num_warps=1))):
        case = ck.CompileCase("probe", name, launch)
        for row in ck.compile_case(case, "fp32", 90, set(), timeout=300):
            print(name, row.kernel, row.status, row.registers, row.stack_bytes, sep="|")
    assert JITFunction.run is run_before and driver._active is None, "compile_only left its patches behind"
    """
)


def test_compile_failures_and_spills_are_reported(tmp_path):
    script = tmp_path / "probe.py"
    script.write_text(PROBE.format(tools=str(TOOLS)))
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    result = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = dict(line.split("|", 1) for line in result.stdout.splitlines() if "|" in line)
    assert lines["broken"].startswith("-|compile failed:") and "does not compile" in lines["broken"]
    kernel, status, registers, stack = lines["spilling"].split("|")
    assert (kernel, status) == ("spilling", "spills") and int(stack) > 0 and int(registers) > 200


def test_resident_warps_follow_the_architecture_limits():
    h100 = compile_kernels.ARCHS[90]
    # 255 registers x 32 threads round up to 8192 per warp: 8 warps fit in 65536 registers
    assert compile_kernels.resident_warps(h100, 255, 4, 0) == 8
    # 64 registers: 32 warps by registers, capped by the SM's 64 warps and the shared memory
    assert compile_kernels.resident_warps(h100, 64, 4, 0) == 32
    assert compile_kernels.resident_warps(h100, 32, 4, 0) == 64
    assert compile_kernels.resident_warps(h100, 32, 4, 100 * 1024) == 8  # two programs of 101 KB fit in 228 KB


def test_failures_ignore_refusals_and_optionally_spills():
    def row(status):
        return compile_kernels.Row("op", "case", "bf16", 90, "k", status)

    rows = [row("ok"), row("refused: window 20 has more than 256 tokens"), row("spills"), row("compile failed: x")]
    assert [r.status for r in compile_kernels.failures(rows, allow_spills=False)] == ["spills", "compile failed: x"]
    assert [r.status for r in compile_kernels.failures(rows, allow_spills=True)] == ["compile failed: x"]


@pytest.mark.parametrize("args, message", [
    (["--sizes", "100"], "sizes must be multiples of 32"),
    (["--batch", "0"], "--batch and --compile-timeout must be >= 1"),
    (["--arch", "75"], "invalid choice: 75"),
])
def test_bad_arguments_say_what_to_do(args, message, capsys):
    with pytest.raises(SystemExit):
        compile_kernels.parse_args(args)
    assert message in capsys.readouterr().err
