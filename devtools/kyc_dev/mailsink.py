"""A local SMTP catcher for the demo and tests: every message is saved as an .eml file, nothing is relayed."""

from __future__ import annotations

import time
from email import message_from_bytes
from email.message import Message
from pathlib import Path

from aiosmtpd.controller import Controller


class _SaveToDirectory:
    """aiosmtpd handler writing each accepted message to `<dir>/<n>.eml`."""

    def __init__(self, directory: Path):
        self.directory = directory
        self.directory.mkdir(parents=True, exist_ok=True)
        self.count = len(list(self.directory.glob("*.eml")))

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 - aiosmtpd's hook name
        self.count += 1
        path = self.directory / f"{time.time_ns()}-{self.count:05d}.eml"
        path.write_bytes(envelope.original_content or envelope.content)
        return "250 Message accepted for delivery"


def start_mailsink(directory: Path, host: str = "127.0.0.1", port: int = 1025) -> Controller:
    """Start the catcher in a background thread; call `.stop()` on the result."""
    controller = Controller(_SaveToDirectory(directory), hostname=host, port=port)
    controller.start()
    return controller


def read_messages(directory: Path) -> list[Message]:
    """Messages caught so far, oldest first."""
    return [message_from_bytes(p.read_bytes()) for p in sorted(directory.glob("*.eml"))]
