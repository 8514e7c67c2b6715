"""A minimal signed Kalshi client for tests (raw httpx, independent of kbot.venues clients)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

import httpx

from kbot.venues.kalshi.auth import Credentials


class SimClient:
    def __init__(self, ep: Any, http: httpx.AsyncClient, creds: Credentials | None = None) -> None:
        self.ep = ep
        self.http = http
        self.creds = creds or Credentials.from_files(ep.key_id, str(ep.private_key_path))

    def url(self, path: str) -> str:
        return self.ep.rest_url + path

    def headers(self, method: str, path: str, **kw: Any) -> dict[str, str]:
        return self.creds.headers(method, urlsplit(self.url(path)).path, **kw)

    async def get(self, path: str, params: Any = None, *, signed: bool = True) -> httpx.Response:
        h = self.headers("GET", path) if signed else {}
        return await self.http.get(self.url(path), params=params, headers=h)

    async def post(self, path: str, body: Any) -> httpx.Response:
        return await self.http.post(self.url(path), json=body, headers=self.headers("POST", path))

    async def delete(self, path: str, params: Any = None, body: Any = None) -> httpx.Response:
        h = self.headers("DELETE", path)
        if body is not None:
            h["content-type"] = "application/json"
        return await self.http.request("DELETE", self.url(path), params=params, headers=h, content=json.dumps(body) if body is not None else None)

    def ws_headers(self) -> list[tuple[str, str]]:
        return list(self.creds.headers("GET", "/trade-api/ws/v2").items())


def order_body(ticker: str, side: str, price: str, count: str = "1", tif: str = "good_till_canceled", **extra: Any) -> dict[str, Any]:
    body = {
        "ticker": ticker,
        "side": side,
        "count": count,
        "price": price,
        "time_in_force": tif,
        "self_trade_prevention_type": "taker_at_cross",
    }
    body.update(extra)
    return body
