#!/usr/bin/env bash
# The kernels' checks and measurements that need a CUDA GPU, in one go (model_cards/kernels.md reports them).
#
#   bash tools/gpu_checks.sh OUT_DIR [STEP ...]      # steps: check bench224 e2e bench1024 memory (default: all)
#
# check:     tests/test_ops_cuda.py (compiled kernels against float64 math, parity fixtures with Triton forced;
#            the fixtures come from VITZOO_PARITY_DIR), relative errors in OUT_DIR/cuda_tests.xml
# bench224:  tools/benchmark_kernels.py at Swin-T / RMT-T stage shapes at 224, batch 128 (a training batch), bf16:
#            triton, torch and xformers backends and the authors' paths
# e2e:       tools/benchmark.py: a vz Swin-T training step (Triton, then the torch backend) vs timm's Swin-T, batch
#            128, bf16
# bench1024: tools/benchmark_kernels.py at 1024x1024, batch 8, bf16
# memory:    tools/benchmark.py: Swin-T and RMT-T forwards at 1024x1024, Triton vs the torch backend, bf16 and fp32
# Each step has its own time limit and its own log; a failed step does not stop the next one.
set -u
out=${1:?usage: gpu_checks.sh OUT_DIR [STEP ...]}
shift
steps=${*:-check bench224 e2e bench1024 memory}
mkdir -p "$out"
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
py=${PYTHON:-python3}
swin=vz_swin_tiny_patch4_window7_224

step() {  # step NAME SECONDS COMMAND...: run with a time limit, log to OUT_DIR/NAME.log, report its exit status
    local name=$1 limit=$2
    shift 2
    echo "=== $name (limit ${limit}s): $*"
    local start=$SECONDS
    timeout "$limit" "$@" > "$out/$name.log" 2>&1
    local rc=$?
    echo "=== $name: exit $rc after $((SECONDS - start)) s"
    tail -n "${TAIL_LINES:-25}" "$out/$name.log"
}

"$py" -c "import torch, triton, timm; print('torch', torch.__version__, 'triton', triton.__version__, 'timm', \
timm.__version__, torch.cuda.get_device_name() if torch.cuda.is_available() else 'no CUDA device')"
for s in $steps; do
    case $s in
        check) step check 240 "$py" -m pytest -q -p no:cacheprovider tests/test_ops_cuda.py \
            --junitxml="$out/cuda_tests.xml" -o junit_family=xunit1 ;;
        bench224) step bench224 200 "$py" tools/benchmark_kernels.py --sizes 224 --batch 128 --dtype bf16 \
            --csv "$out/kernels.csv" ;;
        e2e)
            step e2e_triton 120 "$py" tools/benchmark.py $swin --compare-to swin_tiny_patch4_window7_224 \
                --attention triton --mode train --batch-size 128 --dtype bfloat16 --iters 20 --warmup 3 \
                --csv "$out/models.csv"
            step e2e_torch 120 "$py" tools/benchmark.py $swin --compare-to swin_tiny_patch4_window7_224 \
                --attention torch --mode train --batch-size 128 --dtype bfloat16 --iters 20 --warmup 3 \
                --csv "$out/models.csv" ;;
        bench1024) step bench1024 260 "$py" tools/benchmark_kernels.py --sizes 1024 --batch 8 --dtype bf16 \
            --csv "$out/kernels.csv" ;;
        memory)
            for dtype in bfloat16 float32; do
                for model in $swin rmt_t; do
                    step "memory_${model}_$dtype" 120 "$py" tools/benchmark.py $model --compare-to $model \
                        --attention triton torch --img-size 1024 --batch-size 8 --dtype $dtype --iters 10 \
                        --no-flops --csv "$out/models.csv"
                done
            done ;;
        *) echo "unknown step $s (steps: check bench224 e2e bench1024 memory)"; exit 2 ;;
    esac
done
