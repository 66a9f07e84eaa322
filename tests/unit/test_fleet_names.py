"""The fleet's surnames are as common as in Japan (blueprints/gateways/fleet_names.py): a
search of a 5,000-gateway dealer's sites by a common name finds about as many as in life."""
from __future__ import annotations

import random
import re
from collections import Counter

from blueprints.gateways.fleet_names import COMMON, POPULATION, SURNAMES, surname

KATAKANA = re.compile(r"[ァ-ヶー]+")


def test_each_surname_comes_once_with_its_reading():
    names = [name for name, _kana in SURNAMES]
    assert len(names) == len(set(names)) > 900
    assert all(KATAKANA.fullmatch(kana) for _name, kana in SURNAMES)
    assert all(re.fullmatch(r"[\u4e00-\u9fff々]{1,3}", name) for name in names)


def test_the_most_common_name_is_as_common_as_in_life_and_most_are_rare():
    rng = random.Random(7)
    drawn = Counter(surname(rng)[0] for _ in range(50_000))
    (first, most), = drawn.most_common(1)
    # 佐藤, 鈴木 or 高橋, each 1.1-1.5 % of people; 32 names drawn alike would be 3.1 %
    assert first in {"佐藤", "鈴木", "高橋"} and 0.010 < most / 50_000 < 0.017
    assert 0.012 < drawn["佐藤"] / 50_000 < 0.018
    common = {name for name, _kana, _count in COMMON}
    # the ranked names cover their share of people (about 44 %), the rest are rare names
    assert abs(sum(drawn[name] for name in common) / 50_000
               - sum(count for *_name, count in COMMON) / POPULATION) < 0.01
    rare = [count for name, count in drawn.items() if name not in common]
    assert len(rare) > 700 and max(rare) / 50_000 < 0.002
