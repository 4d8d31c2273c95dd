"""Content Credentials (C2PA) for the images the repository writes: who signs
and how a PNG is signed.

:func:`sign_png` embeds a C2PA manifest in a PNG through ``c2pa-python``: one
action ``c2pa.created`` with the IPTC digital source type
(``trainedAlgorithmicMedia``, or ``compositeWithTrainedAlgorithmicMedia`` for
composites such as face swaps), the generator as the software agent and its
parameters. The manifest's hash covers every byte of the file outside the
manifest itself, so one changed pixel (or one changed PNG text chunk) makes
verification fail (:mod:`detect.provenance` checks files).

Who signs is configured by environment variables (:func:`signing_from_env`):

- ``DEEPFAKE_LAB_C2PA_CERT`` and ``DEEPFAKE_LAB_C2PA_KEY``: PEM files of the
  user's certificate chain (signer first) and private key (EC P-256/384/521,
  Ed25519 or RSA; the algorithm follows the key). ``DEEPFAKE_LAB_C2PA_TSA``:
  optional RFC 3161 time-stamp authority URL.
- ``DEEPFAKE_LAB_C2PA=test``: a local TEST certificate made here
  (:func:`test_signing_key`, cached in the project cache). Its subject says
  TEST and untrusted: verifiers report the signer as untrusted, while the
  manifest is still valid and tamper-evident.
- ``DEEPFAKE_LAB_C2PA=off``: never sign, say nothing.

Unconfigured, nothing is signed and :func:`sign_if_configured` (the hook of
:func:`data.images.save_image`) says so in one line, once per process, in a
terminal or a notebook (not into logs, pipes or captured output). Configured
but without ``c2pa-python`` installed, it warns once and signs nothing. The
PNG/IPTC text marks of :func:`data.images.save_image` are written in every
case.

Importing this module imports neither TensorFlow nor ``c2pa`` (an optional
dependency, the ``provenance`` extra, loaded when a file is signed).
"""

from __future__ import annotations

import datetime
import json
import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .cache import atomic_path, cache_dir
from .images import provenance

__all__ = ["C2PA_REQUIREMENT", "ENV_CERT", "ENV_KEY", "ENV_MODE", "ENV_TSA", "SigningKey",
           "TEST_CA", "TEST_SIGNER", "c2pa_error_text", "c2pa_module", "manifest_definition",
           "sign_if_configured", "sign_png", "signing_from_env", "test_signing_key"]

ENV_MODE = "DEEPFAKE_LAB_C2PA"
ENV_CERT = "DEEPFAKE_LAB_C2PA_CERT"
ENV_KEY = "DEEPFAKE_LAB_C2PA_KEY"
ENV_TSA = "DEEPFAKE_LAB_C2PA_TSA"
C2PA_REQUIREMENT = "c2pa-python==0.38.1"
#: subjects of the self-made test chain: every verifier shows them
TEST_SIGNER = "deepfake-lab TEST signer - untrusted, for tests only"
TEST_CA = "deepfake-lab TEST CA - untrusted, for tests only"
_TEST_FILE = "test-signer.pem"  # key and chain in one file: written (atomically) together
_TEST_DAYS = 730
_OFF_NOTE = (f"note: C2PA Content Credentials are off (no signing certificate: set {ENV_CERT} "
             f"and {ENV_KEY}, or {ENV_MODE}=test for a local untrusted test certificate; "
             f"{ENV_MODE}=off hides this line); images keep their PNG/IPTC marks")
_said_off = False
_said_missing = False


def c2pa_module():
    """The ``c2pa`` module (c2pa-python), or ValueError saying how to install it."""
    try:
        import c2pa
    except ImportError:
        raise ValueError(f"C2PA needs c2pa-python, which is not installed: pip install "
                         f"{C2PA_REQUIREMENT}") from None
    return c2pa


def _software_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("deepfake-lab")
    except PackageNotFoundError:
        return "dev"


