"""Writing files so that no failure leaves a damaged file: the one place every writer goes through.

A file is written to a temporary file beside it and renamed into place once
complete and synced, so ``path`` holds either its old content or the new one,
whatever happens (a full disk, a kill, Ctrl-C). A failure raises an
:class:`OSError` naming ``path`` and saying why in plain words; the temporary
file is removed, and temporary files that killed processes of this machine
left beside ``path`` are removed by the next write. New files get the
permissions the umask allows; a replaced file keeps its mode.
"""

import contextlib
import errno
import glob
import os
import re
import resource
import secrets
import shutil
import socket
import stat

_SUFFIX = ".partial"
_HOST = re.sub(r"[^A-Za-z0-9_-]", "_", socket.gethostname()) or "host"
_TEMPORARY = re.compile(rf"\.(?P<host>[A-Za-z0-9_-]+)-(?P<pid>\d+)-[0-9a-f]+{re.escape(_SUFFIX)}$")

_REASONS = {
    errno.ENOSPC: "the disk is full",
    errno.EDQUOT: "the disk quota is exceeded",
    errno.EFBIG: "the file would exceed the largest file size allowed (ulimit -f, or the file "
    "system's limit)",
    errno.EROFS: "the file system is read-only",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.EIO: "the storage reported an input/output error",
}
_OUT_OF_SPACE = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


def write_error(path, error):
    """An :class:`OSError` (of the subclass its errno maps to) naming ``path`` and the reason.

    ``error`` may also be a library's error that only quotes the errno in its
    message (as HDF5's do), or say nothing of the cause at all (as torch's
    archive writer does); the folder's free space then tells a full disk.
    """
    code = getattr(error, "errno", None)
    if code is None and (found := re.search(r"errno = (\d+)", str(error))):
        code = int(found.group(1))
    if code is None:
        with contextlib.suppress(OSError):
            if shutil.disk_usage(os.path.dirname(os.path.abspath(path))).free == 0:
                code = errno.ENOSPC
    reason = _REASONS.get(code) or (os.strerror(code) if code else str(error))
    advice = " Free some space (or raise the limit) and run again." if code in _OUT_OF_SPACE else ""
    return OSError(
        code or errno.EIO,
        f"Could not write {path}: {reason}.{advice} Nothing was written there: a file "
        "already at that path is unchanged.",
    )


