"""Verified, atomic file download with a progress bar.

The file is streamed into a temporary file next to its destination, checked, and
only then renamed into place (os.replace is atomic on one file system). So a
killed process, a dropped connection or a corrupt mirror never leaves a
half-written or wrong file where the cache would later trust it.

Two kinds of failure are kept apart on purpose:
  DownloadError (an OSError): no mirror could be reached -> callers may fall back.
  ChecksumError (a ValueError): a mirror answered with wrong bytes -> a real error,
  never silently papered over.
"""
import hashlib
import os
import sys
import tempfile
import urllib.error
import urllib.request

CHUNK_BYTES = 1 << 16


class DownloadError(OSError):
    """No mirror could deliver the file (network down, refused, 404, timeout)."""


class ChecksumError(ValueError):
    """A downloaded or cached file does not match its expected size or MD5."""


def md5_hex(data):
    return hashlib.md5(data).hexdigest()


def check_bytes(data, name, size=None, md5=None):
    """Raise ChecksumError naming `name` unless `data` has the given size and MD5."""
    if size is not None and len(data) != size:
        raise ChecksumError(f"{name}: {len(data)} bytes, expected {size}")
    if md5 is not None and md5_hex(data) != md5:
        raise ChecksumError(f"{name}: MD5 {md5_hex(data)}, expected {md5}")


def download_file(urls, dest, verify=None, timeout=10.0, progress=True):
    """Download the first URL of `urls` that works into `dest`; return `dest`.

    verify(tmp_path) is called on the complete temporary file and must raise
    ValueError if the content is wrong; only then is the file moved to `dest`.
    A mirror that fails to connect is skipped; one that serves bad data is also
    skipped, but if no mirror succeeds and any served bad data, ChecksumError is
    raised rather than DownloadError, because the network evidently works.
    `timeout` is per socket operation, so a dead mirror costs seconds, not minutes.
    """
    urls = [urls] if isinstance(urls, str) else list(urls)
    dest = os.fspath(dest)
    os.makedirs(os.path.dirname(os.path.abspath(dest)), exist_ok=True)
    network_errors, checksum_errors = [], []
    for url in urls:
        try:
            _fetch_verified(url, dest, verify, timeout, progress)
            return dest
        except ValueError as e:
            checksum_errors.append(f"{url}: {e}")
        except (OSError, urllib.error.URLError) as e:  # URLError, timeouts, refused, reset
            network_errors.append(f"{url}: {getattr(e, 'reason', e)}")
    if checksum_errors:
        raise ChecksumError("downloaded data failed verification: " + "; ".join(checksum_errors))
    raise DownloadError("could not download from any mirror: " + "; ".join(network_errors))


def _fetch_verified(url, dest, verify, timeout, progress):
    fd, tmp_path = tempfile.mkstemp(prefix=os.path.basename(dest) + ".", suffix=".part",
                                    dir=os.path.dirname(os.path.abspath(dest)))
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as response:
            total = int(response.headers.get("Content-Length") or 0) or None
            with _progress_bar(os.path.basename(dest), total, progress) as bar:
                while chunk := response.read(CHUNK_BYTES):
                    out.write(chunk)
                    bar.update(len(chunk))
            if total is not None and out.tell() != total:
                raise DownloadError(f"connection closed after {out.tell()} of {total} bytes")
        if verify is not None:
            verify(tmp_path)
        os.replace(tmp_path, dest)
    finally:
        if os.path.exists(tmp_path):
            os.unlink(tmp_path)


def _progress_bar(name, total, enabled):
    if not enabled:
        return _PlainProgress(name, total, stream=None)
    try:
        from tqdm import tqdm  # optional extra
    except ImportError:
        return _PlainProgress(name, total, stream=sys.stderr)
    return tqdm(total=total, desc=name, unit="B", unit_scale=True, unit_divisor=1024, leave=False)


class _PlainProgress:
    """Prints one line per 10% downloaded; the stand-in when tqdm is not installed."""

    def __init__(self, name, total, stream):
        self.name, self.total, self.stream = name, total, stream
        self.done, self.next_report = 0, 0.1

    def __enter__(self):
        self._say(f"downloading {self.name}" + (f" ({self.total / 1e6:.1f} MB)" if self.total else ""))
        return self

    def update(self, n):
        self.done += n
        if self.total and self.done / self.total >= self.next_report:
            self._say(f"  {self.name}: {100 * self.done // self.total}%")
            self.next_report = (self.done / self.total // 0.1 + 1) * 0.1

    def __exit__(self, *exc):
        if exc[0] is None and not self.total:
            self._say(f"  {self.name}: {self.done / 1e6:.1f} MB")

    def _say(self, line):
        if self.stream is not None:
            print(line, file=self.stream, flush=True)