# -- keys and certificates -------------------------------------------------------------------

@dataclass(frozen=True)
class SigningKey:
    """Who signs: ``chain`` (PEM certificates, signer first), ``key`` (PEM
    private key), ``alg`` (C2PA name: es256, es384, es512, ed25519, ps256),
    ``tsa_url`` (time-stamp authority or None) and ``origin`` (where it came
    from, for messages)."""

    chain: bytes
    key: bytes
    alg: str
    origin: str
    tsa_url: str | None = None


_PEM = re.compile(rb"-----BEGIN ([A-Z ]+)-----.+?-----END \1-----\s*", re.S)


def _pem_blocks(data: bytes) -> list[tuple[str, bytes]]:
    return [(m.group(1).decode(), m.group(0)) for m in _PEM.finditer(data)]


def _alg_for(key_pem: bytes, origin: str) -> str:
    """The C2PA algorithm of a PEM private key (ValueError naming ``origin`` if unusable)."""
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    try:
        key = load_pem_private_key(key_pem, password=None)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{origin}: not an unencrypted PEM private key ({exc})") from None
    if isinstance(key, ec.EllipticCurvePrivateKey):
        algs = {"secp256r1": "es256", "secp384r1": "es384", "secp521r1": "es512"}
        if key.curve.name not in algs:
            raise ValueError(f"{origin}: EC curve {key.curve.name} is not allowed by C2PA "
                             "(expected P-256, P-384 or P-521)")
        return algs[key.curve.name]
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return "ed25519"
    if isinstance(key, rsa.RSAPrivateKey):
        return "ps256"
    raise ValueError(f"{origin}: {type(key).__name__} keys cannot sign C2PA manifests "
                     "(expected EC, Ed25519 or RSA)")


def _name(common: str):
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME,
                                         "deepfake-lab TEST (untrusted)")])


