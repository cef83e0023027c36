"""Writing files: atomic, with the umask's mode, and never over a device.

Standard library only (the runtime writes its cache with this module).

- :func:`create_temp` makes a hidden temp file beside a target with ``os.open(..., 0o666)``, so
  the kernel applies the umask exactly as for any file the user creates (``tempfile.mkstemp``
  makes ``0600`` files, which a web server or another user cannot read).
- :func:`write_atomic` writes a temp file, fsyncs it, and renames it over the target: a reader
  sees the old content or the new, never a half-written file.
- :func:`write_output` is what ``-o FILE`` does: atomic where a regular file (or nothing) stands;
  through the existing object, as a plain ``open()`` would, where a symlink, a device or a FIFO
  stands (``-o /dev/stdout`` works and ``/dev/full`` stays a device); a folder is an error.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from .errors import UsageError


def create_temp(folder: str | os.PathLike[str], prefix: str, suffix: str = ".tmp") -> tuple[int, str]:
    """A new, empty file in ``folder`` opened for writing: ``(fd, path)``; mode 0o666 less the umask."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOFOLLOW", 0)
    for _ in range(100):
        path = os.path.join(folder, f"{prefix}{os.urandom(6).hex()}{suffix}")
        try:
            return os.open(path, flags, 0o666), path
        except FileExistsError:
            continue
    raise FileExistsError(f"cannot create a temporary file in {folder}")


def write_atomic(path: str | os.PathLike[str], data: bytes | str, *, fsync: bool = True, mode: int | None = None) -> None:
    """Replace ``path`` with ``data`` atomically (temp file beside it, then rename).

    ``mode``: the file's permission bits (default: the umask's, as for any new file).
    """
    target = Path(path)
    raw = data.encode("utf-8") if isinstance(data, str) else data
    fd, tmp = create_temp(target.parent, f".{target.name}.")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(raw)
            fh.flush()
            if fsync:
                os.fsync(fh.fileno())
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        _unlink(tmp)
        raise


def write_output(path: str | os.PathLike[str], data: bytes | str, *, what: str = "output") -> None:
    """Write ``-o FILE``: atomically over a regular file or nothing, through a symlink/device/FIFO, never over a folder."""
    target = Path(path)
    try:
        st = os.lstat(target)
    except FileNotFoundError:
        st = None
    except OSError as e:
        raise UsageError(f"cannot write the {what} to {target}: {e.strerror or e}") from None
    if st is not None and stat.S_ISDIR(st.st_mode):
        raise UsageError(f"cannot write the {what} to {target}: it is a folder", hint="name a file, e.g. report.json")
    raw = data.encode("utf-8") if isinstance(data, str) else data
    try:
        if st is None or stat.S_ISREG(st.st_mode):
            target.parent.mkdir(parents=True, exist_ok=True)
            mode = stat.S_IMODE(st.st_mode) if st is not None else None
            write_atomic(target, raw, fsync=False, mode=mode)
            return
        if stat.S_ISLNK(st.st_mode) and os.path.isdir(target):
            raise UsageError(f"cannot write the {what} to {target}: it is a folder", hint="name a file, e.g. report.json")
        # A symlink, a device, a FIFO: write through it, as a plain open() would, without replacing it.
        with open(target, "wb") as fh:
            fh.write(raw)
    except UsageError:
        raise
    except OSError as e:
        raise UsageError(f"cannot write the {what} to {target}: {e.strerror or e}") from None


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass
