"""One module per ``infocam`` sub-command (discovered by :mod:`infocam.cli`)."""

#: The --split help of every command that reads a data set's split.
SPLIT_HELP = (
    "cub, tiny-imagenet, csv: test (odd half of the official test set), val (even half), all_test, "
    "train; wsol: a split folder of the metadata (train, val, test, ...) [test]"
)
