"""`kbot kill`: the operator kill switch. While the kill file exists every candidate PASSes with
reason `kill_switch` (the running decision actor notices within `risk.kill_poll_s`); it survives
restarts. `--clear` removes it; `--reset` clears an automatic trip (daily loss before UTC midnight,
or an unreadable risk state) without waiting for midnight; `--status` shows the state."""

from __future__ import annotations

import argparse
import getpass
import time

from kbot.commands.common import add_config_arguments, load_from_args


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_arguments(parser)
    g = parser.add_mutually_exclusive_group()
    g.add_argument("--clear", action="store_true", help="remove the operator kill file (trading may resume)")
    g.add_argument("--reset", action="store_true", help="clear an automatic daily-loss / corrupt-state trip")
    g.add_argument("--status", action="store_true", help="show whether the kill file is present")
    parser.add_argument("--reason", default="operator request", help="why (recorded in the kill file)")


def main(args: argparse.Namespace) -> int:
    from kbot.model.killswitch import clear_kill, read_kill, request_kill, request_reset

    cfg = load_from_args(args)
    if cfg is None:
        return 2
    path = cfg.risk.kill_file
    try:
        who = getpass.getuser()
    except Exception:
        who = None
    if args.status:
        reason = read_kill(path)
        print(f"kill switch: {'ON (' + reason + ')' if reason else 'off'} [{path}]")
        return 0
    if args.clear:
        print("kill file removed" if clear_kill(path) else "no kill file was present", f"[{path}]")
        return 0
    if args.reset:
        request_reset(path, ts=time.time(), by=who)
        print(f"reset requested: the decision actor clears an automatic trip on its next poll [{path}.reset]")
        return 0
    request_kill(path, args.reason, ts=time.time(), by=who)
    print(f"KILL SWITCH ON: every new TAKE is refused until `kbot kill --clear` [{path}]")
    return 0
