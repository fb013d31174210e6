"""Timeline and MTTR plots: valid PNGs of a fixed size, deterministic, exact bins."""

from __future__ import annotations

import io
import math
import struct
from pathlib import Path

import pytest

from chaosgate.load.requestlog import RequestRecord
from chaosgate.report.model import TimelineMarks
from chaosgate.report.plots import bin_records, mttr_png, save_png, timeline_png

T0 = 1_763_700_000.0


def _png_size(png: bytes) -> tuple[int, int]:
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert png[12:16] == b"IHDR"
    width, height = struct.unpack(">II", png[16:24])
    return width, height


def _rec(t: float, ms: float, ok: bool = True) -> RequestRecord:
    return RequestRecord(t=t, ms=ms, name="/api/products", method="GET", ok=ok,
                         status=200 if ok else 503, error=None if ok else "http_5xx")


def _game_day() -> tuple[list[RequestRecord], TimelineMarks]:
    records = []
    for i in range(40 * 20):  # 20 requests/s from t_inject - 10 s to + 30 s
        t = T0 - 10 + i / 20
        bad = 2 <= t - T0 < 8
        records.append(_rec(t, 400.0 if bad else 30.0 + i % 7, ok=not (bad and i % 2)))
    marks = TimelineMarks(t_inject=T0, t_revert=T0 + 9, t_impact=T0 + 2, t_detect=T0 + 3,
                          t_recover=T0 + 8, ttr_s=6.0, latency_threshold_ms=250)
    return records, marks


def test_bins_are_exact_and_aligned_on_inject() -> None:
    records = [_rec(T0 - 0.5, 10), _rec(T0 + 0.0, 5), _rec(T0 + 0.2, 7), _rec(T0 + 0.9, 99, False),
               _rec(T0 + 2.5, 1)]
    bins = bin_records(records, T0)
    assert bins.start == (-1, 0, 1, 2)
    assert bins.requests == (1, 3, 0, 1)
    assert bins.errors == (0, 1, 0, 0)
    assert bins.p95_ms[0] == 10 and bins.p95_ms[1] == 7 and bins.p95_ms[3] == 1
    assert math.isnan(bins.p95_ms[2])  # no successful request in that second


def test_p95_is_nearest_rank_of_ok_requests() -> None:
    # 20 ok requests of 1..20 ms in one bin: nearest rank ceil(0.95 * 20) = 19 -> 19 ms.
    records = [_rec(T0 + 0.01 * i, float(i)) for i in range(1, 21)]
    records.append(_rec(T0 + 0.5, 10_000.0, ok=False))  # errors do not count in latency
    assert bin_records(records, T0).p95_ms == (19.0,)


def test_no_records_no_bins() -> None:
    assert bin_records([], T0).requests == ()


def test_timeline_png_is_valid_sized_and_deterministic() -> None:
    records, marks = _game_day()
    png = timeline_png(records, marks, title="pod kill")
    assert _png_size(png) == (1200, 720)
    assert png == timeline_png(records, marks, title="pod kill")
    assert b"Matplotlib" not in png  # no version stamp in the metadata
    assert _png_size(timeline_png(records, marks, width_px=800, height_px=500)) == (800, 500)


def test_timeline_png_pixels_show_the_data() -> None:
    pil = pytest.importorskip("PIL.Image")
    records, marks = _game_day()
    image = pil.open(io.BytesIO(timeline_png(records, marks))).convert("RGB")
    colors = {color for _count, color in image.getcolors(maxcolors=1 << 24)}
    assert (31, 119, 180) in colors  # the requests/s line
    assert len(colors) > 50


@pytest.mark.parametrize("marks", [
    TimelineMarks(t_inject=T0, t_revert=T0 + 5),  # nothing measured
    TimelineMarks(t_inject=T0, t_revert=T0 + 5, t_impact=T0 + 1),  # never recovered
    TimelineMarks(t_inject=T0, t_revert=T0 + 5, ttr_s=3.0),  # TTR from inject
])
def test_timeline_png_without_requests_or_marks(marks: TimelineMarks) -> None:
    assert _png_size(timeline_png([], marks)) == (1200, 720)


def test_mttr_png() -> None:
    png = mttr_png([12.0, None, 14.5, 9.0], ci=(9.0, 15.0), title="pod kill")
    assert _png_size(png) == (900, 450)
    assert png == mttr_png([12.0, None, 14.5, 9.0], ci=(9.0, 15.0), title="pod kill")
    assert _png_size(mttr_png([None, None])) == (900, 450)
    assert _png_size(mttr_png([])) == (900, 450)


def test_save_png(tmp_path: Path) -> None:
    path = save_png(b"\x89PNG", tmp_path / "a" / "b.png")
    assert path.read_bytes() == b"\x89PNG"
