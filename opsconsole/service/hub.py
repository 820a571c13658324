"""The push stream's fan-out: one bounded queue per connected client.

`publish` never waits: it serialises a message once and offers the text to
every queue with put_nowait. A client whose queue is full (it reads slower
than the site changes) loses its queued deltas and is marked for a fresh
snapshot instead, so a slow client costs memory bounded by its queue and
never slows the poller.
"""

from __future__ import annotations

import asyncio
import json
import os
from dataclasses import dataclass, field
from typing import Any

QUEUE_SIZE = 256  # messages per client (about two minutes of deltas at 2 batches/s)
QUEUE_ENV = "OPSCONSOLE_STREAM_QUEUE"  # another bound (docs/api.md), e.g. to test overflows


def queue_size() -> int:
    try:
        return max(2, min(int(os.environ.get(QUEUE_ENV, QUEUE_SIZE)), 1_000_000))
    except ValueError:
        return QUEUE_SIZE


RESYNC = ""  # queue marker: send a fresh snapshot


@dataclass(eq=False)
class Subscriber:
    user: str
    peer: str
    queue: asyncio.Queue[str] = field(default_factory=lambda: asyncio.Queue(QUEUE_SIZE))
    overflows: int = 0  # times its queue overflowed (each answered by a snapshot)
    sent: int = 0


class Hub:
    def __init__(self, size: int | None = None) -> None:
        self.queue_size = size or queue_size()
        self.subscribers: set[Subscriber] = set()
        self.seq = 0  # number of the last message published
        self.published = 0
        self.overflows = 0  # over all clients, gone ones included

    def subscribe(self, user: str, peer: str) -> Subscriber:
        sub = Subscriber(user, peer, asyncio.Queue(self.queue_size))
        self.subscribers.add(sub)
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        self.subscribers.discard(sub)

    def publish(self, kind: str, **body: Any) -> None:
        if not self.subscribers:
            self.seq += 1
            return
        self.seq += 1
        self.published += 1
        text = json.dumps({"type": kind, "seq": self.seq, **body}, separators=(",", ":"))
        for sub in self.subscribers:
            try:
                sub.queue.put_nowait(text)
            except asyncio.QueueFull:
                # drop what it has not read; a fresh snapshot replaces it all
                while not sub.queue.empty():
                    sub.queue.get_nowait()
                sub.overflows += 1
                self.overflows += 1
                sub.queue.put_nowait(RESYNC)
