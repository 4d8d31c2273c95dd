"""C2PA Content Credentials (data.c2pa signs) and the provenance check
(detect.provenance).

The manifest is checked against the PNG container itself (its caBX chunk,
parsed here) and against files altered here byte by byte; the signing tests
need c2pa-python and are skipped without it.
"""

from __future__ import annotations

import os
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from data import c2pa as signing
from data.images import read_provenance, save_image
from detect.__main__ import main
from detect.provenance import check_provenance, describe

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def signed(isolated_cache, monkeypatch):
    """C2PA on, with the local TEST certificate in a private cache."""
    pytest.importorskip("c2pa")
    for name in (signing.ENV_CERT, signing.ENV_KEY, signing.ENV_TSA):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(signing.ENV_MODE, "test")
    return isolated_cache


@pytest.fixture
def unsigned(monkeypatch):
    """Signing not configured (and the once-per-process note not yet said)."""
    for name in (signing.ENV_MODE, signing.ENV_CERT, signing.ENV_KEY):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(signing, "_said_off", False)


def _image(seed: int = 0, size: int = 24) -> np.ndarray:
    return np.random.default_rng(seed).random((size, size, 3)).astype(np.float32)


def _chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    """(type, payload) of every chunk of a PNG file (PNG spec, section 5.3)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, out = 8, []
    while pos < len(data):
        (n,) = struct.unpack(">I", data[pos:pos + 4])
        out.append((data[pos + 4:pos + 8], data[pos + 8:pos + 8 + n]))
        pos += 12 + n
    return out


def _png(chunks: list[tuple[bytes, bytes]]) -> bytes:
    out = b"\x89PNG\r\n\x1a\n"
    for kind, payload in chunks:
        out += struct.pack(">I", len(payload)) + kind + payload
        out += struct.pack(">I", zlib.crc32(kind + payload))
    return out


def test_manifest_round_trips(signed, tmp_path):
    image = _image()
    path = save_image(tmp_path / "made.png", image, generator="dcgan",
                      params={"seed": 3, "steps": 10})
    kinds = [k for k, _ in _chunks(path.read_bytes())]
    assert kinds.count(b"caBX") == 1  # C2PA's PNG embedding: one JUMBF chunk
    with Image.open(path) as img:  # pixels as written, marks still there
        assert np.array_equal(np.asarray(img.convert("RGB")), np.round(image * 255))
        assert img.text["AI-Generated"] == "true"
    report = check_provenance(path)
    assert report["error"] is None
    c2 = report["c2pa"]
    assert c2["status"] == "valid" and c2["problems"] == []
    assert c2["action"] == "c2pa.created" and c2["source_type"] == "trainedAlgorithmicMedia"
    assert c2["generator"] == "dcgan" and c2["parameters"] == {"seed": 3, "steps": 10}
    assert "TEST" in c2["signer"] and "untrusted" in c2["signer"] and c2["trusted"] is False
    assert report["marks"]["present"] and report["marks"]["generator"] == "dcgan"
    lines = describe(report)
    assert len(lines) == 2 and lines[1].startswith(f"{path}: C2PA: valid")


def test_composite_source_type_for_face_swaps(signed, tmp_path):
    path = save_image(tmp_path / "swap.png", _image(1), generator="faceswap",
                      source_type="compositeWithTrainedAlgorithmicMedia")
    c2 = check_provenance(path)["c2pa"]
    assert c2["status"] == "valid"
    assert c2["source_type"] == "compositeWithTrainedAlgorithmicMedia"


@pytest.mark.parametrize("change", ["pixel", "text"])
def test_one_change_reports_tampered(signed, tmp_path, change):
    path = save_image(tmp_path / "made.png", _image(2), generator="dcgan")
    chunks = _chunks(path.read_bytes())
    if change == "pixel":  # re-encode IDAT (filter 0 rows) with one value off by one
        pixels = np.asarray(Image.open(path).convert("RGB")).copy()
        pixels[5, 7, 1] ^= 1
        raw = b"".join(b"\x00" + row.tobytes() for row in pixels)
        chunks = [(k, zlib.compress(raw) if k == b"IDAT" else p) for k, p in chunks]
    else:  # the generator's name in the PNG text marks
        chunks = [(k, p.replace(b"dcgan", b"camera") if k == b"tEXt" else p) for k, p in chunks]
    altered = tmp_path / "altered.png"
    altered.write_bytes(_png(chunks))
    report = check_provenance(altered)
    assert report["error"] is None
    assert report["c2pa"]["status"] == "tampered"
    assert any("mismatch" in p for p in report["c2pa"]["problems"])
    assert "C2PA: tampered" in describe(report)[1]


def test_replace_pixels_keeps_every_other_chunk(signed, tmp_path):
    from detect.provenance import replace_pixels

    path = save_image(tmp_path / "made.png", _image(4), generator="dcgan")
    with Image.open(path) as img:
        pixels = np.asarray(img.convert("RGB")).copy()
    pixels[3, 2, 0] ^= 4
    edited = replace_pixels(path, tmp_path / "edited.png", pixels)
    before, after = _chunks(path.read_bytes()), _chunks(edited.read_bytes())
    assert [c for c in after if c[0] != b"IDAT"] == [c for c in before if c[0] != b"IDAT"]
    assert [k for k, _ in after].count(b"IDAT") == 1
    with Image.open(edited) as img:  # Pillow decodes what was written
        assert np.array_equal(np.asarray(img.convert("RGB")), pixels)
    assert check_provenance(edited)["c2pa"]["status"] == "tampered"
    with pytest.raises(ValueError, match="uint8 of shape"):
        replace_pixels(path, tmp_path / "bad.png", pixels[:5])


def test_stripped_file_is_reported_unmarked(signed, tmp_path):
    path = save_image(tmp_path / "made.png", _image(3), generator="dcgan")
    stripped = tmp_path / "stripped.png"
    with Image.open(path) as img:
        img.convert("RGB").save(stripped)  # pixels only: no text chunks, no manifest
    report = check_provenance(stripped)
    assert report["marks"] == {"present": False}
    assert report["c2pa"]["status"] == "absent"
    mark_line, c2_line = describe(report)
    assert "repository marks: none" in mark_line and "C2PA: absent" in c2_line


def test_signing_off_by_default_says_so_once(unsigned, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(signing, "_interactive", lambda: True)  # as in a terminal
    first = save_image(tmp_path / "a.png", _image(), generator="g")
    save_image(tmp_path / "b.png", _image(), generator="g")
    err = capsys.readouterr().err
    assert err.count("C2PA Content Credentials are off") == 1 and err.count("\n") == 1
    assert b"caBX" not in [k for k, _ in _chunks(first.read_bytes())]
    with Image.open(first) as img:
        assert img.text["AI-Generated"] == "true"  # the PNG marks stay


def test_signing_off_explicitly_or_in_captured_output_is_silent(unsigned, tmp_path, capsys,
                                                                 monkeypatch):
    assert signing._interactive() is False  # captured output: no person reads it
    monkeypatch.setattr(signing, "_interactive", lambda: False)
    save_image(tmp_path / "a.png", _image(), generator="g")
    monkeypatch.setattr(signing, "_interactive", lambda: True)
    monkeypatch.setenv(signing.ENV_MODE, "off")
    save_image(tmp_path / "b.png", _image(), generator="g")
    assert capsys.readouterr().err == ""


def test_sign_required_without_a_key_fails_and_writes_nothing(unsigned, tmp_path):
    with pytest.raises(ValueError, match="no key is configured"):
        save_image(tmp_path / "a.png", _image(), generator="g", sign=True)
    assert list(tmp_path.iterdir()) == []


def test_without_c2pa_python_images_keep_their_marks(isolated_cache, tmp_path, capsys,
                                                      monkeypatch):
    """Signing configured but the optional c2pa-python missing: one warning,
    marked PNGs, no key made; sign=True refuses in one line; the check says
    'unchecked'."""
    monkeypatch.setitem(sys.modules, "c2pa", None)  # `import c2pa` raises ImportError
    for name in (signing.ENV_CERT, signing.ENV_KEY):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(signing.ENV_MODE, "test")
    monkeypatch.setattr(signing, "_said_missing", False)
    first = save_image(tmp_path / "a.png", _image(), generator="g")
    save_image(tmp_path / "b.png", _image(1), generator="g")
    err = capsys.readouterr().err
    assert err.count(f"pip install {signing.C2PA_REQUIREMENT}") == 1 and err.count("\n") == 1
    assert b"caBX" not in [k for k, _ in _chunks(first.read_bytes())]
    assert read_provenance(first)["AI-Generated"] == "true"
    assert not (isolated_cache / "c2pa").exists()  # no test key made for nothing
    with pytest.raises(ValueError, match="c2pa-python, which is not installed"):
        save_image(tmp_path / "c.png", _image(), generator="g", sign=True)
    assert not (tmp_path / "c.png").exists()
    report = check_provenance(first)
    assert report["marks"]["generator"] == "g" and report["c2pa"]["status"] == "unchecked"
    assert "C2PA: unchecked (C2PA needs c2pa-python" in describe(report)[1]


def test_saving_a_signed_image_imports_no_technique_package(tmp_path):
    """data/ is below the techniques: save_image (signing included) needs no
    detect, no generator package and no TensorFlow."""
    pytest.importorskip("c2pa")
    code = ("import sys\nimport numpy as np\nfrom data.images import save_image\n"
            f"save_image({str(tmp_path / 'a.png')!r}, np.zeros((8, 8, 3)), generator='g')\n"
            "tops = {m.split('.')[0] for m in sys.modules}\n"
            "print(sorted(tops & {'cogan', 'cyclegan', 'detect', 'faceswap', 'nst', 'stargan', "
            "'tensorflow', 'keras'}))\n")
    env = dict(os.environ, DEEPFAKE_LAB_C2PA="test", DEEPFAKE_LAB_CACHE=str(tmp_path / "cache"))
    for name in (signing.ENV_CERT, signing.ENV_KEY):
        env.pop(name, None)
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
    assert b"caBX" in [k for k, _ in _chunks((tmp_path / "a.png").read_bytes())]


def test_user_certificate_from_environment(signed, tmp_path, monkeypatch):
    key = signing.test_signing_key(tmp_path / "keys")
    (tmp_path / "chain.pem").write_bytes(key.chain)
    (tmp_path / "key.pem").write_bytes(key.key)
    monkeypatch.delenv(signing.ENV_MODE)
    monkeypatch.setenv(signing.ENV_CERT, str(tmp_path / "chain.pem"))
    with pytest.raises(ValueError, match=f"{signing.ENV_KEY} is not"):
        signing.signing_from_env()
    monkeypatch.setenv(signing.ENV_KEY, str(tmp_path / "key.pem"))
    configured = signing.signing_from_env()
    assert configured.alg == "es256" and "chain.pem" in configured.origin
    path = save_image(tmp_path / "a.png", _image(), generator="g")
    assert check_provenance(path)["c2pa"]["status"] == "valid"


def test_test_certificate_is_cached_and_labelled(isolated_cache):
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    first, second = signing.test_signing_key(), signing.test_signing_key()
    assert first == second  # made once
    leaf, ca = x509.load_pem_x509_certificates(first.chain)
    for cert in (leaf, ca):
        subject = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
        assert "TEST" in subject and "untrusted" in subject
    assert leaf.issuer == ca.subject
    stored = isolated_cache / "c2pa" / "test-signer.pem"
    assert stored.stat().st_mode & 0o077 == 0  # the key is private to its owner


def test_bad_files_one_line_each(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv(signing.ENV_MODE, "off")
    good = save_image(tmp_path / "good.png", _image(), generator="g")
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    text = tmp_path / "notes.png"
    text.write_text("not an image")
    truncated = tmp_path / "truncated.png"
    truncated.write_bytes(good.read_bytes()[: len(good.read_bytes()) // 2])
    missing = tmp_path / "missing.png"
    bad = [empty, text, truncated, missing]
    code = main(["provenance", str(good), *map(str, bad)])
    out, err = capsys.readouterr()
    assert code == 1 and "Traceback" not in out + err
    lines = out.splitlines()
    assert sum(line.startswith(f"{good}: ") for line in lines) == 2
    for path, reason in zip(bad, ("empty", "not a recognised image", "truncated",
                                  "not found")):
        mine = [line for line in lines if line.startswith(str(path))]
        assert len(mine) == 1 and reason in mine[0], (path, lines)
