"""curate.parallel: pools that take work a little at a time and give results in order."""

from __future__ import annotations

import os

from curate.parallel import imap_ordered, process_pool


def test_the_pool_is_fed_a_few_chunks_ahead_and_gives_results_in_order():
    """Not every task at once (Executor.map's way): a million verifications would hold a
    million task tuples and futures."""
    pulled = []

    def tasks():
        for i in range(5000):
            pulled.append(i)
            yield -i

    with process_pool(2, True) as pool:
        results = imap_ordered(pool, abs, tasks(), chunksize=4)
        first = next(results)
        ahead = len(pulled)
        rest = list(results)
    assert [first, *rest] == list(range(5000))
    assert ahead <= 4 * 4 * (os.cpu_count() or 1) + 4
