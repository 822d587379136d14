"""A FIFO in a landing zone, and whether anything opened it."""

from __future__ import annotations

import os
import threading
from pathlib import Path


class FifoGuard:
    """A FIFO with a writer waiting on it: the writer's open() returns only once something opens
    the pipe for reading, so `opened` tells whether the code under test did, without the test
    hanging if it did. `release()` (always call it) opens the read end itself to free the writer.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        os.mkfifo(path)
        self.opened = threading.Event()
        self._thread = threading.Thread(target=self._write, daemon=True)
        self._thread.start()

    def _write(self) -> None:
        with open(self.path, "wb"):
            self.opened.set()

    def release(self) -> None:
        fd = os.open(self.path, os.O_RDONLY | os.O_NONBLOCK)
        self._thread.join(timeout=5)
        os.close(fd)
