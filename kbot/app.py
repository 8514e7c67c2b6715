"""``kbot run`` in three modules, each with one job (this module only re-exports them):

- ``kbot.tree``: the supervised actor tree, its mailboxes and the state that outlives actor
  incarnations (``Tree``, ``drain_control``);
- ``kbot.routes``: the declarative route tables (message type -> inboxes) and the router;
- ``kbot.process``: the process around the tree: startup, preflight, signals, the simulated
  venue's epoch, the stop and the exit codes (``run_kbot``).

Money logic lives with the actors that own the money: the ledger opens the run's book and
drains its inbox (``actors.ledger``), the executor drains its decisions (``actors.executor``).
"""

from __future__ import annotations

from kbot.process import (
    GIL_SWITCH_INTERVAL_S,
    StartupError,
    connect_external_sim,
    freeze_startup_objects,
    run_kbot,
    save_sim_epoch,
    settle_after_stop,
    shorten_gil_switch_interval,
    sim_start_epoch,
)
from kbot.tree import FEEDS, ChaosCrash, Endpoints, Tree, chaotic, drain_control

__all__ = [
    "FEEDS",
    "GIL_SWITCH_INTERVAL_S",
    "ChaosCrash",
    "Endpoints",
    "StartupError",
    "Tree",
    "chaotic",
    "connect_external_sim",
    "drain_control",
    "freeze_startup_objects",
    "run_kbot",
    "save_sim_epoch",
    "settle_after_stop",
    "shorten_gil_switch_interval",
    "sim_start_epoch",
]
