from __future__ import annotations

import math

import pytest

from coe_portal.accounts.services import api_token_create
from metrics.models import Chunk, Series, SeriesLabel
from metrics.storage.encoding import STALE_NAN, is_stale
from metrics.storage.maintenance import compact_chunks, enforce_retention
from metrics.storage.reader import Matcher, read_samples, select_series
from metrics.storage.writer import BLOCK_MS, SeriesSamples, write_samples

T0 = 1_700_000_000_000 - 1_700_000_000_000 % BLOCK_MS  # the start of a block
MINUTE = 60_000


def samples(name="http_requests_total", points=(), delta=False, **labels):
    return SeriesSamples(
        name, labels, [t for t, _ in points], [v for _, v in points], is_delta=delta
    )


def stored(name="http_requests_total", start=0, end=2**62, **labels):
    matchers = [Matcher("__name__", "=", name)] + [Matcher(k, "=", v) for k, v in labels.items()]
    [series] = select_series(matchers)
    timestamps, values = read_samples([series.id], start, end)[series.id]
    return list(zip(timestamps.tolist(), values.tolist(), strict=True))


pytestmark = pytest.mark.django_db


def test_samples_written_are_read_back_in_order():
    result = write_samples(
        [samples(points=[(T0 + MINUTE, 2.0), (T0, 1.0)], service="cart", code="200")]
    )
    assert (result.series, result.samples_written, result.samples_rejected) == (1, 2, 0)
    assert stored(service="cart") == [(T0, 1.0), (T0 + MINUTE, 2.0)]
    series = Series.objects.get()
    assert (series.last_timestamp, series.last_value) == (T0 + MINUTE, 2.0)
    assert set(SeriesLabel.objects.values_list("name", "value")) == {
        ("service", "cart"),
        ("code", "200"),
    }


def test_later_batches_append_to_the_same_series():
    write_samples([samples(points=[(T0, 1.0)], service="cart")])
    write_samples([samples(points=[(T0 + MINUTE, 3.0)], service="cart")])
    assert Series.objects.count() == 1
    assert stored() == [(T0, 1.0), (T0 + MINUTE, 3.0)]


def test_out_of_order_samples_are_reported_and_the_rest_kept():
    write_samples([samples(points=[(T0 + 5 * MINUTE, 5.0)], service="cart")])
    result = write_samples(
        [
            samples(points=[(T0, 1.0), (T0 + 6 * MINUTE, 6.0)], service="cart"),
            samples(points=[(T0, 9.0)], service="search"),
        ]
    )
    assert (result.samples_written, result.samples_rejected) == (2, 1)
    assert result.errors == [
        f"out of order sample: timestamp {T0} is older than the newest sample ({T0 + 5 * MINUTE})"
        ' of series http_requests_total{service="cart"}'
    ]
    assert stored(service="cart") == [(T0 + 5 * MINUTE, 5.0), (T0 + 6 * MINUTE, 6.0)]
    assert stored(service="search") == [(T0, 9.0)]


def test_an_identical_duplicate_is_harmless_but_a_different_value_is_refused():
    write_samples([samples(points=[(T0, 1.0)], service="cart")])
    same = write_samples([samples(points=[(T0, 1.0)], service="cart")])
    assert (same.samples_written, same.samples_rejected, same.errors) == (0, 0, [])
    different = write_samples([samples(points=[(T0, 2.0)], service="cart")])
    assert different.samples_rejected == 1
    assert different.errors[0].startswith(f"duplicate sample for timestamp {T0} with a different")
    assert stored() == [(T0, 1.0)]


def test_delta_sums_are_accumulated_into_a_running_total():
    write_samples([samples(points=[(T0, 5.0), (T0 + MINUTE, 2.0)], delta=True, service="cart")])
    write_samples([samples(points=[(T0 + 2 * MINUTE, 4.0)], delta=True, service="cart")])
    assert stored() == [(T0, 5.0), (T0 + MINUTE, 7.0), (T0 + 2 * MINUTE, 11.0)]