def _make_test_chain() -> bytes:
    """A fresh ES256 test CA and end-entity signer -> PEM key, signer cert, CA cert.

    C2PA's certificate profile wants an end-entity signer (CA false, key
    usage digitalSignature, an EKU such as emailProtection, authority and
    subject key identifiers) issued by a CA, not a self-signed leaf."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID

    now = datetime.datetime.now(datetime.timezone.utc)
    start, end = now - datetime.timedelta(days=1), now + datetime.timedelta(days=_TEST_DAYS)

    def usage(sign: bool) -> x509.KeyUsage:
        return x509.KeyUsage(digital_signature=sign, content_commitment=False,
                             key_encipherment=False, data_encipherment=False,
                             key_agreement=False, key_cert_sign=not sign, crl_sign=not sign,
                             encipher_only=False, decipher_only=False)

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (x509.CertificateBuilder().subject_name(_name(TEST_CA)).issuer_name(_name(TEST_CA))
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(start).not_valid_after(end)
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(usage(False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()),
                         critical=False)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (x509.CertificateBuilder().subject_name(_name(TEST_SIGNER)).issuer_name(ca.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(start).not_valid_after(end)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(usage(True), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]),
                           critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                           critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    return (key.private_bytes(pem, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption())
            + leaf.public_bytes(pem) + ca.public_bytes(pem))


def _usable_test_file(path: Path) -> tuple[bytes, bytes] | None:
    """(key, chain) from a cached test file that still has 30 days to run, else None."""
    from cryptography import x509

    try:
        blocks = _pem_blocks(path.read_bytes())
        keys = [b for kind, b in blocks if kind.endswith("PRIVATE KEY")]
        certs = [b for kind, b in blocks if kind == "CERTIFICATE"]
        leaf = x509.load_pem_x509_certificate(certs[0])
    except (OSError, IndexError, ValueError):
        return None
    left = leaf.not_valid_after_utc - datetime.datetime.now(datetime.timezone.utc)
    if len(keys) != 1 or len(certs) != 2 or left < datetime.timedelta(days=30):
        return None
    return keys[0], b"".join(certs)


def test_signing_key(folder: str | os.PathLike | None = None) -> SigningKey:
    """The local TEST signing key (ES256), made once and cached as
    ``folder/test-signer.pem`` (default: the project cache's ``c2pa/``);
    remade when missing, unreadable or within 30 days of expiry. Its
    certificates are labelled TEST and untrusted in their subjects."""
    folder = Path(folder) if folder is not None else cache_dir("c2pa")
    path = folder / _TEST_FILE
    found = _usable_test_file(path)
    if found is None:
        folder.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp:
            tmp.write_bytes(_make_test_chain())
            os.chmod(tmp, 0o600)  # a private key, if only a test one
        found = _usable_test_file(path)
        if found is None:  # pragma: no cover - only if the file system lies
            raise OSError(None, "test certificate unreadable after writing it", str(path))
    key, chain = found
    return SigningKey(chain=chain, key=key, alg="es256", origin=f"{path} (TEST, untrusted)")


def _settings(env: Mapping[str, str]) -> tuple[str, str, str]:
    """``(mode, cert, key)`` as the environment spells them (stripped; mode
    lower-case); ValueError naming ``DEEPFAKE_LAB_C2PA`` for an unknown mode."""
    mode = env.get(ENV_MODE, "").strip().lower()
    if mode not in ("", "on", "off", "test"):
        raise ValueError(f"{ENV_MODE} must be test, off or unset, got {env[ENV_MODE]!r}")
    return mode, env.get(ENV_CERT, "").strip(), env.get(ENV_KEY, "").strip()


def signing_from_env(environ: Mapping[str, str] | None = None) -> SigningKey | None:
    """The signing key the environment configures (see the module docstring),
    or None when signing is off or not configured. A half or broken
    configuration raises ValueError (unreadable files OSError) naming the
    variable or file."""
    env = os.environ if environ is None else environ
    mode, cert, key = _settings(env)
    if mode == "off":
        return None
    tsa = env.get(ENV_TSA, "").strip() or None
    if cert or key:
        if not (cert and key):
            missing, given = (ENV_KEY, ENV_CERT) if cert else (ENV_CERT, ENV_KEY)
            raise ValueError(f"{given} is set but {missing} is not: C2PA signing needs both "
                             "the certificate chain and its private key (PEM files)")
        chain, key_pem = Path(cert).read_bytes(), Path(key).read_bytes()
        if not any(kind == "CERTIFICATE" for kind, _ in _pem_blocks(chain)):
            raise ValueError(f"{ENV_CERT}={cert}: no PEM certificate in this file")
        return SigningKey(chain=chain, key=key_pem, alg=_alg_for(key_pem, f"{ENV_KEY}={key}"),
                          origin=f"{ENV_CERT}={cert}", tsa_url=tsa)
    if mode == "test":
        return test_signing_key()
    return None


# -- signing ---------------------------------------------------------------------------------

def manifest_definition(generator: str, params: Mapping[str, Any] | None = None, *,
                        source_type: str = "trainedAlgorithmicMedia",
                        title: str | None = None) -> dict[str, Any]:
    """The C2PA manifest definition of a generated image: one ``c2pa.created``
    action with the IPTC ``digitalSourceType`` URI of ``source_type``, the
    generator as ``softwareAgent`` and ``params`` (made JSON-safe) as the
    action's parameters (the values of the PNG marks,
    :func:`data.images.provenance`)."""
    marks = provenance(str(generator), params, source_type=source_type)
    action = {"action": "c2pa.created", "digitalSourceType": marks["DigitalSourceType"],
              "softwareAgent": {"name": marks["Generator"]},
              "parameters": json.loads(marks["Parameters"])}
    out: dict[str, Any] = {
        "claim_generator_info": [{"name": "deepfake-lab", "version": _software_version()}],
        "assertions": [{"label": "c2pa.actions", "data": {"actions": [action]}}]}
    if title:
        out["title"] = title
    return out


def c2pa_error_text(exc: Exception) -> str:
    """A c2pa-python error as one short line."""
    return " ".join(str(getattr(exc, "message", "") or exc).split())[:300]


def sign_png(source: str | os.PathLike, target: str | os.PathLike | None = None, *,
             generator: str, params: Mapping[str, Any] | None = None,
             source_type: str = "trainedAlgorithmicMedia", key: SigningKey | None = None,
             title: str | None = None) -> Path:
    """Embed a signed C2PA manifest (:func:`manifest_definition`) in the PNG
    ``source``, writing ``target`` (default: ``source`` itself) atomically;
    return the path written. ``key``: default :func:`signing_from_env`, else
    the TEST key. A signing failure (e.g. a certificate C2PA refuses) raises
    ValueError naming its origin; ``source`` is never damaged."""
    c2pa = c2pa_module()
    source = Path(source)
    target = Path(target) if target is not None else source
    key = key or signing_from_env() or test_signing_key()
    manifest = manifest_definition(generator, params, source_type=source_type,
                                   title=title or target.name)
    # no thumbnail: for small images it is most of the manifest (180 kB for 32x32 px)
    settings = c2pa.Settings.from_dict({"builder": {"thumbnail": {"enabled": False}}})
    try:
        signer = c2pa.Signer.from_info(c2pa.C2paSignerInfo(key.alg, key.chain, key.key,
                                                           key.tsa_url))
        with c2pa.Builder(manifest, context=c2pa.Context(settings=settings)) as builder, \
                open(source, "rb") as src, atomic_path(target) as tmp, open(tmp, "w+b") as dst:
            builder.sign(signer, "image/png", src, dst)
    except c2pa.C2paError as exc:
        raise ValueError(f"{source}: C2PA signing with {key.origin} failed "
                         f"({c2pa_error_text(exc)})") from None
    return target


def _interactive() -> bool:
    """A person is likely reading stderr: a terminal or a notebook kernel (logs,
    pipes and captured output, such as a test's, do not get the note)."""
    try:
        if sys.stderr.isatty():
            return True
    except (AttributeError, ValueError):  # replaced or closed stream
        pass
    ipython = sys.modules.get("IPython")  # a kernel's shell has a kernel; a test process has none
    shell = ipython.get_ipython() if ipython is not None else None
    return getattr(shell, "kernel", None) is not None


def sign_if_configured(path: str | os.PathLike, *, generator: str,
                       params: Mapping[str, Any] | None = None,
                       source_type: str = "trainedAlgorithmicMedia", required: bool = False,
                       title: str | None = None) -> bool:
    """Sign the PNG ``path`` in place when the environment configures a key
    (:func:`signing_from_env`); return whether it did. Unconfigured: with
    ``required`` ValueError, else one line on stderr saying signing is off
    (once per process, when a person is likely to read it: a terminal or a
    notebook). Configured without c2pa-python: with ``required``
    ValueError, else one warning per process and no signature (the file
    keeps its PNG marks; an image is never lost for want of a signature)."""
    global _said_off, _said_missing
    mode, cert, key_file = _settings(os.environ)
    if mode != "off" and (cert or key_file or mode == "test"):
        try:
            c2pa_module()  # before any key is made: the test chain needs its cryptography
        except ValueError as exc:
            if required:
                raise
            if not _said_missing:
                _said_missing = True
                print(f"warning: {exc}; images keep only their PNG/IPTC marks", file=sys.stderr)
            return False
    key = signing_from_env()
    if key is None:
        if required:
            raise ValueError(f"C2PA signing was requested but no key is configured: set "
                             f"{ENV_CERT} and {ENV_KEY}, or {ENV_MODE}=test")
        if not _said_off and mode != "off" and _interactive():
            _said_off = True
            print(_OFF_NOTE, file=sys.stderr)
        return False
    sign_png(path, generator=generator, params=params, source_type=source_type, key=key,
             title=title)
    return True


