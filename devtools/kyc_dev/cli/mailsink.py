"""`kyc mailsink`: catch alert e-mails locally (demo, tests)."""

from __future__ import annotations

import argparse
import threading
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `mailsink` command."""
    sink = sub.add_parser("mailsink", help="run a local SMTP catcher that saves every message as an .eml file")
    sink.add_argument("--host", default="127.0.0.1")
    sink.add_argument("--port", type=int, default=1025)
    sink.add_argument("--dir", type=Path, default=Path("mail"), help="where messages are written (default: ./mail)")
    sink.set_defaults(func=_serve)


def _serve(args: argparse.Namespace) -> int:
    from kyc_dev.mailsink import start_mailsink

    controller = start_mailsink(args.dir, args.host, args.port)
    print(f"mail sink on smtp://{args.host}:{args.port}, saving to {args.dir.resolve()}", flush=True)
    try:
        threading.Event().wait()
    finally:
        controller.stop()
    return 0
