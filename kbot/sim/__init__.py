"""The simulated venue: a local Kalshi + spot-exchange stand-in that speaks the real protocols.

    from kbot.sim import running_sim, SimEndpoints, SimConfig
    async with running_sim(SimConfig(speed=60.0, seed=1)) as ep:
        ep.rest_url, ep.ws_url, ep.coinbase_url, ep.binance_url, ep.kraken_url
        ep.key_id, ep.private_key_path, ep.clock, ep.sim

``kbot sim`` serves it standalone. Modules: ``pricepath`` (index), ``calendar`` (series,
tickers), ``market`` (lifecycle schedule), ``book``/``engine`` (matching), ``accounts``
(ledger), ``agents`` (market makers, takers), ``exchange`` (the pure core), ``kalshi_json``
(wire shapes), ``rest*``/``ws_kalshi``/``ws_server``/``feed_protocols``/``spot`` (protocols),
``auth``/``ratelimit``/``faults`` (gatekeeping and fault injection), ``venue``/``server``.
"""

from kbot.sim.config import SimConfig
from kbot.sim.faults import FaultConfig, FaultInjector
from kbot.sim.server import SimEndpoints, running_sim

__all__ = ["FaultConfig", "FaultInjector", "SimConfig", "SimEndpoints", "running_sim"]
