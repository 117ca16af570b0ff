"""One module per ``infocam`` sub-command (discovered by :mod:`infocam.cli`)."""
