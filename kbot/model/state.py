"""The model in force, shared by the actors of one tree (a plain holder; no I/O).

- ``predictor``: the probability model and calibrated blend parameters
  (``kbot.model.predict.Predictor``). The pricers read it for every edge; the scorer actor
  replaces it whole after a walk-forward refit (``set_predictor``). ``base``: the parameters
  configured at start (shipped or ``model.params_file``), which every refit shrinks toward
  (kept apart so a restarted scorer does not refit a refit).
- ``evidence``: the evidence table per bucket (``kbot.model.evidence.EvidenceTable``). The
  decision actor reads it for the ``no_demonstrated_edge`` gate; the scorer replaces it after
  every scoring round. Until the scorer has loaded the record it is empty, so every candidate
  PASSes: fail safe.
- ``implied``: the implied-volatility book the pricers share (each observes its own quote and
  reads its event's fit: one of the model's volatility sources), fitted with the model's tails.

One writer (the scorer) and readers in the same Trio thread: a replaced object is seen whole by
the next reader; nothing is mutated in place except the implied book, which only the pricers
use.
"""

from __future__ import annotations

from kbot.model.config import GateConfig
from kbot.model.evidence import EMPTY, EvidenceTable
from kbot.model.implied import ImpliedVolBook
from kbot.model.predict import Predictor


class ModelState:
    def __init__(self, predictor: Predictor, *, gates: GateConfig | None = None, window_s: float = 60.0,
                 evidence: EvidenceTable = EMPTY) -> None:
        self._gates = gates or GateConfig()
        self._window_s = window_s
        self.predictor = predictor
        self.base = predictor.params
        self.evidence = evidence
        self.evidence_ts: float | None = None
        self.implied = ImpliedVolBook(self._gates, window_s=window_s, nu=predictor.model.nu)

    def set_predictor(self, predictor: Predictor) -> None:
        if predictor.model.nu != self.predictor.model.nu:
            self.implied = ImpliedVolBook(self._gates, window_s=self._window_s, nu=predictor.model.nu)
        self.predictor = predictor

    def set_evidence(self, table: EvidenceTable, ts: float) -> None:
        self.evidence = table
        self.evidence_ts = ts
