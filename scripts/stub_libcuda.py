"""Generate and build a stand-in for the NVIDIA driver library, libcuda.so.1, for machines
without a GPU: every function of the driver API that the installed `cuda.h` (and
`cudaProfiler.h`, whose cuProfilerStart/Stop libcuda also exports and PyCUDA calls)
declares returns CUDA_ERROR_NO_DEVICE (100), as the real library does on a machine with
a driver but no GPU. Only cuGetErrorName/cuGetErrorString answer (with the names of
cuda.h's CUresult enum): they describe an error rather than use a device.

    python scripts/stub_libcuda.py OUTDIR [--fake-gpu "NAME,MAJOR.MINOR,BYTES"]

writes OUTDIR/libcuda_stub.c and OUTDIR/libcuda.so.1 (soname libcuda.so.1, no
unversioned libcuda.so link: that is the case scripts/pycuda_build.py has to handle).

The C is generated from the *preprocessed* cuda.h (`gcc -E`), not from a hand-written
list: cuda.h maps names onto versioned symbols (`#define cuMemAlloc cuMemAlloc_v2`), and
only after preprocessing do we see the symbol names a program built against this header
will ask the dynamic loader for. PyCUDA's _driver.so then links and imports against the
stub exactly as against the real driver.

--fake-gpu makes a few queries answer as one GPU would (cuInit, cuDriverGetVersion,
cuDeviceGetCount, cuDeviceGet, cuDeviceGetName, cuDeviceGetAttribute for the compute
capability, cuDeviceTotalMem): tests check that tinygrad_cu reads name, compute
capability and memory through the real ABI. Everything else still returns "no device".
"""
import argparse
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cuda_toolkit  # noqa: E402

CUDA_ERROR_NO_DEVICE = 100
DECLARATION = re.compile(r"\bCUresult\s+(cu\w+)\s*\(([^;{}]*?)\)\s*;")
COMPUTE_CAPABILITY_MAJOR, COMPUTE_CAPABILITY_MINOR = 75, 76   # CUdevice_attribute values


HEADERS = ("cuda.h", "cudaProfiler.h")        # the driver API that libcuda.so.1 exports


def preprocess(include_dir, cc="gcc"):
    """The driver API headers after the preprocessor, as C: typedefs, enums, declarations."""
    source = "".join(f"#include <{h}>\n" for h in HEADERS if os.path.exists(os.path.join(include_dir, h)))
    return subprocess.run([cc, "-E", "-P", "-x", "c", "-I", include_dir, "-"], input=source,
                          check=True, capture_output=True, text=True).stdout


def declarations(preprocessed):
    """{symbol: parameter list} for every driver function, in header order."""
    found = {}
    for name, params in DECLARATION.findall(preprocessed):
        found.setdefault(name, " ".join(params.split()))
    return found


def error_codes(preprocessed):
    """{value: name} of CUresult (cudaError_enum), from the preprocessed header."""
    enum = re.search(r"enum\s+cudaError_enum\s*\{(.*?)\}", preprocessed, re.S)
    return {int(v): n for n, v in re.findall(r"(CUDA_\w+)\s*=\s*(\d+)", enum.group(1))} if enum else {}


def error_string_bodies(codes):
    """cuGetErrorName and cuGetErrorString answer, as the real driver does without a GPU:
    PyCUDA formats every failure with cuGetErrorString and reads the pointer it returns
    whatever the return code, so a stub that left it unset would crash the first error."""
    cases = "".join(f' case {v}: *pStr = "{n}"; return CUDA_SUCCESS;' for v, n in sorted(codes.items()))
    unknown = " default: *pStr = 0; return CUDA_ERROR_INVALID_VALUE;"
    return {"cuGetErrorName": f"switch ((int)error) {{{cases}{unknown} }}",
            "cuGetErrorString": ('if ((int)error == 100) { *pStr = "no CUDA-capable device is detected";'
                                 ' return CUDA_SUCCESS; } return cuGetErrorName(error, pStr);')}


