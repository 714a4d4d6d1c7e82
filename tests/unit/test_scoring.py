import csv
import io

import pytest

from streams.commands.score import ScoreInputError, run_score


def write(path, rows, sep=","):
    with path.open("w", newline="") as handle:
        csv.writer(handle, delimiter=sep).writerows(rows)


def read_scores(path):
    with path.open() as handle:
        return list(csv.DictReader(handle))


def test_every_row_is_scored_in_input_order_even_with_repeated_times(tmp_path):
    rows = [["timestamp", "value"]]
    rows += [[f"2026-01-01 00:{i // 60:02d}:{i % 60:02d}", 20 + (i % 5) * 0.1] for i in range(300)]
    rows.insert(150, ["2026-01-01 00:00:01", 20.2])  # a repeated, out-of-order timestamp
    rows.append(["2026-01-01 01:00:00", 90.0])
    write(tmp_path / "in.csv", rows)
    assert (
        run_score(tmp_path / "in.csv", tmp_path / "out.csv", "timestamp", None, ",", io.StringIO())
        == 302
    )
    scores = read_scores(tmp_path / "out.csv")
    assert [s["timestamp"] for s in scores] == [r[0] for r in rows[1:]]
    assert all(0.0 <= float(s["score"]) <= 1.0 for s in scores)
    assert float(scores[-1]["score"]) > 0.999
    assert float(scores[0]["score"]) == 0.0  # warm-up


def test_label_columns_are_never_used_as_measurements(tmp_path):
    rows = [["datetime", "Current", "anomaly", "changepoint"]]
    rows += [[str(i), 1.0 + (i % 3) * 0.01, 0.0, 0.0] for i in range(100)]
    write(tmp_path / "skab.csv", rows, sep=";")
    err = io.StringIO()
    run_score(tmp_path / "skab.csv", tmp_path / "out.csv", "datetime", None, ";", err)
    assert "scoring 100 rows on Current\n" == err.getvalue()


def test_unknown_columns_are_named_in_the_error(tmp_path):
    write(tmp_path / "in.csv", [["timestamp", "value"], ["1", "2"]])
    with pytest.raises(ScoreInputError, match="no column pressure"):
        run_score(tmp_path / "in.csv", tmp_path / "o.csv", "timestamp", ["pressure"], ",")
    with pytest.raises(ScoreInputError, match="--timestamp-column"):
        run_score(tmp_path / "in.csv", tmp_path / "o.csv", "time", None, ",")


def test_the_asset_scope_scores_each_row_as_one_round_of_the_multivariate_model(tmp_path):
    rows = [["timestamp", "current", "temperature"]]
    rows += [[str(i), 10 + (i % 7) * 0.1, 40 + (i % 5) * 0.2] for i in range(400)]
    rows += [[str(400 + i), 14.0, 45.0] for i in range(5)]
    write(tmp_path / "in.csv", rows)
    quiet = io.StringIO()
    run_score(
        tmp_path / "in.csv", tmp_path / "asset.csv", "timestamp", None, ",", quiet, None, True
    )
    run_score(tmp_path / "in.csv", tmp_path / "sensor.csv", "timestamp", None, ",", quiet)
    asset = [float(s["score"]) for s in read_scores(tmp_path / "asset.csv")]
    sensor = [float(s["score"]) for s in read_scores(tmp_path / "sensor.csv")]
    assert max(asset[400:]) >= 0.5  # the joint jump
    assert max(asset[300:400]) < 0.5
    assert asset != sensor  # a different model, not the per-sensor one under another name