def test_a_batch_across_blocks_is_split_into_one_chunk_per_block():
    write_samples([samples(points=[(T0 + BLOCK_MS - MINUTE, 1.0), (T0 + BLOCK_MS, 2.0)], a="b")])
    assert sorted(Chunk.objects.values_list("block", "count")) == [(T0, 1), (T0 + BLOCK_MS, 1)]
    assert stored(start=T0 + BLOCK_MS) == [(T0 + BLOCK_MS, 2.0)]


def test_stale_markers_are_stored_as_such():
    write_samples([samples(points=[(T0, 1.0), (T0 + MINUTE, STALE_NAN)], a="b")])
    [series] = select_series([Matcher("__name__", "=", "http_requests_total")])
    _, values = read_samples([series.id], 0, 2**62)[series.id]
    assert is_stale(values).tolist() == [False, True]
    assert Series.objects.get().last_value is None


def test_invalid_series_are_refused_and_valid_ones_kept():
    result = write_samples(
        [samples(name="bad.name", points=[(T0, 1.0)]), samples(points=[(T0, 1.0)], ok="yes")]
    )
    assert (result.samples_written, result.samples_rejected) == (1, 1)
    assert "invalid metric name 'bad.name'" in result.errors[0]


def test_a_token_may_create_only_so_many_series(org, settings):
    settings.METRICS_MAX_SERIES_PER_TOKEN = 2
    token = api_token_create(team=org.checkout, name="noisy", scopes=["ingest"]).token
    result = write_samples([samples(points=[(T0, 1.0)], pod=str(n)) for n in range(3)], token=token)
    assert (result.series, result.samples_rejected) == (2, 1)
    assert result.errors == [
        f"series limit reached: token {token.prefix}… is at its limit of 2 active series; "
        'new series http_requests_total{pod="2"} was not stored (a series stops counting 10 '
        "minutes after its last sample)"
    ]
    # Existing series still take samples.
    again = write_samples([samples(points=[(T0 + MINUTE, 2.0)], pod="0")], token=token)
    assert again.samples_written == 1
    assert Series.objects.filter(team=org.checkout).count() == 2


@pytest.mark.parametrize(
    ("matchers", "expected"),
    [
        ([("service", "=", "cart")], ["cart/200", "cart/500"]),
        ([("code", "=~", "5..")], ["cart/500", "search/503", "/500"]),
        ([("code", "!~", "5.."), ("service", "=~", ".+")], ["cart/200"]),
        ([("service", "!=", "cart"), ("code", "=~", ".+")], ["search/503", "/500"]),
        ([("service", "=", ""), ("code", "=~", ".+")], ["/500"]),
        ([("__name__", "=~", "http_.*"), ("code", "=", "200")], ["cart/200"]),
    ],
)
def test_series_are_selected_like_prometheus(matchers, expected):
    write_samples(
        [
            samples(points=[(T0, 1.0)], service="cart", code="200"),
            samples(points=[(T0, 1.0)], service="cart", code="500"),
            samples(points=[(T0, 1.0)], service="search", code="503"),
            samples(points=[(T0, 1.0)], code="500"),
        ]
    )
    found = select_series(
        [Matcher("__name__", "=~", "http_requests_total|http_.*")]
        + [Matcher(*matcher) for matcher in matchers]
    )
    got = sorted(f"{s.labels.get('service', '')}/{s.labels['code']}" for s in found)
    assert got == sorted(expected)


def test_a_selector_must_not_match_everything():
    with pytest.raises(ValueError, match="at least one matcher"):
        select_series([Matcher("code", "=~", ".*")])


