"""Actions held back until the listing is complete: order kept, memory bounded (pure)."""

from __future__ import annotations

from reconciler.jobs.scan.apply import ActionBuffer
from reconciler.jobs.scan.compare import Action, ActionKind
from reconciler.jobs.scan.listing import Listed


def actions(count: int) -> list[Action]:
    kinds = list(ActionKind)
    return [
        Action(kinds[i % len(kinds)], f"/f{i:04d}", Listed(f"/f{i:04d}", i, i * 1000))
        if i % 3 else Action(ActionKind.DELETE, f"/f{i:04d}", None)
        for i in range(count)
    ]  # fmt: skip


def test_buffered_actions_come_back_in_order_and_spill_beyond_one_batch() -> None:
    for count in (0, 1, 4, 5, 6, 23):
        buffer = ActionBuffer(batch=5)
        for action in actions(count):
            buffer.append(action)
        assert len(buffer) == count
        assert buffer._spilled == count // 5  # full batches left memory
        assert len(buffer._pending) == count % 5
        assert list(buffer) == actions(count)
        assert list(buffer) == actions(count)  # read twice: same content
        buffer.close()
