"""Documents read newest first (the baseline's change events): the time sort and the point in
time's tiebreaker of each flavour, both descending, so ``search_after`` pages stay in order."""

from __future__ import annotations

import pytest

from connectors.elasticsearch.documents import _ordered
from connectors.elasticsearch.flavour import Flavour
from connectors.elasticsearch.product import ELASTICSEARCH
from connectors.opensearch.flavour import OPENSEARCH


@pytest.mark.parametrize("flavour", [ELASTICSEARCH, OPENSEARCH], ids=lambda f: f.kind)
def test_newest_first_turns_the_time_sort_and_the_tiebreaker(flavour: Flavour) -> None:
    time_sort = flavour.time_sort("@timestamp")
    tiebreaker = flavour.pit.tiebreaker
    newest = _ordered(time_sort, True)
    assert newest["@timestamp"] == {**time_sort["@timestamp"], "order": "desc"}
    assert set(_ordered(tiebreaker, True).values()) == {"desc"}
    assert _ordered(time_sort, False) == time_sort  # oldest first, as every other read
    assert time_sort["@timestamp"]["order"] == "asc"  # the flavour's own clause is untouched
