"""What nvcc says about a .cu file: errors, warnings, and ptxas's resource report.

The emulator compiles with g++, which accepts things a GPU compiler rejects; the nvcc
check (tests/test_nvcc.py, scripts/ptxas_report.py) compiles every kernel file for
real GPU architectures with this module so that never goes unnoticed. The source is
wrapped in extern "C" as PyCUDA's SourceModule does, so kernel names are plain.
"""
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass

ARCHITECTURES = ("sm_75", "sm_90")
HOT_MARKER = re.compile(r"^\s*//\s*hot:\s*(.*)$", re.M)


@dataclass
class KernelResources:
    kernel: str
    arch: str
    registers: int = 0
    shared_bytes: int = 0
    stack_bytes: int = 0
    spill_stores: int = 0
    spill_loads: int = 0


@dataclass
class NvccResult:
    returncode: int
    messages: str                # nvcc's and ptxas's own output
    problems: list               # error and warning lines
    kernels: list                # KernelResources per entry function


def nvcc_path():
    return shutil.which("nvcc")


def hot_kernels(source):
    """Kernels named on `// hot: a b` lines: they must not spill registers."""
    return {name for line in HOT_MARKER.findall(source) for name in line.split()}


def compile_for(path, arch, nvcc="nvcc", extra=()):
    with open(path) as f:
        source = f.read()
    with tempfile.TemporaryDirectory() as tmp:
        wrapped = os.path.join(tmp, os.path.basename(path))
        with open(wrapped, "w") as f:
            f.write('extern "C" {\n#line 1 "%s"\n%s\n}\n' % (path, source))
        # -I the source's folder: kernel files #include their siblings (ops/*.cuh)
        cmd = [nvcc, "--cubin", f"-arch={arch}", "-std=c++17", "-Xptxas", "-v", *extra,
               "-I", os.path.dirname(os.path.abspath(path)),
               "-o", os.path.join(tmp, "out.cubin"), wrapped]
        done = subprocess.run(cmd, capture_output=True, text=True)
    messages = done.stdout + done.stderr
    problems = [l for l in messages.splitlines() if re.search(r"\b(error|warning)\b", l, re.I)]
    return NvccResult(done.returncode, messages, problems, parse_resources(messages, arch))


def parse_resources(messages, arch):
    kernels, current = [], None
    for line in messages.splitlines():
        m = re.search(r"Compiling entry function '([^']+)' for '(\w+)'", line)
        if m:
            current = KernelResources(m.group(1), m.group(2))
            kernels.append(current)
            continue
        if current is None:
            continue
        m = re.search(r"(\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads", line)
        if m:
            current.stack_bytes, current.spill_stores, current.spill_loads = map(int, m.groups())
        m = re.search(r"Used (\d+) registers", line)
        if m:
            current.registers = int(m.group(1))
            smem = re.search(r"(\d+) bytes smem", line)
            current.shared_bytes = int(smem.group(1)) if smem else 0
    return kernels
