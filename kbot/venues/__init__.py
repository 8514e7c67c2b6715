"""Venue protocol code: everything that knows a wire format lives here, nothing past a feed actor
sees raw JSON.

Layout (sans-I/O cores, thin I/O shells):

- ``config``: ``VenueConfig`` = ``[kalshi]`` (``KalshiConfig``: venue prod|demo|sim, URLs, keys,
  ``rest``/``ws``/``rest_feed`` sections) + ``[spot]`` (``SpotFeedsConfig``); env overrides
  ``KALSHI_REST_URL``, ``KALSHI_WS_URL``, ``KALSHI_API_KEY_ID``, ``KALSHI_PRIVATE_KEY_PATH``.
- ``wire``: strict exact field readers (Decimal money/counts) and ``WireError(kind)``.
- ``backoff``, ``ratelimit``: exponential backoff with jitter; Kalshi's token buckets by tier.
- ``wslink``: one WebSocket connection read continuously (bounded frame queue, drops counted,
  pings always answered), silence probe, max age, recorder hook; ``LinkHealth``.
- ``kalshi/``: ``auth`` (RSA-PSS), ``errors`` (one typed error for every body shape), ``types``
  (V2 order requests/acks), ``rest_parse`` and ``ws_parse`` (one pure function per wire message
  type, incl. legacy cent shapes of old recordings), ``book`` (local order book), ``rest``
  (``KalshiRestClient``), ``discovery`` (usable BTC markets, effective fees), ``ws_session``
  (sans-I/O subscriptions/sequence/books state machine), ``ws`` (``KalshiWsClient``).
- ``spot/``: Coinbase Advanced Trade, Binance spot, Kraken v2 protocols and ``SpotFeedClient``.

The feed actors that run these are in ``actors/`` (``spot_feed``, ``kalshi_ws_feed``,
``kalshi_rest_feed``).
"""
