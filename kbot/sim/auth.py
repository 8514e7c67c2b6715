"""Who may talk to the simulated venue: registered API keys, signature checks, the demo key.

Requests are verified exactly as Kalshi does (reference §2): headers ``KALSHI-ACCESS-KEY``,
``-TIMESTAMP`` (ms) and ``-SIGNATURE`` (RSA-PSS over ``timestamp + METHOD + path``, path with
``/trade-api/v2`` and without the query), using ``kbot.venues.kalshi.auth.verify``.

**Timestamp window.** A signed timestamp more than ``skew_s`` (30 s) away from **real wall
time** is rejected. Not the sim clock: clients (kbot's and any third-party Kalshi client
pointed at the sim) sign with their own wall clock, and the sim clock runs ``speed`` times
faster from an arbitrary epoch, so comparing against it would reject every request after a
few seconds. The check therefore guards what it guards on Kalshi: stale or replayed
signatures and clients with a wrong clock (seconds instead of milliseconds, no NTP).

**Demo key.** ``demo_key(data_dir)`` creates an RSA key pair on first use under
``data_dir`` (private key 0600 in a 0700 directory) and reuses it afterwards, so ``kbot run
--venue sim`` and ``kbot sim`` share it without any setup.
"""

from __future__ import annotations

import os
import stat
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path

import attrs
from cryptography.hazmat.primitives.asymmetric import rsa

from kbot.venues.kalshi import auth as kauth

DEMO_KEY_FILE = "demo-key.pem"
DEMO_KEY_ID_FILE = "demo-key.id"
DEMO_PUBLIC_FILE = "demo-key.pub.pem"
_USER_NS = uuid.UUID("0b7c1d8e-5a2f-4c3b-8e61-2f4d9a7b6c55")


class AuthError(Exception):
    """401: the request is not signed by a registered key (message says why)."""

    def __init__(self, message: str, code: str = "authentication_error") -> None:
        super().__init__(message)
        self.message = message
        self.code = code


@attrs.frozen(slots=True)
class DemoKey:
    key_id: str
    private_key_path: Path
    public_key: rsa.RSAPublicKey = attrs.field(eq=False, repr=False)


def user_id_for(key_id: str) -> str:
    """The member a key belongs to (one member per key in the sim)."""
    return str(uuid.uuid5(_USER_NS, key_id))


class KeyRegistry:
    def __init__(self) -> None:
        self._keys: dict[str, tuple[rsa.RSAPublicKey, str]] = {}

    def register(self, key_id: str, public_key: rsa.RSAPublicKey, user_id: str | None = None) -> str:
        if not key_id:
            raise ValueError("an API key id must not be empty")
        uid = user_id or user_id_for(key_id)
        self._keys[key_id] = (public_key, uid)
        return uid

    def register_pem_file(self, key_id: str, path: str | os.PathLike[str]) -> str:
        try:
            key = kauth.load_public_key(path)
        except FileNotFoundError as exc:
            raise kauth.CredentialsError(f"public key file {str(path)!r} does not exist") from exc
        except ValueError as exc:
            raise kauth.CredentialsError(f"public key file {str(path)!r} is not a PEM RSA public key") from exc
        return self.register(key_id, key)

    def __contains__(self, key_id: str) -> bool:
        return key_id in self._keys

    def key_ids(self) -> list[str]:
        return list(self._keys)

    def user_ids(self) -> list[str]:
        return [uid for _, uid in self._keys.values()]

    def verify(
        self,
        headers: Mapping[str, str],
        method: str,
        path: str,
        *,
        wall_now: float,
        skew_s: float,
    ) -> tuple[str, str]:
        """``(key_id, user_id)`` of a correctly signed request, else ``AuthError``."""
        key_id = headers.get(kauth.KEY_HEADER.lower()) or headers.get(kauth.KEY_HEADER)
        ts = headers.get(kauth.TS_HEADER.lower()) or headers.get(kauth.TS_HEADER)
        sig = headers.get(kauth.SIG_HEADER.lower()) or headers.get(kauth.SIG_HEADER)
        missing = [h for h, v in ((kauth.KEY_HEADER, key_id), (kauth.TS_HEADER, ts), (kauth.SIG_HEADER, sig)) if not v]
        if missing:
            raise AuthError(f"missing authentication header(s): {', '.join(missing)}")
        assert key_id is not None and ts is not None and sig is not None
        entry = self._keys.get(key_id)
        if entry is None:
            raise AuthError("unknown API key id")
        if not ts.isdigit():
            raise AuthError("KALSHI-ACCESS-TIMESTAMP must be Unix time in milliseconds")
        skew = int(ts) / 1000.0 - wall_now
        if abs(skew) > skew_s:
            hint = " (is it in seconds instead of milliseconds?)" if int(ts) < 10**11 else ""
            raise AuthError(f"request timestamp is {skew:+.1f} s from the server's time, more than {skew_s:g} s{hint}")
        public_key, uid = entry
        if not kauth.verify(public_key, sig, ts, method, path):
            raise AuthError("invalid signature (sign timestamp_ms + METHOD + path including /trade-api/v2, without the query)")
        return key_id, uid


def demo_key(data_dir: str | os.PathLike[str], *, generate: Callable[[], rsa.RSAPrivateKey] | None = None) -> DemoKey:
    """The sim's demo key pair under ``data_dir``: created on first use, reused after."""
    d = Path(data_dir).expanduser()
    d.mkdir(parents=True, exist_ok=True)
    try:
        os.chmod(d, stat.S_IRWXU)
    except OSError:
        pass
    priv = d / DEMO_KEY_FILE
    id_file = d / DEMO_KEY_ID_FILE
    if priv.exists() and id_file.exists():
        key = kauth.load_private_key(priv)
        key_id = id_file.read_text().strip()
    else:
        key = (generate or kauth.generate_key_pair)()
        key_id = str(uuid.uuid4())
        tmp = d / (DEMO_KEY_FILE + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(kauth.private_pem(key))
        os.replace(tmp, priv)
        (d / DEMO_PUBLIC_FILE).write_bytes(kauth.public_pem(key.public_key()))
        id_file.write_text(key_id + "\n")
    return DemoKey(key_id=key_id, private_key_path=priv.resolve(), public_key=key.public_key())
