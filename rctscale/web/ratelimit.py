"""A sliding-window count of failures per key (client address, hashed user name).

Kept in the process's memory: each app process counts on its own, so N processes behind
one proxy allow N times the limit. That still turns guessing a 256-bit token or a
password into hopeless work; a shared store would only tighten the constant.
"""

from __future__ import annotations

import threading
import time
from collections import deque


class FailureLimiter:
    def __init__(self, max_failures: int, window_seconds: float) -> None:
        self.max_failures = max_failures
        self.window_seconds = window_seconds
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque[float]:
        failures = self._failures.setdefault(key, deque())
        while failures and failures[0] <= now - self.window_seconds:
            failures.popleft()
        return failures

    def blocked(self, *keys: str) -> bool:
        now = time.monotonic()
        with self._lock:
            return any(len(self._recent(key, now)) >= self.max_failures for key in keys)

    def fail(self, *keys: str) -> None:
        now = time.monotonic()
        with self._lock:
            if len(self._failures) > 100_000:  # bound memory under a flood of distinct keys
                self._failures.clear()
            for key in keys:
                self._recent(key, now).append(now)

    def reset(self) -> None:
        with self._lock:
            self._failures.clear()
