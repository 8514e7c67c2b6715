"""Fixtures for the venue tests: a test RSA key (generated at test time, never committed), its
key file (0600) and credentials."""

from __future__ import annotations

import os

import pytest

from kbot.venues.kalshi import auth


@pytest.fixture(scope="session")
def rsa_key():
    return auth.generate_key_pair()


@pytest.fixture
def key_file(tmp_path, rsa_key):
    p = tmp_path / "kalshi.key"
    p.write_bytes(auth.private_pem(rsa_key))
    os.chmod(p, 0o600)
    return p


@pytest.fixture
def creds(rsa_key):
    return auth.Credentials("a952bcbe-ec3b-4b5b-b8f9-11dae589608c", rsa_key)
