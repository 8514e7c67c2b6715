"""Kalshi RSA-PSS signing: exact pre-sign strings, verification, key file checks, redaction."""

import base64
import os

import pytest
from cryptography.hazmat.primitives import serialization

from kbot.venues.kalshi import auth


@pytest.fixture(scope="module")
def key():
    return auth.generate_key_pair()


@pytest.mark.parametrize(
    "url,expected",
    [
        ("https://external-api.kalshi.com/trade-api/v2/portfolio/orders?limit=5", "/trade-api/v2/portfolio/orders"),
        ("/trade-api/v2/portfolio/balance", "/trade-api/v2/portfolio/balance"),
        ("/trade-api/v2/markets?series_ticker=KXBTC&status=open", "/trade-api/v2/markets"),
        ("wss://external-api-ws.kalshi.com/trade-api/ws/v2", "/trade-api/ws/v2"),
        ("/trade-api/v2/markets/A%2fB", "/trade-api/v2/markets/A%2FB"),
    ],
)
def test_signing_path_drops_host_and_query(url, expected):
    assert auth.signing_path(url) == expected


def test_presign_string_is_exact():
    assert auth.presign(1703123456789, "get", "/trade-api/v2/portfolio/balance") == (
        b"1703123456789GET/trade-api/v2/portfolio/balance"
    )
    assert auth.presign("1703123456789", "POST", "https://h/trade-api/v2/portfolio/events/orders?x=1") == (
        b"1703123456789POST/trade-api/v2/portfolio/events/orders"
    )


def test_signature_verifies_with_public_key_and_is_randomized(key):
    ts = 1703123456789
    s1 = auth.sign(key, ts, "GET", "/trade-api/v2/portfolio/balance")
    s2 = auth.sign(key, ts, "GET", "/trade-api/v2/portfolio/balance")
    assert s1 != s2  # PSS is randomized: verify, never compare
    pub = key.public_key()
    assert auth.verify(pub, s1, ts, "GET", "/trade-api/v2/portfolio/balance")
    assert auth.verify(pub, s2, ts, "GET", "/trade-api/v2/portfolio/balance?limit=1")  # query not signed
    assert not auth.verify(pub, s1, ts + 1, "GET", "/trade-api/v2/portfolio/balance")
    assert not auth.verify(pub, s1, ts, "POST", "/trade-api/v2/portfolio/balance")
    assert not auth.verify(pub, s1, ts, "GET", "/portfolio/balance")
    assert not auth.verify(pub, "not base64!!", ts, "GET", "/trade-api/v2/portfolio/balance")
    assert len(base64.b64decode(s1)) == 256  # 2048-bit key


def test_headers_and_redaction(key):
    creds = auth.Credentials("a952bcbe-ec3b-4b5b-b8f9-11dae589608c", key)
    h = creds.headers("GET", "/trade-api/ws/v2", ts_ms=1700000000000)
    assert h[auth.KEY_HEADER] == creds.key_id and h[auth.TS_HEADER] == "1700000000000"
    assert auth.verify(key.public_key(), h[auth.SIG_HEADER], h[auth.TS_HEADER], "GET", auth.WS_PATH)
    assert "PRIVATE" not in repr(creds) and "redacted" in str(creds)


def _write(tmp_path, name, data, mode):
    p = tmp_path / name
    p.write_bytes(data)
    os.chmod(p, mode)
    return p


def test_loads_pkcs1_and_pkcs8(tmp_path, key):
    pkcs8 = auth.private_pem(key)
    pkcs1 = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    )
    # two different encodings of the same generated key: PKCS#1 names RSA in its PEM header, PKCS#8 does not
    header1, header8 = pkcs1.split(b"\n", 1)[0], pkcs8.split(b"\n", 1)[0]
    assert b"RSA" in header1 and b"RSA" not in header8
    for name, data in (("k8.pem", pkcs8), ("k1.pem", pkcs1)):
        loaded = auth.load_private_key(_write(tmp_path, name, data, 0o600))
        sig = auth.sign(loaded, 1, "GET", "/trade-api/v2/x")
        assert auth.verify(key.public_key(), sig, 1, "GET", "/trade-api/v2/x")


def test_refuses_world_readable_key_unless_allowed(tmp_path, key):
    p = _write(tmp_path, "k.pem", auth.private_pem(key), 0o644)
    with pytest.raises(auth.CredentialsError, match="chmod 600"):
        auth.load_private_key(p)
    assert auth.load_private_key(p, allow_insecure=True) is not None


def test_clear_errors_for_missing_or_bad_credentials(tmp_path):
    with pytest.raises(auth.CredentialsError, match="KALSHI_API_KEY_ID"):
        auth.Credentials.from_env({})
    with pytest.raises(auth.CredentialsError, match="KALSHI_PRIVATE_KEY_PATH"):
        auth.Credentials.from_env({"KALSHI_API_KEY_ID": "k"})
    with pytest.raises(auth.CredentialsError, match="does not exist"):
        auth.Credentials.from_env({"KALSHI_API_KEY_ID": "k", "KALSHI_PRIVATE_KEY_PATH": str(tmp_path / "nope")})
    bad = _write(tmp_path, "bad.pem", b"not a key", 0o600)
    with pytest.raises(auth.CredentialsError, match="not a PEM RSA private key"):
        auth.load_private_key(bad)
