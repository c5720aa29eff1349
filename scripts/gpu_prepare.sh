#!/usr/bin/env bash
# Fill the folder that scripts/gpu_check.sh builds PyCUDA from, on a machine that reaches
# PyPI (the GPU machine may reach no package registry):
#
#   bash scripts/gpu_prepare.sh [DEST=.gpu] [PYTHON_VERSION ...]
#
# DEST gets PyCUDA's sdist (built there against the real driver; no PyCUDA wheel on PyPI
# is built for CUDA 13), the build tools that `pip install --no-build-isolation` needs
# (setuptools, wheel and its packaging: without `wheel` pip fails with "invalid command
# 'bdist_wheel'"), and PyCUDA's run-time dependencies. Two of those (markupsafe,
# siphash24) are compiled: their wheels are fetched for each PYTHON_VERSION given
# (default: 3.12, the GPU machine's python3, and this machine's own). About 3 MiB.
# tests/test_gpu_check.py calls this too, for CI's cache.
#
# .gpu/ is git-ignored (echo /.gpu/ >> .git/info/exclude); name it in the device tool's
# `carry`. Versions are pinned here, in one place.
set -euo pipefail
DEST=${1:-.gpu}
shift || true
VERSIONS=("$@")
HERE_PY=$(python3 -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
[ ${#VERSIONS[@]} -gt 0 ] || VERSIONS=(3.12 "$HERE_PY")

PYCUDA=pycuda==2026.1
PURE=(setuptools==84.2.1 wheel==0.48.0 packaging==26.4 pytools==2026.1.1 platformdirs==4.14.9
      typing_extensions==4.16.0 mako==1.4.3)
COMPILED=(markupsafe==3.0.4 siphash24==1.9)
PLATFORMS=(--platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64)

mkdir -p "$DEST"
pip() { python3 -m pip --disable-pip-version-check -q "$@"; }
ls "$DEST"/pycuda-*.tar.gz >/dev/null 2>&1 \
    || pip download --no-deps --no-binary pycuda -d "$DEST" "$PYCUDA"
pip download --no-deps --only-binary :all: -d "$DEST" "${PURE[@]}"
for v in $(printf '%s\n' "${VERSIONS[@]}" | sort -u); do
    pip download --no-deps --only-binary :all: --python-version "$v" --implementation cp \
        "${PLATFORMS[@]}" -d "$DEST" "${COMPILED[@]}"
done
ls -la "$DEST"
