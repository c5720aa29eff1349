#!/usr/bin/env bash
# The GPU check: one call on a machine with an NVIDIA GPU, a driver and nvcc, that may
# have no package registry and no PyCUDA. Under 8 minutes (GPU_CHECK_BUDGET_S, 450 s,
# caps every step); prints one table last; logs everything to $OUT.
#
#   1. preflight: nvcc, cuda.h, Python.h, gcc/g++, libcuda.so.1, numpy, the build tools,
#      the carried sdist and wheels (scripts/gpu_preflight.py); names what is missing
#   2. PyCUDA built from the carried sdist, offline (scripts/pycuda_build.py: CUDA_ROOT
#      from the real install, curand off, a libcuda.so link folder, the wheel kept),
#      installed into $WORK/site, which goes on PYTHONPATH with the repository
#   3. fails unless tg.device_status("cuda") says ready (and names the GPU)
#   4. every registry op, the update ops too, on cuda against cpu, TINYGRAD_CU_SYNC=1
#      (each launch synchronised, a CUDA error names its kernel), and
#      TINYGRAD_CU_REQUIRE_CUDA=1, so an unusable cuda fails instead of skipping
#   5. LeNet-5 trained on cuda and on cpu from the same weights: losses equal to 1e-4
#   6. scripts/bench_gpu.py --device cuda: GEMM, LeNet's conv layers, training steps,
#      timed with CUDA events, next to PyTorch when torch is importable
#   7. the table (scripts/gpu_check_summary.py), also in $OUT/summary.md
#
# Prepare, here, where PyPI is reachable (about 3 MiB):
#     bash scripts/gpu_prepare.sh .gpu
# (pip download of PyCUDA's sdist, setuptools, wheel, packaging, pytools, platformdirs,
# typing_extensions, mako, and markupsafe and siphash24 for Python 3.12 and this
# machine's Python; .gpu/ is git-ignored). If an earlier run's $OUT came back with a
# folder pycuda-<version>-cuda<version>-cpython-<version>-<platform>/, copy it into
# .gpu/wheels/ and the build is skipped.
#
# Run with the device tool, carrying .gpu (timeout_s 560):
#     bash scripts/gpu_check.sh
# Back under $OUT: gpu_check.log (everything), summary.md (the table), bench.json, the
# step logs, and the built PyCUDA wheel in its cache-key folder.
set -uo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)
OUT=${OUT:-/tmp/gpu_check}
GPU_DIR=${GPU_DIR:-$REPO/.gpu}
WORK=${WORK:-/tmp/tinygrad_cu_gpu}
PY=${PYTHON:-python3}
BUDGET=${GPU_CHECK_BUDGET_S:-450}
mkdir -p "$OUT" "$WORK"
exec > >(tee -a "$OUT/gpu_check.log") 2>&1
export PYTHONUNBUFFERED=1
START=$(date +%s)
: > "$OUT/checks.tsv"

record() {   # NAME STATUS SECONDS DETAIL
    printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >> "$OUT/checks.tsv"
}

finish() {
    echo
    "$PY" scripts/gpu_check_summary.py "$OUT"
    exit $?
}

# step NAME LOGFILE CAP_SECONDS COMMAND...: run it under the smaller of CAP and what is
# left of the budget, log it, record PASS/FAIL with its last output line.
step() {
    local name=$1 log=$OUT/$2 cap=$3
    shift 3
    local left=$(( BUDGET - ($(date +%s) - START) ))
    local limit=$(( cap < left ? cap : left ))
    if [ "$limit" -lt 15 ]; then
        record "$name" SKIPPED 0 "the ${BUDGET} s budget is spent"
        return 1
    fi
    echo "=== $name (at most ${limit} s): $*"
    local t0=$(date +%s)
    timeout --kill-after=10 "$limit" "$@" 2>&1 | tee "$log"
    local rc=${PIPESTATUS[0]}
    local took=$(( $(date +%s) - t0 ))
    local last
    last=$(grep -v '^\s*$' "$log" | tail -1 | cut -c1-300)
    if [ "$rc" -eq 0 ]; then
        record "$name" PASS "$took" "$last"
    elif [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
        record "$name" FAIL "$took" "timed out after ${limit} s; last: $last"
    else
        record "$name" FAIL "$took" "exit $rc; last: $last"
    fi
    return "$rc"
}

echo "GPU check of $(git -C "$REPO" log --oneline -1 2>/dev/null || echo 'this working tree') on $(uname -n), $(date -u)"
nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap --format=csv 2>&1 | tee "$OUT/nvidia_smi.txt"

step "preflight" preflight.log 60 "$PY" scripts/gpu_preflight.py --sdist-dir "$GPU_DIR" || finish

step "PyCUDA built and installed" pycuda_build.log 300 \
    "$PY" scripts/pycuda_build.py --sdist-dir "$GPU_DIR" --wheel-cache "$GPU_DIR/wheels" \
    --target "$WORK/site" --keep-wheel-in "$OUT" || finish
export PYTHONPATH="$WORK/site:$REPO${PYTHONPATH:+:$PYTHONPATH}"

step "cuda ready" cuda_status.log 90 "$PY" -c '
import tinygrad_cu as tg
ok, why = tg.device_status("cuda")
print(f"cuda: {why}")
raise SystemExit(0 if ok else 1)' || finish

PYTEST=("$PY" -m pytest -q -rs -p no:cacheprovider)
TINYGRAD_CU_SYNC=1 TINYGRAD_CU_REQUIRE_CUDA=1 step "registry ops and update ops on cuda (TINYGRAD_CU_SYNC=1)" \
    ops_cuda.log 170 "${PYTEST[@]}" tests/test_ops_emu.py tests/test_gpu_check.py -k "on_gpu_device_matches_cpu and cuda"

TINYGRAD_CU_REQUIRE_CUDA=1 step "LeNet-5 on cuda: losses equal cpu's to 1e-4" lenet_cuda.log 60 \
    "${PYTEST[@]}" tests/test_gpu_check.py -k "lenet5_training_on_gpu_device and cuda"

step "benchmark (CUDA events)" bench.log 150 "$PY" scripts/bench_gpu.py --device cuda --json "$OUT/bench.json"

finish
