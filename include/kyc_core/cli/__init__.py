"""The `kyc` command line: one module per command group, each exposing `register(subparsers)`."""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import logging
import sys

from sqlalchemy.exc import SQLAlchemyError

from kyc_core.errors import UserError

# Command groups in help order; each module adds its subcommands and sets `func` on its parsers.
COMMAND_MODULES = (
    "kyc_core.cli.db",
    "kyc_core.cli.audit",
    "kyc_core.cli.lists",
    "kyc_core.cli.screen",
    "kyc_core.cli.compare",
    "kyc_core.cli.case",
    "kyc_core.cli.judge",
    "kyc_core.cli.sla",
    "kyc_core.cli.cost",
    "kyc_core.cli.customers",
    "kyc_dev.cli.emulator",
    "kyc_dev.cli.mailsink",
)


class _Parser(argparse.ArgumentParser):
    """argparse that reports bad arguments as one line on stderr with exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        sys.stderr.write(f"{self.prog}: error: {message}\n")
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    """The full parser with every available command group."""
    parser = _Parser(prog="kyc", description="KYC and Enhanced Due Diligence: database, audit trail, lists, screening.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details to stderr")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for name in COMMAND_MODULES:
        if importlib.util.find_spec(name) is None:
            continue
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `kyc` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    func = getattr(args, "func", None)
    if func is None:
        parser.parse_args([*(argv or sys.argv[1:]), "--help"])
        return 2
    try:
        return int(func(args) or 0)
    except UserError as exc:
        sys.stderr.write(f"kyc: error: {exc}\n")
        return 1
    except SQLAlchemyError as exc:
        # An unreachable or unmigrated database is an operator's problem to fix, not a crash.
        detail = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        hint = " (run `kyc db upgrade`?)" if "no such table" in detail or "does not exist" in detail else ""
        sys.stderr.write(f"kyc: error: KYC database: {detail}{hint}\n")
        return 1
    except KeyboardInterrupt:
        sys.stderr.write("kyc: interrupted\n")
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    raise SystemExit(main())
