"""The ``infocam`` command line.

Each sub-command lives in its own module under :mod:`infocam.cli.commands`
and exposes ``NAME``, ``HELP``, ``add_arguments(parser)`` and ``run(args)``.
Modules are discovered, so adding a command touches no other file. Command
modules import torch and friends inside ``run`` so that ``--help`` is fast.
"""

from __future__ import annotations

import argparse
import errno
import importlib
import pkgutil
import re
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
        p.set_defaults(_run=mod.run, _parser=p, _flags=getattr(mod, "ARGUMENT_FLAGS", {}))
    return parser


#: OS errors that are the user's or the machine's, not a bug: a path that is
#: missing, taken, not a folder, not writable, or a disk that is full.
_USER_ERRNOS = frozenset(
    getattr(errno, name)
    for name in ("ENOENT", "EEXIST", "ENOTDIR", "EISDIR", "EACCES", "EPERM", "EROFS", "ENOSPC",
                 "EDQUOT", "EFBIG", "ENAMETOOLONG", "ELOOP", "ETXTBSY")
    if hasattr(errno, name)
)
_USER_OSERRORS = (FileNotFoundError, FileExistsError, IsADirectoryError, NotADirectoryError, PermissionError)


def _one_line(text: str) -> str:
    """The message of an error as one line.

    An exception raised in a DataLoader worker comes back re-raised with
    torch's wrapping ("Caught InputError in DataLoader worker process 0.
    Original Traceback ..."); the original message is its last line.
    """
    lines = [line.strip() for line in str(text).splitlines() if line.strip()]
    if not lines:
        return ""
    if len(lines) > 1 and any(line.startswith("Original Traceback") for line in lines):
        last = lines[-1]
        head, sep, rest = last.partition(": ")
        if sep and head.replace(".", "").replace("_", "").isalnum():  # "infocam.errors.InputError: ..."
            last = rest
        return last
    return " ".join(lines)


def _os_message(exc: OSError) -> str:
    """``path: reason`` for an OS error (``[Errno 28] ...`` reads badly)."""
    if exc.strerror and exc.filename is not None:
        other = f" -> {exc.filename2}" if exc.filename2 is not None else ""
        return f"{exc.filename}{other}: {exc.strerror}"
    if exc.strerror:
        return exc.strerror
    return _one_line(str(exc)) or type(exc).__name__


def _as_flag_error(parser: argparse.ArgumentParser, exc: ValueError, flags: dict[str, str]) -> str | None:
    """A library error about an argument, restated with the flag the user typed.

    Library functions raise ``ValueError("threshold must lie in [0, 1]; ...")``
    naming their argument; when that name is the destination of one of this
    command's options (``--threshold``), or a key of the command module's
    ``ARGUMENT_FLAGS`` (a library argument named otherwise than its flag),
    the message names the option instead. Any other ``ValueError`` is a bug
    and gives None.
    """
    text = _one_line(str(exc))
    match = re.match(r"([A-Za-z_][A-Za-z0-9_]*)\b", text)
    if not match:
        return None
    if match.group(1) in flags:
        return flags[match.group(1)] + text[match.end() :]
    for action in parser._actions:
        if action.dest == match.group(1) and action.option_strings:
            flag = max(action.option_strings, key=len)
            return flag + text[match.end() :]
    return None


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``infocam`` command line; returns the exit code.

    A user error (an :class:`InputError`, a library ``ValueError`` about an
    argument the user gave as a flag, a path that is missing or not
    writable, a full disk) prints one line, ``infocam COMMAND: error: ...``,
    to stderr and returns 2, with no traceback.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 2
    prefix = f"infocam {args.command}: error:"
    try:
        rc = args._run(args)
    except InputError as exc:
        print(f"{prefix} {_one_line(str(exc))}", file=sys.stderr)
        return 2
    except ValueError as exc:
        message = _as_flag_error(args._parser, exc, args._flags)
        if message is None:
            raise
        print(f"{prefix} {message}", file=sys.stderr)
        return 2
    except OSError as exc:
        if not (isinstance(exc, _USER_OSERRORS) or exc.errno in _USER_ERRNOS):
            raise
        print(f"{prefix} {_one_line(_os_message(exc))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"infocam {args.command}: interrupted", file=sys.stderr)
        return 130
    return int(rc or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
