"""Length profiles: nearest-rank percentiles, exact when the known lengths and bounds allow one
value, the sample's (kept inside the possible range) otherwise; merging files; the JSON form."""

from swiftkit.data.profile import LengthSummary, make_profile


def summary(**kw) -> LengthSummary:
    return LengthSummary(**{"rows": 0, "source": "tokenizer", **kw})


def test_every_row_known_gives_exact_nearest_rank_percentiles():
    lengths = list(range(1, 101))  # 1..100
    s = summary(rows=100, rows_tokenized=100, exact={n: 1 for n in lengths}, max_tokens=100,
                max_exact=True, over_max_length=10, samples=[(lengths, 100)])  # fmt: skip
    p = make_profile(s, 90)
    assert (p.p50_tokens, p.p90_tokens, p.p99_tokens, p.exact) == (50, 90, 99, True)
    assert p.mean_tokens == 50  # 50.5 rounds to even
    assert (p.kept_at_max_length, p.dropped_at_max_length) == (90, 10)
    j = p.to_json()
    assert (j["max_length_for_99"], j["max_length_for_100"], j["sample_rows"]) == (99, 100, None)


def test_a_tail_of_known_rows_pins_p99_while_p50_comes_from_the_sample():
    # 98 rows known only to be at most 50 tokens, two long rows tokenized.
    s = summary(rows=100, exact={200: 1, 300: 1}, unknown_lower={0: 98}, unknown_upper={50: 98},
                max_tokens=300, max_exact=True, samples=[([10, 20, 30, 40, 300], 100)])  # fmt: skip
    p = make_profile(s, None)
    assert p.p99_tokens == 200  # 99 rows are <= 200 whatever the open rows hold
    assert p.p50_tokens == 30 and not p.exact and p.sample_rows == 5
    # The sample's mean (80) is more than the bounds allow: (500 + 98 * 50) / 100 = 54.
    assert p.mean_tokens == 54


def test_tight_bounds_pin_a_percentile_without_tokenizing():
    # 50 rows between 10 and 12 tokens, 50 between 30 and 31: the median is 10-12, p99 30-31.
    s = summary(rows=100, unknown_lower={10: 50, 30: 50}, unknown_upper={12: 50, 31: 50},
                samples=[([11, 30], 100)])  # fmt: skip
    p = make_profile(s, None)
    assert (p.p50_tokens, p.p99_tokens, p.exact) == (11, 30, False)
    s = summary(rows=4, exact={5: 2}, unknown_lower={9: 2}, unknown_upper={9: 2})
    assert make_profile(s, None).p50_tokens == 5 and make_profile(s, None).exact


def test_sample_estimates_stay_inside_what_the_bounds_allow():
    # The sample says 5, but 60 of 100 rows are surely over 40 tokens: p50 is over 40.
    s = summary(rows=100, unknown_lower={0: 40, 41: 60}, unknown_upper={40: 40, 90: 60},
                samples=[([5], 100)])  # fmt: skip
    assert make_profile(s, 40).p50_tokens == 41


def test_merge_adds_counts_and_keeps_the_weaker_claims():
    a = summary(
        rows=10,
        rows_tokenized=10,
        exact={5: 10},
        over_max_length=1,
        longest_kept=5,
        longest_kept_exact=True,
        max_tokens=5,
        max_exact=True,
        samples=[([5] * 10, 10)],
    )
    b = summary(rows=30, exact={7: 2}, unknown_lower={1: 28}, unknown_upper={9: 28},
                over_max_length=2, longest_kept=7,
                longest_kept_exact=False, longest_kept_bound=9, max_tokens=9, max_exact=False,
                samples=[([7, 8], 30)])  # fmt: skip
    m = LengthSummary.merge([a, b])
    assert (m.rows, m.rows_tokenized, m.over_max_length) == (40, 10, 3)
    assert (m.longest_kept, m.longest_kept_exact, m.longest_kept_bound) == (7, False, 9)
    assert (m.max_tokens, m.max_exact) == (9, False)
    assert m.exact == {5: 10, 7: 2} and len(m.samples) == 2
    # b's sample rows weigh 15 each, a's 1: the median comes from b.
    assert make_profile(m, None).p50_tokens == 7
    assert LengthSummary.from_json(m.to_json()) == m


def test_without_a_tokenizer_there_are_no_percentiles():
    s = summary(rows=3, source="bytes", unknown_lower={0: 3}, unknown_upper={100: 3},
                longest_kept=100, max_tokens=100)  # fmt: skip
    p = make_profile(s, 64)
    assert (p.p50_tokens, p.exact, p.max_exact, p.dropped_at_max_length) == (None, False, False,
                                                                              None)  # fmt: skip
