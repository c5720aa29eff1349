"""How a device's buffers reach MPI: one class per way, chosen by `for_device`.

  HostTransport     `cpu`: buffers are numpy arrays, MPI reads and writes them.
  StagedTransport   `emu`, and `cuda` without CUDA-aware MPI: a flat device buffer is
                    copied to a host buffer (page-locked on cuda, so the copy is one DMA),
                    reduced there, and copied back: one copy each way per bucket, never
                    per tensor. The host buffers are kept per bucket size and reused.
  CudaAwareTransport `cuda` when the MPI library says it takes CUDA memory: MPI reads
                    the device buffer itself (through __cuda_array_interface__); the
                    averaging is the `mul` op's kernel on the device.

Every transport offers the same steps, which DistributedDataParallel runs per bucket:
flat(n) a flat buffer, pack() a gradient into it, start_allreduce()/finish() the
averaged sum (non-blocking, so that several buckets are in flight), unpack() a
gradient's slice, and allreduce()/broadcast() of one whole buffer for the collectives
on tensors. The emulator's "device memory" is host memory too, but it goes through the
staged path, so that the code cuda uses without CUDA-aware MPI runs in the tests.
Neither cuda path has run on a GPU in this project (no GPU machine here); the tests run
CudaAwareTransport on emu's device pointers, which are host addresses any MPI can read.
"""
import os

import numpy as np

from ..op import Context, REGISTRY
from .world import mpi

REDUCE_OPS = ("sum", "avg", "max", "min", "product")


def mpi_op(op):
    if op not in REDUCE_OPS:
        raise ValueError(f"all_reduce: op must be one of {REDUCE_OPS}, got {op!r}")
    MPI = mpi()
    return {"sum": MPI.SUM, "avg": MPI.SUM, "max": MPI.MAX, "min": MPI.MIN, "product": MPI.PROD}[op]


def cuda_aware():
    """Whether MPI takes CUDA device memory. TINYGRAD_CU_MPI_CUDA_AWARE=1/0 decides; else
    MPI 4.1's memory allocation kinds of COMM_WORLD ("mpi,system,cuda:device,...")."""
    forced = os.environ.get("TINYGRAD_CU_MPI_CUDA_AWARE")
    if forced in ("0", "1"):
        return forced == "1"
    try:
        kinds = mpi().COMM_WORLD.Get_info().Get("mpi_memory_alloc_kinds") or ""
    except Exception:           # an MPI before 4.1 has no such key: assume host memory only
        return False
    return "cuda" in kinds


def for_device(device):
    if device.name == "cpu":
        return HostTransport(device)
    if device.name == "cuda" and cuda_aware():
        return CudaAwareTransport(device)
    return StagedTransport(device)


class HostTransport:
    """numpy buffers: MPI reduces them in place."""

    def __init__(self, device):
        self.device = device

    def flat(self, n, dtype):
        return np.empty(n, dtype)

    def pack(self, flat, offset, grad, n):
        if grad is None:                       # no gradient on this rank: it adds nothing
            flat[offset:offset + n] = 0
        else:
            flat[offset:offset + n] = grad.reshape(-1)

    def unpack(self, flat, offset, shape):
        """A view into the bucket (as PyTorch's gradient_as_bucket_view): no copy. Each
        step packs into a new flat buffer, so last step's gradients are never overwritten."""
        n = int(np.prod(shape, dtype=np.int64))
        return flat[offset:offset + n].reshape(shape)

    def start_allreduce(self, comm, flat, op="avg"):
        request = comm.Iallreduce(mpi().IN_PLACE, flat, op=mpi_op(op))
        return request, flat, op, comm.Get_size()

    def finish(self, pending):
        request, flat, op, n = pending
        request.Wait()
        if op == "avg":
            flat *= flat.dtype.type(1.0 / n)
        return flat

    def allreduce(self, comm, buf, op):
        return self.finish(self.start_allreduce(comm, _host_array(buf), op))

    def broadcast(self, comm, buf, src):
        buf = _host_array(buf)
        comm.Bcast(buf, root=src)
        return buf


def _host_array(buf):
    """`buf` itself when MPI can write into it, else a contiguous copy (a permuted view)."""
    if buf.flags.c_contiguous and buf.flags.writeable:
        return buf
    return np.ascontiguousarray(buf).copy()


