"""One page of a long list (the dealer console, 登録ユーザー一覧 …): its rows, how many
there are in all, which page this is and how many per page."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any


@dataclass
class Page:
    items: list[Any]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def has_prev(self) -> bool:
        return self.page > 1