def check_target(path):
    """Raise before any work when ``path`` cannot be written; return its folder.

    Raises
    ------
    FileNotFoundError, NotADirectoryError
        When the folder does not exist, or is a file.
    IsADirectoryError
        When ``path`` is a folder.
    PermissionError
        When the folder is not writable by this process.
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.exists(folder):
        raise FileNotFoundError(
            errno.ENOENT,
            f"Cannot write {path}: its folder {folder} does not exist; create it first.",
        )
    if not os.path.isdir(folder):
        raise NotADirectoryError(
            errno.ENOTDIR, f"Cannot write {path}: {folder} is a file, not a folder."
        )
    if os.path.isdir(path):
        raise IsADirectoryError(errno.EISDIR, f"Cannot write {path}: it is a folder.")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise PermissionError(
            errno.EACCES,
            f"Cannot write {path}: the folder {folder} is not writable by this process.",
        )
    return folder


def check_space(path, n_bytes):
    """Raise an :class:`OSError` naming ``path`` when ``n_bytes`` more will not fit.

    Checks the free space of the folder's disk and this process's file-size
    limit (``ulimit -f``).
    """
    folder = os.path.dirname(os.path.abspath(os.fspath(path)))
    free = shutil.disk_usage(folder).free
    limit = resource.getrlimit(resource.RLIMIT_FSIZE)[0]
    for code, available, what in (
        (errno.ENOSPC, free, "free on its disk"),
        (errno.EFBIG, limit, "allowed per file (ulimit -f)"),
    ):
        if available != resource.RLIM_INFINITY and n_bytes > available:
            raise OSError(
                code,
                f"Cannot write {path}: it needs about {_megabytes(n_bytes)} and only "
                f"{_megabytes(available)} are {what}. Free some space (or raise the limit), or "
                "write elsewhere; nothing was written.",
            )


def _megabytes(n_bytes):
    return f"{n_bytes / 2**20:.1f} MiB"


def remove_leftovers(path):
    """Delete the temporary files that processes of this machine, now dead, left beside ``path``."""
    for name in glob.glob(f"{glob.escape(os.fspath(path))}.*{_SUFFIX}"):
        found = _TEMPORARY.search(name)
        if found and found["host"] == _HOST and not _alive(int(found["pid"])):
            with contextlib.suppress(OSError):
                os.remove(name)


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


@contextlib.contextmanager
def replacing(path, *, previous=None):
    """Yield a temporary path to write; move it to ``path`` once the block ends without error.

    Parameters
    ----------
    path : str or path-like
    previous : str or None, default=None
        Where the file at ``path`` is moved to before being replaced, to
        keep one earlier version.

    Raises
    ------
    OSError
        Naming ``path``, when the target cannot be written (see
        :func:`check_target`) or writing fails (see :func:`write_error`).
        Any other error of the block propagates as it is; the temporary file
        is removed in every case.
    """
    path = os.fspath(path)
    folder = check_target(path)
    remove_leftovers(path)
    temporary = f"{path}.{_HOST}-{os.getpid()}-{secrets.token_hex(4)}{_SUFFIX}"
    try:
        # Mode 0o666 so that the umask decides, as for any new file (mkstemp gives 0o600).
        os.close(os.open(temporary, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
        with contextlib.suppress(FileNotFoundError):
            os.chmod(temporary, stat.S_IMODE(os.stat(path).st_mode))
        yield temporary
        _sync(temporary)
        if previous is not None:
            with contextlib.suppress(FileNotFoundError):  # none yet, or a concurrent writer's
                os.replace(path, previous)
        os.replace(temporary, path)
        _sync(folder, directory=True)
    except OSError as error:
        raise write_error(path, error) from error
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.remove(temporary)


def _sync(path, directory=False):
    descriptor = os.open(path, os.O_RDONLY | (os.O_DIRECTORY if directory else 0))
    try:
        os.fsync(descriptor)
    except OSError as error:
        if not directory:  # some file systems cannot sync a folder; the file itself is synced
            raise error
    finally:
        os.close(descriptor)


class GuardedFile:
    """A binary file through which a library writes, keeping write failures from it.

    HDF5 cannot close a file cleanly after a failed write (h5py then
    crashes the interpreter when the file object is freed): behind this
    wrapper writes that fail are dropped and the first error is kept, so
    the library finishes normally and :meth:`raise_error` raises afterwards.
    Reads and seeks pass through.

    Parameters
    ----------
    path : str
        An existing file, opened for reading and writing.
    """

    def __init__(self, path):
        self.file = open(path, "r+b", buffering=0)  # noqa: SIM115 (closed by close())
        self.error = None

    def _guard(self, operation, *args, default=None):
        if self.error is None:
            try:
                return operation(*args)
            except OSError as error:
                self.error = error
        return default

    def write(self, data):
        return self._guard(self.file.write, data, default=len(memoryview(data)))

    def truncate(self, size=None):
        return self._guard(self.file.truncate, size, default=size)

    def flush(self):
        self._guard(self.file.flush)

    def read(self, size=-1):
        return self.file.read(size)

    def readinto(self, buffer):
        return self.file.readinto(buffer)

    def seek(self, offset, whence=0):
        return self.file.seek(offset, whence)

    def tell(self):
        return self.file.tell()

    def readable(self):
        return True

    def writable(self):
        return True

    def seekable(self):
        return True

    def close(self):
        self.file.close()

    def raise_error(self):
        """Raise the first write failure, if there was one."""
        if self.error is not None:
            raise self.error


def write_hdf5(path, fill):
    """Write the HDF5 file ``path`` by ``fill(h5py_file)``, as :func:`replacing` does.

    HDF5 writes through a :class:`GuardedFile`, so a full disk or a
    file-size limit raises an :class:`OSError` naming ``path`` instead of
    crashing the interpreter.
    """
    import h5py

    with replacing(path) as temporary:
        file = GuardedFile(temporary)
        try:
            with h5py.File(file, "w") as hdf5:
                fill(hdf5)
        finally:
            file.close()
        file.raise_error()