class _GPUSlices:
    """Packing and unpacking on a GPUDevice: device-to-device copies through the
    device's driver methods (no kernel is needed to move bytes)."""

    def __init__(self, device):
        self.device = device

    def flat(self, n, dtype):
        return self.device.empty((n,), dtype)

    def pack(self, flat, offset, grad, n):
        at = int(flat.alloc) + offset * flat.dtype.itemsize
        nbytes = n * flat.dtype.itemsize
        if not nbytes:
            return
        if grad is None:
            self.device.memset_d8(at, 0, nbytes)
        else:
            self.device.memcpy_dtod(at, grad.alloc, nbytes)

    def unpack(self, flat, offset, shape):
        out = self.device.empty(shape, flat.dtype)
        if out.nbytes:
            self.device.memcpy_dtod(out.alloc, int(flat.alloc) + offset * flat.dtype.itemsize, out.nbytes)
        return out


class StagedTransport(_GPUSlices):
    """Through a host buffer: device -> host, MPI in place there, host -> device."""

    def __init__(self, device):
        super().__init__(device)
        self._staging = {}                   # (n, dtype) -> host buffer, reused every step

    def host_buffer(self, n, dtype):
        key = (n, np.dtype(dtype).str)
        host = self._staging.get(key)
        if host is None:
            pagelocked = getattr(self.device.driver, "pagelocked_empty", None)   # PyCUDA's
            # (one element at least: a zero-byte page-locked allocation fails in CUDA)
            host = pagelocked((max(n, 1),), dtype)[:n] if pagelocked is not None else np.empty(n, dtype)
            self._staging[key] = host
        return host

    def start_allreduce(self, comm, flat, op="avg"):
        host = self.host_buffer(flat.size, flat.dtype)
        if flat.nbytes:
            self.device.memcpy_dtoh(host, flat.alloc)     # waits for the kernels that wrote it
        request = comm.Iallreduce(mpi().IN_PLACE, host, op=mpi_op(op))
        return request, host, flat, op, comm.Get_size()

    def finish(self, pending):
        request, host, flat, op, n = pending
        request.Wait()
        if op == "avg":
            host *= host.dtype.type(1.0 / n)          # on the host: free while it is there
        if flat.nbytes:
            self.device.memcpy_htod(flat.alloc, host)
        return flat

    def allreduce(self, comm, buf, op):
        return self.finish(self.start_allreduce(comm, buf, op))

    def broadcast(self, comm, buf, src):
        host = np.empty(buf.shape, buf.dtype)       # not kept: broadcasts are rare (the wrap)
        if buf.nbytes and comm.Get_rank() == src:
            self.device.memcpy_dtoh(host, buf.alloc)
        comm.Bcast(host, root=src)
        if buf.nbytes:
            self.device.memcpy_htod(buf.alloc, host)
        return buf


class _CudaArray:
    """A device buffer as the CUDA Array Interface describes it, which mpi4py passes to
    a CUDA-aware MPI as a device pointer."""

    def __init__(self, buf):
        self.__cuda_array_interface__ = {
            "shape": (buf.size,), "typestr": buf.dtype.str, "data": (int(buf.alloc), False),
            "strides": None, "version": 3, "stream": None}


class CudaAwareTransport(_GPUSlices):
    """MPI reads and writes the device buffers. MPI does not order itself after the
    kernels on PyCUDA's stream, so the device is synchronised before each collective:
    the one wait per bucket that the staged path also has (in its device-to-host copy)."""

    def start_allreduce(self, comm, flat, op="avg"):
        self.device.synchronize()
        request = comm.Iallreduce(mpi().IN_PLACE, _CudaArray(flat), op=mpi_op(op))
        return request, flat, op, comm.Get_size()

    def finish(self, pending):
        request, flat, op, n = pending
        request.Wait()
        if op == "avg":                           # the mul kernel: a new buffer from the pool
            scale = self.device.full((), 1.0 / n, flat.dtype)
            flat = self.device.forward(REGISTRY["mul"], Context((False, False), ()), [flat, scale], {})
        return flat

    def allreduce(self, comm, buf, op):
        return self.finish(self.start_allreduce(comm, buf, op))

    def broadcast(self, comm, buf, src):
        self.device.synchronize()
        comm.Bcast(_CudaArray(buf), root=src)
        return buf
