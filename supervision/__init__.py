"""supervision: an Erlang/OTP-style actor runtime for Trio.

Knows nothing of trading; depends only on trio, attrs and the standard library (loguru is
used for the default event log line when installed). See ``supervision/README.md``.
"""

from .events import SupervisionEvent, log_event
from .mailbox import Batch, LatestMailbox, Mailbox, MailboxStats, Registry
from .spec import Backoff, ChildSpec, Restart, Strategy
from .supervisor import ChildInfo, Supervisor, SupervisorGaveUp

__all__ = [
    "Backoff",
    "Batch",
    "ChildInfo",
    "ChildSpec",
    "LatestMailbox",
    "Mailbox",
    "MailboxStats",
    "Registry",
    "Restart",
    "Strategy",
    "SupervisionEvent",
    "Supervisor",
    "SupervisorGaveUp",
    "log_event",
]
