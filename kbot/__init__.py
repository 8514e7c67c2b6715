"""kbot: prices and trades Kalshi's Bitcoin markets as a tree of supervised Trio actors."""

__version__ = "0.1.0"
