import asyncio

from faust.types import TP

from streams.worker.offsets import StartPositions

MACHINE = TP("machine", 0)
MES = TP("mes", 0)


class Consumer:
    """Positions as a consumer gives them: unknown until reset, then moving with each fetch."""

    def __init__(self) -> None:
        self.positions: dict[TP, int | None] = {MACHINE: None, MES: 5}
        self.asked: list[TP] = []

    async def position(self, tp: TP) -> int | None:
        self.asked.append(tp)
        return self.positions[tp]


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_the_position_at_assignment_is_kept_when_reading_moves_on():
    consumer = Consumer()
    starts = StartPositions(consumer.position)
    starts.reset([MES])
    await settle()
    consumer.positions[MES] = 9  # records fetched, not yet processed
    assert starts.get(MES) == 5


async def test_an_unknown_position_is_none_and_asked_again_until_known():
    consumer = Consumer()
    starts = StartPositions(consumer.position)
    assert starts.get(MACHINE) is None
    await settle()
    assert starts.get(MACHINE) is None
    consumer.positions[MACHINE] = 3
    await asyncio.sleep(1.1)
    assert starts.get(MACHINE) == 3
    assert consumer.asked.count(MACHINE) == 2


async def test_a_position_that_never_answers_does_not_block_the_caller():
    async def hangs(tp: TP) -> int | None:
        await asyncio.Event().wait()
        return None

    starts = StartPositions(hangs, timeout_s=0.05)
    assert starts.get(MES) is None
    await asyncio.sleep(0.1)
    assert starts.get(MES) is None


async def test_a_new_assignment_forgets_old_positions_and_late_answers():
    consumer = Consumer()
    release = asyncio.Event()

    async def slow(tp: TP) -> int | None:
        await release.wait()
        return await consumer.position(tp)

    starts = StartPositions(slow)
    starts.reset([MES])
    await settle()
    starts.reset([])
    release.set()
    await settle()
    assert starts.known == {}
    consumer.positions[MES] = 7
    assert starts.get(MES) is None
    await settle()
    assert starts.get(MES) == 7
