"""How far the processors have read: silence counts only once a partition is read to its end."""

from faust.types import TP

from streams.worker.offsets import InputProgress


class Ends:
    """Partition ends as the broker gives them (None: no answer)."""

    def __init__(self, ends: dict[TP, int | None]) -> None:
        self.ends = ends

    async def latest(self, partitions: list[TP]) -> dict[TP, int | None]:
        return {tp: self.ends.get(tp) for tp in partitions}


def progress(ends: dict[TP, int | None], starts: dict[tuple[str, int], int]) -> InputProgress:
    return InputProgress(Ends(ends), lambda topic, p: starts.get((topic, p)))  # type: ignore[arg-type]


async def test_a_topic_read_to_its_end_is_not_lagging_and_one_behind_it_is():
    found = progress({TP("machine", 0): 10, TP("mes", 0): 4}, {})
    assert await found.lagging(0, {"machine": 9, "mes": 2}, ["machine", "mes"]) == {"mes"}


async def test_a_topic_with_nothing_processed_is_read_when_its_end_is_where_reading_began():
    found = progress({TP("machine", 0): 7, TP("mes", 0): 7}, {("machine", 0): 7, ("mes", 0): 3})
    assert await found.lagging(0, {}, ["machine", "mes"]) == {"mes"}


async def test_an_unknown_end_or_start_counts_as_lagging():
    found = progress({TP("machine", 0): None, TP("mes", 0): 5}, {})
    assert await found.lagging(0, {"machine": 3}, ["machine", "mes"]) == {"machine", "mes"}
