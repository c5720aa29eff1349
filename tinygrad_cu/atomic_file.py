"""Atomic file writes whose temporary files can be told apart, and cleaned up.

`write_atomic(path, write)` writes to a temporary file next to the target, fsyncs it,
renames it over the target with os.replace (atomic on POSIX and Windows) and fsyncs the
directory: a crash at any point leaves the old file or the new one, never half of one.
On an error, KeyboardInterrupt included, the temporary file is removed.

A process killed outright (SIGKILL, the machine's OOM killer, a power cut) cannot remove
its temporary file, so the name says whose it was:

    .{target name}.tmp-{host}-{pid}-{8 hex digits}

and every later write to the same target first removes the temporary files of processes
on this host that no longer exist (`os.kill(pid, 0)` answers "no such process"). Files of
live processes (another save in progress), of other hosts (a shared file system) or of
this process are left alone. On Windows, where os.kill(pid, 0) would terminate the
process instead of asking about it, nothing is cleaned up.
"""
import os
import re
import secrets
import socket

_TOKEN = re.compile(r"[0-9a-f]{8}")


def _host():
    """This host's name, reduced to characters safe in a file name."""
    return re.sub(r"[^A-Za-z0-9.]", "_", socket.gethostname()) or "host"


def temp_prefix(path):
    return f".{os.path.basename(path)}.tmp-"


def temp_name(path):
    """A fresh temporary file name for `path`, in its directory."""
    name = f"{temp_prefix(path)}{_host()}-{os.getpid()}-{secrets.token_hex(4)}"
    return os.path.join(os.path.dirname(os.path.abspath(path)), name)


def _owner(name, prefix):
    """(host, pid) of a temporary file named by temp_name, or None for any other name."""
    if not name.startswith(prefix):
        return None
    parts = name[len(prefix):].rsplit("-", 2)
    if len(parts) != 3 or not parts[1].isdigit() or not _TOKEN.fullmatch(parts[2]):
        return None
    return parts[0], int(parts[1])


def process_exists(pid):
    if pid <= 0:
        return True                 # 0 and negatives name process groups: never "dead"
    try:
        os.kill(pid, 0)             # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:
        return True                 # it exists, and belongs to someone else
    except OverflowError:
        return False                # no pid is that large
    return True


def remove_stale_temps(path):
    """Remove the temporary files that dead processes of this host left for `path`;
    returns their paths."""
    if os.name != "posix":
        return []
    directory = os.path.dirname(os.path.abspath(path))
    prefix, host, removed = temp_prefix(path), _host(), []
    try:
        names = os.listdir(directory)
    except OSError:
        return []
    for name in names:
        owner = _owner(name, prefix)
        if owner is None or owner[0] != host or owner[1] == os.getpid() or process_exists(owner[1]):
            continue
        stale = os.path.join(directory, name)
        try:
            os.remove(stale)
            removed.append(stale)
        except FileNotFoundError:
            pass                    # another process cleaned it up first
        except OSError:
            pass                    # not ours to remove after all: leave it
    return removed


def write_atomic(path, write):
    """Call write(file) on a new temporary file, then put it in place of `path`."""
    path = os.fspath(path)
    remove_stale_temps(path)
    tmp = temp_name(path)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        # KeyboardInterrupt too: never leave the temporary file behind
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    _fsync_directory(os.path.dirname(os.path.abspath(path)))


def _fsync_directory(directory):
    """Make the rename itself durable (POSIX); not possible, nor needed, on Windows."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
