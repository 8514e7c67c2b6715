"""The simulated venue: a local Kalshi + spot-exchange stand-in that speaks the real protocols.

    from kbot.sim import running_sim, SimEndpoints, SimConfig
    async with running_sim(SimConfig(speed=60.0, seed=1)) as ep:
        ep.rest_url, ep.ws_url, ep.coinbase_url, ep.binance_url, ep.kraken_url
        ep.key_id, ep.private_key_path, ep.clock, ep.sim

``kbot sim`` serves it standalone; see ``kbot/sim/README.md``. Modules: ``pricepath`` (index),
``brti`` (Kalshi's index averages), ``calendar`` (series, tickers), ``market`` (markets and the
listing plan), ``lifecycle`` (transitions, settlement), ``book``/``engine`` (matching),
``accounts`` (ledger), ``truth``/``fairvalue`` (the true probabilities the participants quote
around), ``agents`` (market makers, takers), ``exchange`` (the pure core),
``kalshi_json`` (wire shapes), ``rest*``/``ws_kalshi``/``ws_server``/``feed_protocols``/``spot``
(protocols), ``auth``/``ratelimit``/``faults`` (gatekeeping, fault injection), ``venue``/``server``,
``process`` (the venue in its own process for ``kbot run``), ``calibrate`` (real vs simulated figures).

The serving parts (Starlette, Hypercorn, numpy) load on first use of ``running_sim`` or
``SimEndpoints``, so importing the config stays cheap (``kbot --help``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kbot.sim.config import SimConfig
from kbot.sim.faults import FaultConfig, FaultInjector

if TYPE_CHECKING:
    from kbot.sim.server import SimEndpoints, running_sim

__all__ = ["FaultConfig", "FaultInjector", "SimConfig", "SimEndpoints", "running_sim"]


def __getattr__(name: str) -> Any:
    if name in ("running_sim", "SimEndpoints"):
        from kbot.sim import server

        return getattr(server, name)
    raise AttributeError(f"module 'kbot.sim' has no attribute {name!r}")
