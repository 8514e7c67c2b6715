"""Kalshi Trade API v2: signing, REST and WebSocket clients, parsers, local order book, discovery."""
