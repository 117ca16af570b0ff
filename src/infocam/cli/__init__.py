"""The ``infocam`` command line.

Each sub-command lives in its own module under :mod:`infocam.cli.commands`
and exposes ``NAME``, ``HELP``, ``add_arguments(parser)`` and ``run(args)``.
Modules are discovered, so adding a command touches no other file. Command
modules import torch and friends inside ``run`` so that ``--help`` is fast.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Sequence

from infocam.errors import InputError

from . import commands as _commands_pkg


def _command_modules() -> list:
    mods = []
    for info in pkgutil.iter_modules(_commands_pkg.__path__):
        if info.name.startswith("_"):
            continue
        mod = importlib.import_module(f"{_commands_pkg.__name__}.{info.name}")
        if hasattr(mod, "NAME") and hasattr(mod, "run"):
            mods.append(mod)
    mods.sort(key=lambda m: (getattr(m, "ORDER", 50), m.NAME))
    return mods


def build_parser() -> argparse.ArgumentParser:
    from infocam import __version__

    parser = argparse.ArgumentParser(
        prog="infocam",
        description="Informative class activation maps (CAM, infoCAM, infoCAM+) and "
        "weakly supervised object localisation.",
    )
    parser.add_argument("--version", action="version", version=f"infocam {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for mod in _command_modules():
        p = sub.add_parser(
            mod.NAME,
            help=mod.HELP,
            description=getattr(mod, "DESCRIPTION", mod.HELP),
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        mod.add_arguments(p)
        p.set_defaults(_run=mod.run, _parser=p)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 2
    try:
        rc = args._run(args)
    except InputError as exc:
        print(f"infocam {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError) as exc:
        print(f"infocam {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"infocam {args.command}: interrupted", file=sys.stderr)
        return 130
    return int(rc or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
