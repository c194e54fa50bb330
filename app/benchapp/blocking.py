"""Count the hub blockages gevent's monitor thread reports, per process.

gevent's monitor thread (GEVENT_MONITOR_THREAD_ENABLE=true, threshold
GEVENT_MAX_BLOCKING_TIME seconds) notices when one greenlet keeps the hub
for longer than the threshold, prints a report to stderr (the journal) and
publishes an EventLoopBlocked event. /healthz shows the count this process
saw, so a run can tell a blocking driver (psycopg2 without psycogreen) from
a cooperative one.
"""

from __future__ import annotations

import sys
import threading
from typing import Any


class BlockingCounter:
    """Counts EventLoopBlocked events; subscribes once, when gevent patched the process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.count = 0
        self.subscribed = False

    def subscribe(self) -> None:
        if self.subscribed or "gevent" not in sys.modules:
            return
        from gevent import events

        def on_event(event: Any) -> None:
            if isinstance(event, events.EventLoopBlocked):
                with self._lock:
                    self.count += 1

        events.subscribers.append(on_event)
        self.subscribed = True

    def state(self) -> dict[str, Any]:
        """The monitor's settings and what it caught (None when not patched)."""
        if not self.subscribed:
            return {"enabled": False, "max_blocking_time": None, "blocked": None}
        import gevent

        return {"enabled": bool(gevent.config.monitor_thread),
                "max_blocking_time": gevent.config.max_blocking_time,
                "blocked": self.count}
