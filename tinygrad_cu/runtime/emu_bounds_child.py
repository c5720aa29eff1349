"""The bounds-mode child process: `python -m tinygrad_cu.runtime.emu_bounds_child FD`,
started by emu_bounds.py with AddressSanitizer preloaded.

It reads requests on stdin and writes replies on file descriptor FD (stdout stays the
parent's, so a kernel's printf appears where it would without the child):
    ("build", key, spec)   build emu.SourceModule(..., check="bounds") -> ("ok", None)
    ("launch", key, kernel, dims, shared, values, pointers, buffers, constants)
                           -> ("ok", [the buffers' bytes after the launch])
An exception becomes ("error", (class name, message)). A bad access in a kernel never
gets a reply: the sanitizer prints its report on stderr and ends the process, which is
how the parent learns of it.
"""
import ctypes
import os
import sys

from . import emu, emu_bounds

_libc = ctypes.CDLL(None)
_libc.posix_memalign.argtypes = [ctypes.POINTER(ctypes.c_void_p), ctypes.c_size_t, ctypes.c_size_t]
_libc.free.argtypes = [ctypes.c_void_p]
_libc.fflush.argtypes = [ctypes.c_void_p]


def exact_block(data):
    """A copy of `data` in a malloc'd block of exactly len(data) bytes (256-byte aligned,
    as cuMemAlloc): under ASan the redzone starts at its first byte past the end."""
    address = ctypes.c_void_p()
    if _libc.posix_memalign(ctypes.byref(address), 256, len(data)) != 0:
        raise MemoryError(f"bounds child: cannot allocate {len(data)} bytes")
    ctypes.memmove(address.value, data, len(data))
    return address.value


def build(modules, key, spec):
    os.chdir(spec["cwd"])
    modules[key] = emu.SourceModule(spec["source"], options=spec["options"], no_extern_c=spec["no_extern_c"],
                                    include_dirs=spec["include_dirs"], cache_dir=spec["cache_dir"],
                                    check="bounds")


def launch(modules, key, kernel, dims, shared, values, pointers, buffers, constants):
    module = modules[key]
    for name, data in constants.items():   # __constant__ contents as the parent set them
        address, size = module.get_global(name)
        ctypes.memmove(address, data, min(size, len(data)))
    blocks = [exact_block(data) for data in buffers]
    try:
        values = list(values)
        for index, (b, offset) in pointers.items():
            values[index] = blocks[b] + offset
        function = module.get_function(kernel)
        # the values are already checked and converted by the parent: past __call__'s and
        # prepared_call's conversions, straight to the launch both of them end in
        function._launch(dims[3:], dims[:3], shared, values, [None] * len(values))
        return [ctypes.string_at(address, len(data)) for address, data in zip(blocks, buffers)]
    finally:
        _libc.fflush(None)   # a kernel's printf reaches the parent's stdout now, not at exit
        for address in blocks:
            _libc.free(address)


def main(reply_fd):
    requests, replies = sys.stdin.buffer, os.fdopen(reply_fd, "wb")
    modules = {}
    handlers = {"build": build, "launch": launch}
    while True:
        message = emu_bounds.receive(requests)
        if message is None:
            return   # the parent closed the pipe (it exits, or restarts the child)
        try:
            reply = ("ok", handlers[message[0]](modules, *message[1:]))
        except Exception as e:
            reply = ("error", (type(e).__name__, str(e)))
        emu_bounds.send(replies, reply)


if __name__ == "__main__":
    main(int(sys.argv[1]))
