"""The simulated venue's configuration for end-to-end runs: a reduced set of markets (a few
strikes per event) so a run fits a CI budget on two cores, deliberate mispricing (the default
simulated market is as efficient as the real one, so without it kbot would rightly trade almost
nothing and the trading path would go untested), optional venue faults, optional crashes of
actors on purpose."""

SMALL_SIM = """
[sim]
seed = {seed}
mispricing = 0.08
ladder_strikes = 6
brackets = 4
hourly_ahead = 1
{faults}

[health]
interval_s = 5.0

[scorer]
every_s = 600.0
{model}
{chaos}
"""

# The trading path under test (TAKEs, fills, positions, settlements): the original GBM pricer,
# unblended, without the evidence gate. With kbot's defaults nothing is traded until the record
# shows an edge (test_kbot_run's sigterm run checks that default).
TRADING = """
[model]
params_file = "gbm-raw"
[evidence]
gate = false
"""

FAULTS = (
    'faults = "ws_drop:p=0.0003:target=kalshi,ws_drop:p=0.0005:target=coinbase,seq_skip:p=0.001,'
    'bad_json:p=0.001,wrong_type:p=0.001,http_500:p=0.02:burst=3"'
)
# Crash the core actors every 40-60 simulated minutes (20-30 s of wall time at 120x): frequent
# enough to happen several times, rare enough to stay under the root's restart intensity.
CHAOS = """
[chaos.crash]
decision = 2400.0
ledger = 3000.0
executor = 2700.0
pricer = 3300.0
"""
