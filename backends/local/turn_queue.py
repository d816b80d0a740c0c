"""One generation at a time per loaded model: callers wait in arrival order and can see their place."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterator


class Ticket:
    """One caller's place in the line."""

    __slots__ = ()


class TurnQueue:
    """A first-in, first-out line in front of one model; `running` holds it, the rest wait."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._waiting: deque[Ticket] = deque()
        self._running: Ticket | None = None

    def join(self) -> Ticket:
        with self._cond:
            ticket = Ticket()
            self._waiting.append(ticket)
            self._cond.notify_all()
            return ticket

    def try_start(self, ticket: Ticket) -> int:
        """0 when `ticket` now holds the model; otherwise how many calls are ahead of it."""
        with self._cond:
            if self._running is ticket:
                return 0
            if self._running is None and self._waiting and self._waiting[0] is ticket:
                self._waiting.popleft()
                self._running = ticket
                return 0
            if ticket not in self._waiting:
                raise ValueError("this ticket has left the line")
            return self._waiting.index(ticket) + (1 if self._running is not None else 0)

    def wait(self, timeout_s: float) -> None:
        """Sleep until the line moves (or `timeout_s` passes)."""
        with self._cond:
            self._cond.wait(timeout_s)

    def leave(self, ticket: Ticket) -> None:
        """Done, stopped or gone: free the model or give up the place."""
        with self._cond:
            if self._running is ticket:
                self._running = None
            elif ticket in self._waiting:
                self._waiting.remove(ticket)
            self._cond.notify_all()

    @property
    def length(self) -> int:
        """Calls running or waiting."""
        with self._cond:
            return len(self._waiting) + (1 if self._running is not None else 0)

    def positions(self, ticket: Ticket, cancel: threading.Event, poll_s: float = 0.2) -> Iterator[int]:
        """Yield how many are ahead each time that changes, until the turn comes (the iterator
        ends with the model held) or `cancel` is set (it ends without: check `try_start`)."""
        last = -1
        while not cancel.is_set():
            ahead = self.try_start(ticket)
            if ahead == 0:
                return
            if ahead != last:
                last = ahead
                yield ahead
            self.wait(poll_s)
