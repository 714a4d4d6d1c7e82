import json
import logging

from streams.logs import JsonFormatter


def test_log_lines_are_json_objects_with_the_event_context():
    record = logging.LogRecord(
        "streams.worker.app", logging.WARNING, __file__, 1, "dead letter: %s", ("bad value",), None
    )
    record.asset = "p/l/s/m"
    record.event_id = "abc"
    line = json.loads(JsonFormatter().format(record))
    assert line["level"] == "warning"
    assert line["message"] == "dead letter: bad value"
    assert (line["asset"], line["event_id"]) == ("p/l/s/m", "abc")
    assert line["time"].endswith("+00:00")