def test_compaction_merges_small_chunks_without_changing_data():
    for minute in range(5):
        write_samples([samples(points=[(T0 + minute * MINUTE, float(minute))], a="b")])
    assert Chunk.objects.count() == 5
    assert compact_chunks(at_ms=T0 + 2 * BLOCK_MS) == 1
    assert list(Chunk.objects.values_list("count", "min_time", "max_time")) == [
        (5, T0, T0 + 4 * MINUTE)
    ]
    assert stored() == [(T0 + m * MINUTE, float(m)) for m in range(5)]


def test_compaction_leaves_the_open_block_until_it_has_many_chunks():
    for minute in range(3):
        write_samples([samples(points=[(T0 + minute * MINUTE, 1.0)], a="b")])
    assert compact_chunks(at_ms=T0 + 10 * MINUTE) == 0
    assert Chunk.objects.count() == 3


def test_retention_drops_whole_old_blocks_and_empty_series(settings):
    settings.METRICS_RETENTION_DAYS = 1
    day = 86_400_000
    write_samples([samples(points=[(T0, 1.0)], kind="old")])
    write_samples([samples(points=[(T0, 1.0), (T0 + 3 * day, 2.0)], kind="both")])
    chunks, series = enforce_retention(at_ms=T0 + 3 * day + MINUTE)
    assert (chunks, series) == (2, 1)
    assert stored(kind="both") == [(T0 + 3 * day, 2.0)]
    assert not Series.objects.filter(labels__kind="old").exists()
    assert math.isclose(Series.objects.get().last_value, 2.0)


def test_ended_days_are_merged_into_one_chunk_per_series():
    day = 86_400_000
    day0 = T0 - T0 % day
    # One sample every 30 minutes for two and a half days, written an hour at a time.
    points = [(day0 + m * 30 * MINUTE, float(m)) for m in range(120)]
    for start in range(0, len(points), 2):
        write_samples([samples(points=points[start : start + 2], a="b")])
    now = day0 + 2 * day + 14 * 3_600_000  # 14:00 on the third day
    compact_chunks(at_ms=now)
    layout = sorted(Chunk.objects.values_list("block", "count"))
    two_hours = 2 * 3_600_000
    assert layout == [
        (day0, 48),
        (day0 + day, 48),
        *((day0 + 2 * day + h * two_hours, 4) for h in range(6)),  # 00:00-12:00, closed
    ]
    assert stored() == points


def test_cached_chunks_never_hide_newer_data():
    from metrics.storage.chunk_cache import cache

    for minute in range(3):
        write_samples([samples(points=[(T0 + minute * MINUTE, float(minute))], a="b")])
    assert stored() == [(T0, 0.0), (T0 + MINUTE, 1.0), (T0 + 2 * MINUTE, 2.0)]
    assert len(cache._entries) == 4  # three chunks, and the series assembled from them
    compact_chunks(at_ms=T0 + 2 * BLOCK_MS)
    write_samples([samples(points=[(T0 + 3 * MINUTE, 3.0)], a="b")])
    assert stored() == [(T0 + m * MINUTE, float(m)) for m in range(4)]


def test_the_chunk_cache_stays_within_its_size():
    import numpy as np

    from metrics.storage.chunk_cache import ChunkCache

    small = ChunkCache(max_bytes=3 * 16 * 10)  # three chunks of ten samples
    for chunk in range(5):
        arrays = (np.arange(10, dtype=np.int64), np.zeros(10))
        small.put((chunk, 1, 0, 9, 10), arrays)
    assert small.size == 480
    assert small.get((0, 1, 0, 9, 10)) is None
    assert small.get((4, 1, 0, 9, 10)) is not None


def test_refused_delta_increments_do_not_count():
    write_samples([samples(points=[(T0 + 2 * MINUTE, 10.0)], delta=True, a="b")])
    result = write_samples([samples(points=[(T0, 5.0), (T0 + 3 * MINUTE, 1.0)], delta=True, a="b")])
    assert result.samples_rejected == 1
    assert stored() == [(T0 + 2 * MINUTE, 10.0), (T0 + 3 * MINUTE, 11.0)]
