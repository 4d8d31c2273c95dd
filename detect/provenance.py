"""What an image file says about where it came from: the repository's PNG
marks and its C2PA Content Credentials.

:func:`check_provenance` reports, for any file, the repository's PNG text
marks (:func:`data.images.save_image` writes them in every image) and
whether a C2PA manifest (:mod:`data.c2pa` signs them) is present and valid,
tampered or absent, and what it says; :func:`describe` turns that into the
lines ``python -m detect provenance`` prints. Both are evidence of origin:
marks and manifests can be stripped, so their absence proves nothing, while
a valid manifest shows who signed the file and that it is unchanged since.

Importing this module imports neither TensorFlow nor ``c2pa`` (an optional
dependency, loaded when a file is checked).
"""

from __future__ import annotations

import json
import os
import struct
import zlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from data.c2pa import c2pa_error_text, c2pa_module
from data.images import decode_image, read_provenance

__all__ = ["check_provenance", "describe", "replace_pixels"]


def _marks(path: Path) -> dict[str, Any]:
    """The repository's PNG text marks (:func:`data.images.read_provenance`)."""
    try:
        text = read_provenance(path)
    except (OSError, ValueError):  # e.g. Parameters that are not JSON: report what is there
        from PIL import Image

        with Image.open(path) as img:
            text = dict(getattr(img, "text", {}))
    keys = ("AI-Generated", "DigitalSourceType", "Generator")
    if not any(k in text for k in keys):
        return {"present": False}
    source = str(text.get("DigitalSourceType", ""))
    return {"present": True, "ai_generated": text.get("AI-Generated") == "true",
            "source_type": source.rsplit("/", 1)[-1] or None,
            "generator": text.get("Generator"), "parameters": text.get("Parameters"),
            "software": text.get("Software")}


_UNTRUSTED = "signingCredential.untrusted"


def _c2pa_report(path: Path) -> dict[str, Any]:
    """What the C2PA manifest of ``path`` says and whether it verifies."""
    try:
        c2pa = c2pa_module()
    except ValueError as exc:
        return {"status": "unchecked", "reason": str(exc)}
    try:
        with c2pa.Reader(path) as reader:
            state = reader.get_validation_state()
            results = reader.get_validation_results() or {}
            manifest = reader.get_active_manifest() or {}
    except c2pa.C2paError.ManifestNotFound:
        return {"status": "absent"}
    except c2pa.C2paError.NotSupported:
        return {"status": "unsupported", "reason": f"C2PA cannot be embedded in "
                f"{path.suffix.lstrip('.').upper() or 'such'} files"}
    except (c2pa.C2paError, KeyError, TypeError, ValueError) as exc:  # a broken manifest store
        return {"status": "unreadable", "reason": c2pa_error_text(exc)}
    failures = (results.get("activeManifest") or {}).get("failure", [])
    problems = [f"{f.get('code')}: {f.get('explanation', '')}".strip()
                for f in failures if f.get("code") != _UNTRUSTED]
    status = {"Valid": "valid", "Trusted": "valid"}.get(state, "tampered")
    if status == "valid" and problems:  # states are the library's; never call a failure valid
        status = "tampered"
    created = {}
    for assertion in manifest.get("assertions", []):
        if assertion.get("label", "").startswith("c2pa.actions"):
            for action in assertion.get("data", {}).get("actions", []):
                if action.get("action") == "c2pa.created":
                    created = action
    signature = manifest.get("signature_info") or {}
    info = (manifest.get("claim_generator_info") or [{}])[0]
    source = str(created.get("digitalSourceType", ""))
    return {"status": status, "trusted": state == "Trusted", "problems": problems,
            "signer": signature.get("common_name"), "issuer": signature.get("issuer"),
            "claim_generator": " ".join(str(info.get(k, "")) for k in ("name", "version")).strip(),
            "action": created.get("action"), "source_type": source.rsplit("/", 1)[-1] or None,
            "generator": (created.get("softwareAgent") or {}).get("name"),
            "parameters": created.get("parameters")}


