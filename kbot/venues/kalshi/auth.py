"""Kalshi request signing (RSA-PSS), shared by the clients and the simulated venue.

Pre-sign string: ``timestamp_ms + METHOD + path`` where ``path`` starts at the host root and
includes ``/trade-api/v2`` (or ``/trade-api/ws/v2`` for the WebSocket upgrade) but not the
query string. Signature: RSA-PSS, SHA-256, MGF1(SHA-256), salt length = digest length (32),
base64 (standard alphabet, padded). Headers: ``KALSHI-ACCESS-KEY``, ``KALSHI-ACCESS-TIMESTAMP``,
``KALSHI-ACCESS-SIGNATURE``.

Keys come from a PEM file (PKCS#1 or PKCS#8, unencrypted). A key file readable by group or
others is refused unless explicitly allowed. Key material and signatures are never logged:
``Credentials`` redacts itself in ``repr``.
"""

from __future__ import annotations

import base64
import os
import re
import stat
import time
from pathlib import Path
from urllib.parse import urlsplit

import attrs
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

KEY_HEADER = "KALSHI-ACCESS-KEY"
TS_HEADER = "KALSHI-ACCESS-TIMESTAMP"
SIG_HEADER = "KALSHI-ACCESS-SIGNATURE"
WS_PATH = "/trade-api/ws/v2"

ENV_KEY_ID = "KALSHI_API_KEY_ID"
ENV_KEY_PATH = "KALSHI_PRIVATE_KEY_PATH"

_PSS = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.DIGEST_LENGTH)
_ESCAPE = re.compile(r"%[0-9a-fA-F]{2}")


class CredentialsError(Exception):
    """Credentials are missing, unreadable, insecure or invalid. The message says what to do."""


def signing_path(url_or_path: str) -> str:
    """The path to sign: host and query removed, percent-escapes upper-cased."""
    if "://" in url_or_path:
        path = urlsplit(url_or_path).path
    else:
        path = url_or_path.split("?", 1)[0]
    return _ESCAPE.sub(lambda m: m.group(0).upper(), path or "/")


def presign(ts_ms: int | str, method: str, path: str) -> bytes:
    return f"{ts_ms}{method.upper()}{signing_path(path)}".encode()


def sign(key: rsa.RSAPrivateKey, ts_ms: int | str, method: str, path: str) -> str:
    sig = key.sign(presign(ts_ms, method, path), _PSS, hashes.SHA256())
    return base64.b64encode(sig).decode("ascii")


def verify(public_key: rsa.RSAPublicKey, signature_b64: str, ts_ms: int | str, method: str, path: str) -> bool:
    try:
        sig = base64.b64decode(signature_b64, validate=True)
        public_key.verify(sig, presign(ts_ms, method, path), _PSS, hashes.SHA256())
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True


def check_key_file(path: Path, *, allow_insecure: bool = False) -> None:
    """Refuse a missing/unreadable key file, or one readable by group/others."""
    if not path.exists():
        raise CredentialsError(f"private key file {str(path)!r} does not exist; set {ENV_KEY_PATH} to your Kalshi key file")
    if not path.is_file():
        raise CredentialsError(f"private key path {str(path)!r} is not a file; set {ENV_KEY_PATH} to your Kalshi key file")
    if not os.access(path, os.R_OK):
        raise CredentialsError(f"private key file {str(path)!r} is not readable by this user; fix its permissions or {ENV_KEY_PATH}")
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO) and not allow_insecure:
        raise CredentialsError(
            f"private key file {str(path)!r} is accessible by group/others (mode {stat.S_IMODE(mode):o}); "
            f"run `chmod 600 {path}` (or allow it explicitly with allow_insecure_key / KBOT_ALLOW_INSECURE_KEY=1)"
        )


def load_private_key(path: str | os.PathLike[str], *, allow_insecure: bool = False) -> rsa.RSAPrivateKey:
    p = Path(path).expanduser()
    check_key_file(p, allow_insecure=allow_insecure)
    data = p.read_bytes()
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except TypeError as exc:
        raise CredentialsError(f"private key file {str(p)!r} is encrypted; Kalshi keys are unencrypted PEM") from exc
    except ValueError as exc:
        raise CredentialsError(
            f"private key file {str(p)!r} is not a PEM RSA private key (PKCS#1 or PKCS#8); check {ENV_KEY_PATH}"
        ) from exc
    if not isinstance(key, rsa.RSAPrivateKey):
        raise CredentialsError(f"private key file {str(p)!r} holds a {type(key).__name__}, not an RSA key")
    return key


def load_public_key(path: str | os.PathLike[str]) -> rsa.RSAPublicKey:
    data = Path(path).expanduser().read_bytes()
    key = serialization.load_pem_public_key(data)
    if not isinstance(key, rsa.RSAPublicKey):
        raise CredentialsError(f"public key file {str(path)!r} is not an RSA public key")
    return key


def generate_key_pair(bits: int = 2048) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def private_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def public_pem(key: rsa.RSAPublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


@attrs.frozen(repr=False)
class Credentials:
    """An API key id and its private key. ``repr``/``str`` never show the key."""

    key_id: str
    private_key: rsa.RSAPrivateKey = attrs.field(eq=False)

    def __repr__(self) -> str:
        return f"Credentials(key_id={self.key_id!r}, private_key=<redacted>)"

    __str__ = __repr__

    def headers(self, method: str, path: str, ts_ms: int | None = None) -> dict[str, str]:
        ts = int(time.time() * 1000) if ts_ms is None else int(ts_ms)
        return {
            KEY_HEADER: self.key_id,
            TS_HEADER: str(ts),
            SIG_HEADER: sign(self.private_key, ts, method, path),
        }

    @classmethod
    def from_files(cls, key_id: str | None, key_path: str | None, *, allow_insecure: bool = False) -> Credentials:
        if not key_id:
            raise CredentialsError(f"no Kalshi API key id: set {ENV_KEY_ID} (or kalshi.key_id in kbot.toml)")
        if not key_path:
            raise CredentialsError(
                f"no Kalshi private key: set {ENV_KEY_PATH} to the key file (or kalshi.private_key_path in kbot.toml)"
            )
        return cls(key_id=key_id, private_key=load_private_key(key_path, allow_insecure=allow_insecure))

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Credentials:
        env = os.environ if environ is None else environ
        allow = env.get("KBOT_ALLOW_INSECURE_KEY", "") in ("1", "true", "yes")
        return cls.from_files(env.get(ENV_KEY_ID), env.get(ENV_KEY_PATH), allow_insecure=allow)
