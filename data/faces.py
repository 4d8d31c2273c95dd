"""Offline face data: OpenCV's Megamind sample clip and four real test photos.

- ``megamind_path()``: ``Megamind.avi`` (270 frames, 720x528, two animated
  characters) from Debian's ``opencv-doc`` 4.6.0+dfsg-12: the installed file if
  present, else ``apt-get download opencv-doc`` into the cache and that one
  member extracted in Python (ar archive -> data.tar.xz), both SHA-256 checked.
  A film excerpt: read from the package, never committed.
- ``face_test_images()``: obama, obama2, obama3, biden (White House photos, US
  government works) from the ``face_recognition`` 1.3.0 sdist on PyPI.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from .cache import _check_digest, atomic_path, cache_dir, sha256_file

__all__ = ["face_test_images", "megamind_path"]

MEGAMIND_MEMBER = "usr/share/doc/opencv-doc/examples/data/Megamind.avi"
MEGAMIND_SHA256 = "0057387cb7e75c8fd1663b62cfdc51fa53f527795d0fe3c1fea2fd159d3130b5"
OPENCV_DOC = "opencv-doc"
OPENCV_DOC_VERSION = "4.6.0+dfsg-12"
OPENCV_DOC_SHA256 = "4b12681df35878207ac7097dc66184b2ae552e4bf4ddd2af04a0f03ed0b8682a"
MEGAMIND_ENV = "DEEPFAKE_LAB_MEGAMIND"

FR_VERSION = "1.3.0"
FR_SDIST_SHA256 = "5e5efdd1686aa566af0d3cc1313b131e4b197657a8ffd03669e6d3fad92705ec"
FACE_TEST_NAMES = ("obama", "obama2", "obama3", "biden")

_HOW = (f"install it with `apt-get install {OPENCV_DOC}` (run `apt-get update` first if apt "
        f"does not know the package), or download {OPENCV_DOC}_{OPENCV_DOC_VERSION}_all.deb "
        f"from a Debian mirror, extract {MEGAMIND_MEMBER} and set {MEGAMIND_ENV}=PATH")


def megamind_path() -> Path:
    """Path of a checksum-verified ``Megamind.avi``: ``$DEEPFAKE_LAB_MEGAMIND``,
    else the installed ``/usr/share/doc/...``, else the cached copy extracted
    from ``apt-get download opencv-doc`` (about 96 MB, once)."""
    explicit = os.environ.get(MEGAMIND_ENV)
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise FileNotFoundError(2, f"no such file (from ${MEGAMIND_ENV})", str(path))
        _check_digest(str(path), sha256_file(path), MEGAMIND_SHA256)
        return path
    installed = Path("/") / MEGAMIND_MEMBER
    if installed.is_file() and sha256_file(installed) == MEGAMIND_SHA256:
        return installed
    folder = cache_dir("faces")
    target = folder / "Megamind.avi"
    if target.is_file():
        if sha256_file(target) == MEGAMIND_SHA256:
            return target
        target.unlink()  # corrupt copy of our own cache: extract again
    deb = _opencv_doc_deb(folder)
    with atomic_path(target) as tmp:
        _deb_member(deb, MEGAMIND_MEMBER, tmp)
        _check_digest(f"{deb.name}!{MEGAMIND_MEMBER}", sha256_file(tmp), MEGAMIND_SHA256)
    deb.unlink()  # our own 96 MB download; the clip is all we need from it
    return target


def _opencv_doc_deb(folder: Path) -> Path:
    name = f"{OPENCV_DOC}_{OPENCV_DOC_VERSION.replace(':', '%3a')}_all.deb"
    deb = folder / name
    if deb.is_file() and sha256_file(deb) == OPENCV_DOC_SHA256:
        return deb
    if shutil.which("apt-get") is None:
        raise OSError(f"Megamind.avi: not installed and apt-get is not available; {_HOW}")
    with tempfile.TemporaryDirectory(dir=folder) as tmp:
        proc = subprocess.run(["apt-get", "download", f"{OPENCV_DOC}={OPENCV_DOC_VERSION}"],
                              cwd=tmp, capture_output=True, text=True)
        got = sorted(Path(tmp).glob("*.deb"))
        if proc.returncode != 0 or not got:
            why = (proc.stderr or proc.stdout).strip().splitlines()
            raise OSError(f"Megamind.avi: `apt-get download {OPENCV_DOC}={OPENCV_DOC_VERSION}` "
                          f"failed ({why[-1] if why else 'no .deb'}); {_HOW}")
        _check_digest(got[0].name, sha256_file(got[0]), OPENCV_DOC_SHA256)
        os.replace(got[0], deb)
    return deb


def _deb_member(deb: Path, member: str, out: Path) -> None:
    """Copy ``member`` of the .deb's data.tar.* into ``out`` (streamed)."""
    with open(deb, "rb") as f:
        if f.read(8) != b"!<arch>\n":
            raise ValueError(f"{deb}: not a Debian package (no ar header)")
        while True:
            header = f.read(60)
            if len(header) < 60:
                raise ValueError(f"{deb}: has no data.tar member")
            name = header[:16].decode().strip().rstrip("/")
            size = int(header[48:58].decode().strip())
            if name.startswith("data.tar"):
                break
            f.seek(size + (size & 1), os.SEEK_CUR)
        mode = {"data.tar.xz": "r|xz", "data.tar.gz": "r|gz", "data.tar": "r|"}.get(name)
        if mode is None:
            raise ValueError(f"{deb}: {name} is compressed in a way Python cannot read")
        with tarfile.open(fileobj=_Limited(f, size), mode=mode) as tar:
            for info in tar:
                if info.name.lstrip("./") == member and info.isfile():
                    src = tar.extractfile(info)
                    with open(out, "wb") as dst:
                        shutil.copyfileobj(src, dst, 1 << 20)
                    return
    raise ValueError(f"{deb}: has no member {member}")


