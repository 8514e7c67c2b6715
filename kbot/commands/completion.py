"""`kbot completion bash|zsh|tcsh`: print a shell completion script for kbot (commands, their
actions and options), generated from the argument parser itself by ``shtab``, so it never
falls behind the commands.

    kbot completion bash > ~/.local/share/bash-completion/completions/kbot   # or /etc/bash_completion.d/kbot
    kbot completion zsh > "${fpath[1]}/_kbot"                                 # then: compinit
"""

from __future__ import annotations

import argparse

SHELLS = ("bash", "zsh", "tcsh")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("shell", choices=SHELLS, help="the shell to complete in")


def script(shell: str) -> str:
    import shtab

    from kbot.cli import build_parser

    parser = build_parser()
    for action in parser._actions:  # files for the options that name files
        _mark_files(action)
    for sub in _subparsers(parser):
        for action in sub._actions:
            _mark_files(action)
    return str(shtab.complete(parser, shell=shell))


def _subparsers(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    out: list[argparse.ArgumentParser] = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for p in action.choices.values():
                out.append(p)
                out.extend(_subparsers(p))
    return out


def _mark_files(action: argparse.Action) -> None:
    import shtab

    if any(o in ("--config", "--out") for o in action.option_strings):
        action.complete = shtab.FILE  # type: ignore[attr-defined]


def main(args: argparse.Namespace) -> int:
    print(script(args.shell))
    return 0
