#!/usr/bin/env bash
# One prepared run on a machine with an NVIDIA GPU (the workplace's device tool):
# build PyCUDA from a carried sdist, then run every op on `cuda` against `cpu`, the
# end-to-end cpu/emu/cuda checks, and the kernel benchmark, writing logs to $OUT.
#
# Prepare here (network to PyPI), then carry `.gpu/` (listed in .git/info/exclude):
#   mkdir -p .gpu && pip download --no-deps --no-binary pycuda -d .gpu pycuda \
#     && pip download --no-deps -d .gpu pytools platformdirs mako markupsafe typing_extensions siphash24
# On the device:  bash scripts/gpu_check.sh
set -uo pipefail
OUT=${OUT:-/tmp/gpu_check}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
python3 -m pip install -q --no-index --find-links .gpu pytools platformdirs mako markupsafe typing_extensions siphash24 2>&1 | tail -2
python3 -m pip install -q --no-build-isolation --no-index --find-links .gpu .gpu/pycuda-*.tar.gz 2>&1 | tail -5
python3 -m pip install -q --no-build-isolation --no-deps -e . 2>&1 | tail -2
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv | tee "$OUT/gpu.txt"
python3 -c "import tinygrad_cu as tg; print(tg.devices())" | tee -a "$OUT/gpu.txt"
python3 -m pytest -q -rs tests/test_ops_emu.py -k cuda 2>&1 | tee "$OUT/ops_cuda.log" | tail -15
python3 scripts/bench_kernels_emu.py --device cuda 2>&1 | tee "$OUT/bench_cuda.log" | tail -20
