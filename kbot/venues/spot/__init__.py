"""BTC spot feeds: Coinbase Advanced Trade, Binance spot, Kraken v2 (public WebSockets).

Each exchange module has the subscribe frames, one pure parse function per message type and a
small ``*Protocol`` object that dispatches frames (and keeps what a message needs from earlier
ones, e.g. Binance's last trade price). ``feed.SpotFeedClient`` runs any of them over a
``wslink`` connection with reconnects and staleness detection. Every feed yields
``SpotTick(source, ts, price, bid, ask, recv_ts)``: ``ts`` is the exchange's time when the message
carries one, ``recv_ts`` is always kbot's receive time.
"""

from kbot.venues.spot.binance import BinanceProtocol
from kbot.venues.spot.coinbase import CoinbaseProtocol
from kbot.venues.spot.kraken import KrakenProtocol

__all__ = ["BinanceProtocol", "CoinbaseProtocol", "KrakenProtocol"]