class _Limited:
    """A read-only view of the next ``size`` bytes of a file (one ar member)."""

    def __init__(self, f, size: int) -> None:
        self.f, self.left = f, size

    def read(self, n: int = -1) -> bytes:
        n = self.left if n is None or n < 0 else min(n, self.left)
        data = self.f.read(n)
        self.left -= len(data)
        return data


def face_test_images() -> dict[str, Path]:
    """{"obama", "obama2", "obama3", "biden"} -> cached JPEG paths, from the
    face_recognition 1.3.0 sdist (downloaded once with pip, SHA-256 checked)."""
    folder = cache_dir("faces", f"face_recognition-{FR_VERSION}")
    paths = {n: folder / f"{n}.jpg" for n in FACE_TEST_NAMES}
    if all(p.is_file() for p in paths.values()):
        return paths
    sdist = _fr_sdist(folder)
    with tarfile.open(sdist, "r:gz") as tar:
        for n, path in paths.items():
            member = f"face_recognition-{FR_VERSION}/tests/test_images/{n}.jpg"
            try:
                data = tar.extractfile(member).read()
            except (KeyError, AttributeError):
                raise ValueError(f"{sdist}: has no member {member}") from None
            with atomic_path(path) as tmp:
                tmp.write_bytes(data)
    return paths


def _fr_sdist(folder: Path) -> Path:
    sdist = folder / f"face_recognition-{FR_VERSION}.tar.gz"
    if sdist.is_file() and sha256_file(sdist) == FR_SDIST_SHA256:
        return sdist
    with tempfile.TemporaryDirectory(dir=folder) as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
               "--disable-pip-version-check", "--quiet", f"face_recognition=={FR_VERSION}",
               "-d", tmp]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        got = sorted(Path(tmp).glob("face_recognition-*.tar.gz"))
        if proc.returncode != 0 or not got:
            why = (proc.stderr or proc.stdout).strip().splitlines()
            raise OSError(f"pip could not download the face_recognition=={FR_VERSION} sdist "
                          f"({why[-1] if why else 'no file'})")
        digest = hashlib.sha256(got[0].read_bytes()).hexdigest()
        _check_digest(got[0].name, digest, FR_SDIST_SHA256)
        os.replace(got[0], sdist)
    return sdist