def check_provenance(path: str | os.PathLike) -> dict[str, Any]:
    """What ``path`` says about its origin: ``{"file", "error", "marks",
    "c2pa"}``. ``error`` is one line (missing, unreadable, not an image,
    truncated) and then the rest is None. ``marks``: the repository's PNG
    text marks (``present``, ``ai_generated``, ``source_type``,
    ``generator``, ``parameters``). ``c2pa``: ``status`` valid / tampered
    (the manifest does not match the file) / absent / unsupported (a format
    C2PA does not cover) / unreadable / unchecked (c2pa-python missing),
    ``trusted`` (signer on a trust list), ``problems`` (failed checks besides
    an untrusted signer), ``signer``, ``issuer``, ``action``,
    ``source_type``, ``generator``, ``parameters``."""
    path = Path(path)
    report: dict[str, Any] = {"file": str(path), "error": None, "marks": None, "c2pa": None}
    try:
        if not path.exists():
            raise ValueError(f"{path}: file not found")
        if path.is_dir():
            raise ValueError(f"{path}: is a folder, expected an image file")
        decode_image(path, at_least=64)  # one line for non-image or truncated files
        report["marks"] = _marks(path)
        report["c2pa"] = _c2pa_report(path)
    except ValueError as exc:
        report["error"] = str(exc)
    except OSError as exc:
        from core.cli import describe_os_error

        report["error"] = describe_os_error(exc)
    return report


def describe(report: Mapping[str, Any]) -> list[str]:
    """The lines ``python -m detect provenance`` prints for one
    :func:`check_provenance` report: one error line, or one line for the
    marks and one for C2PA, each starting with the file name."""
    name = report["file"]
    if report.get("error"):
        error = report["error"]
        return [error if error.startswith(name) else f"{name}: {error}"]
    marks, c2 = report["marks"], report["c2pa"]
    if marks["present"]:
        params = json.dumps(marks["parameters"], sort_keys=True) if marks["parameters"] else "none"
        kind = "AI-generated" if marks["ai_generated"] else "not flagged AI-generated"
        mark_line = (f"repository marks: {kind}, source type {marks['source_type']}, "
                     f"generator {marks['generator']!r}, parameters {params}")
    else:
        mark_line = ("repository marks: none (no deepfake-lab PNG text chunks; they may have "
                     "been stripped)")
    status = c2["status"]
    if status in ("valid", "tampered"):
        trust = "trusted signer" if c2["trusted"] else "signer not on a trust list"
        what = (f"{c2['action']}, source type {c2['source_type']}, generator {c2['generator']!r}"
                if c2["action"] else "no c2pa.created action")
        c2_line = f"C2PA: {status}, signed by {c2['signer']!r} ({trust}); {what}"
        if c2["problems"]:
            c2_line += "; failed: " + "; ".join(c2["problems"][:3])
    elif status == "absent":
        c2_line = "C2PA: absent (no manifest)"
    else:
        c2_line = f"C2PA: {status} ({c2['reason']})"
    return [f"{name}: {mark_line}", f"{name}: {c2_line}"]


_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def replace_pixels(source: str | os.PathLike, target: str | os.PathLike,
                   pixels: np.ndarray) -> Path:
    """Write ``target``: the PNG ``source`` with its image data replaced by
    ``pixels`` (uint8 ``(H, W, 3)``, its size) and every other chunk (text
    marks, C2PA manifest) kept byte for byte, as an edit that keeps the
    metadata would. Shows what a manifest's hash catches. ``source`` must be
    8-bit RGB, not interlaced (as :func:`data.images.save_image` writes)."""
    from data.cache import atomic_path

    data = Path(source).read_bytes()
    if data[:8] != _PNG_SIGNATURE:
        raise ValueError(f"{source}: not a PNG file")
    chunks, pos = [], 8
    while pos + 8 <= len(data):  # PNG spec 5.3: length, type, data, CRC
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        chunks.append((data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]))
        pos += 12 + length
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", chunks[0][1])
    if (depth, colour, interlace) != (8, 2, 0):
        raise ValueError(f"{source}: expected an 8-bit RGB PNG without interlacing")
    pixels = np.asarray(pixels)
    if pixels.shape != (height, width, 3) or pixels.dtype != np.uint8:
        raise ValueError(f"pixels must be uint8 of shape {(height, width, 3)}, got "
                         f"{pixels.dtype} {pixels.shape}")
    raw = b"".join(b"\x00" + row.tobytes() for row in pixels)  # filter type 0 on every row
    out, written = [_PNG_SIGNATURE], False
    for kind, payload in chunks:
        if kind == b"IDAT":
            if written:
                continue
            payload, written = zlib.compress(raw), True
        out.append(struct.pack(">I", len(payload)) + kind + payload
                   + struct.pack(">I", zlib.crc32(kind + payload)))
    with atomic_path(target) as tmp:
        tmp.write_bytes(b"".join(out))
    return Path(target)
