"""server.deadlines: one timer per deadline value expires exactly the decisions still open."""

from __future__ import annotations

import asyncio

from agent_arena.server.deadlines import Deadlines


class Item:
    def __init__(self, name: str) -> None:
        self.name, self.done, self.expires = name, False, 0.0


async def test_each_open_item_expires_once_in_order_and_finished_ones_never():
    loop = asyncio.get_running_loop()
    expired: list[tuple[str, float]] = []
    everything = asyncio.Event()

    def expire(item: Item, deadline_ms: float) -> None:
        item.done = True
        expired.append((item.name, deadline_ms))
        if len(expired) == 4:
            everything.set()

    deadlines = Deadlines(expire)
    a, b, c, d, e = (Item(n) for n in "abcde")
    deadlines.add(a, 30, loop)
    deadlines.add(b, 30, loop)
    deadlines.add(c, 10, loop)  # another value: its own FIFO and timer
    deadlines.add(d, 30, loop)
    deadlines.add(e, 30, loop)
    a.done = True  # answered in time: the head is dropped, the timer re-arms for b
    deadlines.settle(30)
    d.done = True  # answered, but behind b: skipped when its turn comes
    late = Item("late")
    await asyncio.sleep(0)
    deadlines.add(late, 10, loop)
    await asyncio.wait_for(everything.wait(), 10)
    assert sorted(expired) == sorted([("b", 30), ("c", 10), ("e", 30), ("late", 10)])
    assert [n for n, _ in expired if _ == 30] == ["b", "e"]
    assert expired.index(("c", 10)) < expired.index(("late", 10))
    assert deadlines._queues == {}  # values with nothing in flight are forgotten


async def test_close_cancels_the_timers():
    loop = asyncio.get_running_loop()
    expired: list[Item] = []
    deadlines = Deadlines(lambda item, _: expired.append(item))
    deadlines.add(Item("x"), 1, loop)
    deadlines.close()
    await asyncio.sleep(0.05)
    assert expired == [] and deadlines._queues == {}