def fake_gpu_bodies(spec):
    """C bodies for the queries a one-GPU machine answers (see --fake-gpu)."""
    name, cc, total = spec.split(",")
    major, minor = (int(v) for v in cc.split("."))
    return {
        "cuInit": "return CUDA_SUCCESS;",
        "cuDriverGetVersion": "*driverVersion = 13000; return CUDA_SUCCESS;",
        "cuDeviceGetCount": "*count = 1; return CUDA_SUCCESS;",
        "cuDeviceGet": "if (ordinal != 0) return CUDA_ERROR_INVALID_DEVICE; *device = 0; return CUDA_SUCCESS;",
        # no <stdio.h>: the preprocessed header already holds the libc typedefs it would repeat
        "cuDeviceGetName": (f'const char *s = "{name}"; int i = 0;'
                            " for (; s[i] && i < len - 1; ++i) name[i] = s[i]; if (len > 0) name[i] = 0;"
                            " return CUDA_SUCCESS;"),
        "cuDeviceGetAttribute": (f"if (attrib == {COMPUTE_CAPABILITY_MAJOR}) {{ *pi = {major}; return CUDA_SUCCESS; }}"
                                 f" if (attrib == {COMPUTE_CAPABILITY_MINOR}) {{ *pi = {minor}; return CUDA_SUCCESS; }}"
                                 f" return CUDA_ERROR_NO_DEVICE;"),
        "cuDeviceTotalMem_v2": f"*bytes = (size_t){int(total)}ULL; return CUDA_SUCCESS;",
    }


def stub_source(preprocessed, fake_gpu=None):
    decls = declarations(preprocessed)
    for needed in ("cuInit", "cuDeviceGetCount", "cuDeviceTotalMem_v2"):
        if needed not in decls:
            raise RuntimeError(f"stub_libcuda: {needed} not declared in the preprocessed cuda.h "
                               f"({len(decls)} functions found): is this the driver API header?")
    bodies = error_string_bodies(error_codes(preprocessed))
    bodies.update(fake_gpu_bodies(fake_gpu) if fake_gpu else {})
    lines = ["/* Generated by scripts/stub_libcuda.py from the preprocessed cuda.h: a libcuda.so.1",
             " * whose every driver call reports CUDA_ERROR_NO_DEVICE. Not for use with a GPU. */",
             preprocessed, ""]
    for name, params in decls.items():
        body = bodies.get(name, f"return (CUresult){CUDA_ERROR_NO_DEVICE};")
        lines.append(f"__attribute__((visibility(\"default\"))) CUresult {name}({params}) {{ {body} }}")
    return "\n".join(lines) + "\n", len(decls)


def build(outdir, include_dir=None, fake_gpu=None, cc="gcc"):
    """Write OUTDIR/libcuda_stub.c and build OUTDIR/libcuda.so.1; returns (path, count)."""
    if include_dir is None:
        _, include_dir, how = cuda_toolkit.find_cuda_root()
        if include_dir is None:
            raise RuntimeError(f"stub_libcuda: {how}")
    os.makedirs(outdir, exist_ok=True)
    source, count = stub_source(preprocess(include_dir, cc), fake_gpu)
    c_path, so_path = os.path.join(outdir, "libcuda_stub.c"), os.path.join(outdir, "libcuda.so.1")
    with open(c_path, "w") as f:
        f.write(source)
    # -w: the generated definitions shadow the declarations above them (same signature);
    # the header's own deprecation attributes would otherwise warn 400 times.
    subprocess.run([cc, "-shared", "-fPIC", "-O0", "-w", "-Wl,-soname,libcuda.so.1", "-o", so_path, c_path],
                   check=True)
    return so_path, count


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("outdir")
    parser.add_argument("--include-dir", help="folder holding cuda.h (default: found from nvcc)")
    parser.add_argument("--fake-gpu", help='"NAME,MAJOR.MINOR,BYTES": answer as one such GPU')
    args = parser.parse_args()
    path, count = build(args.outdir, args.include_dir, args.fake_gpu)
    print(f"{path}: {count} driver functions, each returning CUDA_ERROR_NO_DEVICE (but the error strings)"
          + (f" except the device queries of --fake-gpu {args.fake_gpu!r}" if args.fake_gpu else ""))


if __name__ == "__main__":
    main()
