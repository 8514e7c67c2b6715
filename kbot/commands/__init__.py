"""One module per ``kbot`` subcommand (see ``kbot.cli``)."""
