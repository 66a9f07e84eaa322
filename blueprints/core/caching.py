"""Per-process keeps of what was drawn for a key (a finished day's chart, a settings form
as its stored data shows it): small least-recently-used mappings, one per name, app and
process. The keys hold what the drawing shows (database IDs, stored values, the
language), so that a change draws afresh; nothing else ever invalidates an entry.

    cache = app_cache("chart_html", current_app.config["MONITOR_CACHE_SIZE"])
    html = cache.get(key) or cache.put(key, draw())
"""
from __future__ import annotations

from collections import OrderedDict
from threading import Lock

from flask import current_app


class LRU:
    """A small least-recently-used mapping, safe between threads."""

    def __init__(self, size: int):
        self.size = size
        self._items: OrderedDict = OrderedDict()
        self._lock = Lock()

    def get(self, key):
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def __len__(self) -> int:
        return len(self._items)

    def put(self, key, value):
        if self.size > 0:
            with self._lock:
                self._items[key] = value
                self._items.move_to_end(key)
                while len(self._items) > self.size:
                    self._items.popitem(last=False)
        return value


def app_cache(name: str, size: int) -> LRU:
    """The current app's LRU `name` in this process (made with `size` entries at most on
    first use; 0 keeps nothing)."""
    caches = current_app.extensions.setdefault("process_caches", {})
    cache = caches.get(name)
    if cache is None:
        cache = caches[name] = LRU(size)
    return cache
