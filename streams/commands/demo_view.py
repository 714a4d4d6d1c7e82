"""The demo's live view: what it asks the store and how it draws the answers (pure)."""

from __future__ import annotations

from typing import Any

from streams.core.oee import OeeTotals, ratios

LIVE_OEE_SQL = """
SELECT asset, formatDateTime(window_start, '%H:%i:%S') AS window, provisional AS live,
       availability, performance, quality, oee, performance_over_one, total AS parts
FROM linepulse.oee_windows
ORDER BY asset, window_start DESC, version DESC LIMIT 1 BY asset
"""
# Sums of the closed windows, under aliases apart from the column names (ClickHouse reads such
# a name as the alias everywhere in the query); line_oee_table computes the ratios with
# streams.core.oee.ratios, as the stream and `linepulse oee` do. A window that ran and counted
# parts but has no performance had parts without a cycle time (the table keeps no count of
# them: its parts stand for them).
LINE_OEE_SQL = """
SELECT arrayStringConcat(arraySlice(splitByChar('/', asset), 1, 2), '/') AS line,
       sum(planned_time_s) AS planned_s, sum(run_time_s) AS run_s, sum(ideal_time_s) AS ideal_s,
       sum(good) AS good_parts, sum(scrap) AS scrap_parts,
       sumIf(total, performance IS NULL AND run_time_s > 0) AS parts_without_cycle_time
FROM linepulse.oee_windows FINAL WHERE provisional = 0 GROUP BY line ORDER BY line
"""
ALERTS_SQL = """
SELECT formatDateTime(time, '%H:%i:%S') AS at, alert_kind AS kind, status, severity, asset, source
FROM linepulse.alerts ORDER BY time DESC LIMIT 6
"""
CONDITION_SQL = """
SELECT asset, zone, round(velocity_rms_mm_s, 2) AS mm_s, suspected,
       if(isNull(predicted_limit_at), '-',
          concat(toString(predicted_limit), ' mm/s ~', formatDateTime(predicted_limit_at, '%H:%i'),
                 ' (', formatDateTime(predicted_limit_low, '%H:%i'), '-',
                 formatDateTime(predicted_limit_high, '%H:%i'), ')')) AS limit_forecast
FROM linepulse.vibration_condition_now ORDER BY zone DESC, asset
"""
COUNTS_SQL = """
SELECT (SELECT count() FROM linepulse.dead_letters) AS dead_letters,
       (SELECT count() FROM linepulse.alerts) AS alert_steps,
       (SELECT count() FROM linepulse.sensor_readings) AS readings,
       (SELECT count() FROM linepulse.sensor_seconds) AS sensor_seconds,
       (SELECT count() FROM linepulse.oee_windows FINAL WHERE provisional = 0) AS closed_windows
"""

LEGEND = (
    "* performance above 1: faster than the ideal cycle time (check the work order's cycle time)\n"
    "- undefined: Q with no part counted, P with no run time or parts without a cycle time; "
    "OEE is 0 when no good part was made in planned time"
)


def _ratio_cell(value: float | None, over_one: bool = False) -> str:
    if value is None:
        return "-"
    return f"{value:.3f}" + ("*" if over_one else "")


def text_table(header: list[str], rows: list[list[str]]) -> str:
    """Columns padded to their widest cell, the first left-aligned and the others right."""
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows, strict=True)]

    def line(cells: list[str]) -> str:
        first, *rest = (str(c) for c in cells)
        padded = [first.ljust(widths[0])] + [
            c.rjust(w) for c, w in zip(rest, widths[1:], strict=True)
        ]
        return "  ".join(padded).rstrip()

    return "\n".join(line(cells) for cells in [header, *rows])


def machine_oee_table(rows: list[dict[str, Any]]) -> str:
    """The latest window of each machine (rows of LIVE_OEE_SQL), P marked when above 1."""
    if not rows:
        return ""
    cells = [
        [
            row["asset"],
            row["window"],
            "live" if int(row["live"]) else "final",
            _ratio_cell(row["availability"]),
            _ratio_cell(row["performance"], bool(int(row["performance_over_one"]))),
            _ratio_cell(row["quality"]),
            _ratio_cell(row["oee"]),
            str(int(row["parts"])),
        ]
        for row in rows
    ]
    header = ["asset", "window", "row", "A", "P", "Q", "OEE", "parts"]
    return text_table(header, cells) + "\n" + LEGEND


def line_oee_table(rows: list[dict[str, Any]]) -> str:
    """OEE per line from the sums of LINE_OEE_SQL, with the ratios of the stream's core."""
    cells = []
    for row in rows:
        totals = OeeTotals(
            planned_time_s=float(row["planned_s"]),
            run_time_s=float(row["run_s"]),
            ideal_time_s=float(row["ideal_s"]),
            good=int(row["good_parts"]),
            scrap=int(row["scrap_parts"]),
            counts_without_cycle_time=int(row["parts_without_cycle_time"]),
        )
        figures = ratios(totals)
        cells.append(
            [
                row["line"],
                _ratio_cell(figures.availability),
                _ratio_cell(figures.performance, figures.performance_over_one),
                _ratio_cell(figures.quality),
                _ratio_cell(figures.oee),
                str(totals.total),
            ]
        )
    return text_table(["line", "A", "P", "Q", "OEE", "parts"], cells) if cells else ""
