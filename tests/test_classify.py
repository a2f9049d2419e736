"""Classification and clinical measures from hand-made events (no signals processing, no video)."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from scipy.stats import binomtest, poisson

from spasmscan.classify import (MIN_SHIFT_S, classify, closure_test, coupling_test, episode_starts,
                                 permutation_shifts)
from spasmscan.errors import ParameterError
from spasmscan.events import Events, couple
from spasmscan.kinds import VERDICT_LABELS
from spasmscan.measures import MEASURE_KEYS, clinical_measures
from spasmscan.settings import DEFAULT_SETTINGS, AnalysisSettings
from spasmscan.signals import Signals

FALSE_ALARM_PER_MIN = DEFAULT_SETTINGS.false_alarm_per_min

FPS = 30.0


def recording(duration_s: float = 60.0, *, tracked: float = 1.0) -> Signals:
    """Signals with only the time base: a face in the first ``tracked`` share of the frames."""
    times = np.arange(int(round(duration_s * FPS))) / FPS
    present = times < tracked * duration_s
    return Signals(times_s=times, face_present=present, values={}, units={}, noise={}, fps=FPS)


def events_from(rows) -> Events:
    """Events from (kind, side, region, start_s, length_s[, amplitude]) rows (amplitude 0.2 unless
    given), coupled as detect_events does."""
    rows = sorted(rows, key=lambda r: r[3])
    kind, side, region, start, length = zip(*[r[:5] for r in rows]) if rows else ((),) * 5
    start = np.array(start, dtype=float)
    events = Events(kind=np.array(kind, dtype="<U16"), side=np.array(side, dtype="<U16"),
                    region=np.array(region, dtype="<U16"), start_s=start, end_s=start + np.array(length, float),
                    amplitude=np.array([r[5] if len(r) > 5 else 0.2 for r in rows], dtype=float),
                    coupled_to=np.full(len(rows), -1, dtype=np.int64))
    return couple(events)


def blinks(starts):
    return [("blink", "both", "eye", s, 0.2) for s in starts]


# 15 blinks a minute, irregular as real blinking is (a strictly periodic train would meet a periodic
# train of co-contractions again at every shift by a whole period)
BLINK_TIMES = np.arange(1.5, 60.0, 4.0) + np.random.default_rng(7).uniform(-0.8, 0.8, 15)


def hfs(side="left", n=12, seed=0):
    """Blinks plus n one-sided eye twitches at rest, at random times at least 1 s from blinks and each other."""
    rng = np.random.default_rng(seed)
    rest = []
    while len(rest) < n:
        t = rng.uniform(0.5, 59.0)
        if np.all(np.abs(BLINK_TIMES - t) > 1.0) and all(abs(t - r) > 1.0 for r in rest):
            rest.append(t)
    return blinks(BLINK_TIMES) + [("twitch", side, "eye", t, 0.1) for t in rest]


def synkinesis(side="left"):
    """Blinks, each with a one-sided mouth pull, and brow raises with a one-sided eye narrowing."""
    rows = blinks(BLINK_TIMES) + [("twitch", side, "mouth", t + 0.03, 0.25) for t in BLINK_TIMES]
    for t in (10.0, 30.0, 50.0):
        rows += [("brow_raise", "both", "brow", t, 1.0), ("twitch", side, "eye", t + 0.1, 0.6)]
    return rows


@pytest.mark.parametrize("side", ["left", "right"])
def test_twitches_at_rest_are_primary_hfs(side):
    verdict = classify(events_from(hfs(side)), recording())
    assert verdict.label == "primary_hfs"
    assert verdict.side == side
    assert verdict.confidence > 0.9
    assert verdict.coupling_p_value > 0.1
    assert any("at rest" in line for line in verdict.evidence)


@pytest.mark.parametrize("side", ["left", "right"])
def test_movements_locked_to_voluntary_ones_are_synkinesis(side):
    verdict = classify(events_from(synkinesis(side)), recording())
    assert verdict.label == "synkinesis"
    assert verdict.side == side
    assert verdict.coupling_p_value <= 2.0 / (DEFAULT_SETTINGS.permutations + 1)
    assert verdict.confidence > 0.9


def test_hfs_twitches_that_happen_to_hit_blinks_stay_hfs():
    rows = hfs("right", n=10) + [("twitch", "right", "eye", t + 0.05, 0.3) for t in BLINK_TIMES[:3]]
    verdict = classify(events_from(rows), recording())
    assert verdict.label == "primary_hfs"
    assert verdict.side == "right"


def shifted_overlaps(episodes, windows, shift_s: float, period_s: float) -> int:
    """Episodes ((start, end) s) that overlap a window ((start, end) s) once moved by ``shift_s``
    around a recording of ``period_s``: the permutation test's statistic, by interval arithmetic."""
    count = 0
    for start, end in episodes:
        a = (start + shift_s) % period_s
        pieces = [(a, a + end - start)] if a + end - start <= period_s else [(a, period_s), (0.0, a + end - start - period_s)]
        count += any(lo <= b and a2 <= hi for a2, b in pieces for lo, hi in windows)
    return count


def test_coupling_statistic_is_a_circular_shift_permutation_test():
    events = events_from(hfs("left", n=8) + [("twitch", "left", "mouth", t + 0.05, 0.1) for t in BLINK_TIMES[:4]])
    signals = recording()
    test = coupling_test(events, signals, "left")
    lead, lag = DEFAULT_SETTINGS.lead_tolerance_s, DEFAULT_SETTINGS.lag_tolerance_s
    assert test.window_share == pytest.approx(len(BLINK_TIMES) * (0.2 + lead + lag) / 60.0, rel=0.05)
    assert (test.n_episodes, test.n_inside, test.rest_episodes) == (12, 4, 8)
    # Only the mouth pulls can be carried by blinks (the eye twitches prolong the blinks' own region):
    # shift the train, count the mouth pulls meeting a blink's widened span.
    mouth = [(s, e) for k, s, e in zip(events.region, events.start_s, events.end_s) if k == "mouth"]
    windows = [(t - lead, t + 0.2 + lag) for t in BLINK_TIMES]
    shifts = permutation_shifts(signals.times_s.size, FPS, count=DEFAULT_SETTINGS.permutations) / FPS
    assert shifts.min() >= MIN_SHIFT_S and shifts.max() <= 60.0 - MIN_SHIFT_S
    as_often = sum(shifted_overlaps(mouth, windows, k, 60.0) >= 4 for k in shifts)
    assert test.p_value == pytest.approx((1 + as_often) / (1 + shifts.size), abs=0.01)
    assert test.p_value < 0.05  # four of four mouth pulls meet a blink: 16% of the time is in a blink's span
    assert test.rest_p_value == pytest.approx(poisson.sf(7, FALSE_ALARM_PER_MIN * test.rest_minutes))


def test_a_lagging_outlasting_co_contraction_is_time_locked():
    """Mouth pulls starting 0.2 s after each blink and lasting twice as long, and eye narrowings that
    start late in a brow raise and end after it: synkinesis, not spasms at rest."""
    rows = blinks(BLINK_TIMES) + [("twitch", "right", "mouth", t + 0.2, 0.4) for t in BLINK_TIMES]
    for t in (10.0, 30.0, 50.0):
        rows += [("brow_raise", "both", "brow", t, 1.0), ("twitch", "right", "eye", t + 0.7, 0.6)]
    verdict = classify(events_from(rows), recording())
    assert (verdict.label, verdict.side) == ("synkinesis", "right")
    assert verdict.confidence > 0.9


def test_an_eye_that_outlasts_a_blink_is_not_carried_along_by_it():
    """Synkinesis moves another region than the voluntary movement: the mouth with a blink counts as
    time-locked, the same eye staying shut after a blink does not (it joins the episodes at rest,
    tested against false alarms over the whole tracked time, windows included)."""
    signals = recording()
    mouth = coupling_test(events_from(blinks(BLINK_TIMES) + [("twitch", "left", "mouth", t + 0.05, 0.2)
                                                             for t in BLINK_TIMES[:4]]), signals, "left")
    eye = coupling_test(events_from(blinks(BLINK_TIMES) + [("twitch", "left", "eye", t + 0.05, 0.3)
                                                           for t in BLINK_TIMES[:4]]), signals, "left")
    assert (mouth.n_inside, mouth.rest_episodes, mouth.prolonging) == (4, 0, 0)
    assert (eye.n_inside, eye.rest_episodes, eye.prolonging) == (0, 4, 4)
    assert eye.rest_minutes == pytest.approx(1.0, abs=0.01)  # the windows' time counts for false alarms too
    assert mouth.rest_minutes == pytest.approx(1.0 - mouth.window_share, abs=0.01)
    assert eye.rest_p_value == pytest.approx(poisson.sf(3, FALSE_ALARM_PER_MIN * 1.0), rel=0.05)
    smile = events_from([("smile", "both", "mouth", 10.0, 2.0), ("twitch", "left", "eye", 10.1, 1.5),
                         ("smile", "both", "mouth", 30.0, 2.0), ("twitch", "left", "mouth", 30.1, 1.5)])
    # the eye with a smile is synkinetic, the mouth corner with it only a lopsided smile
    assert coupling_test(smile, signals, "left").n_inside == 1
    assert coupling_test(smile, signals, "left").prolonging == 1


def test_a_burst_is_one_episode():
    burst = [("twitch", "left", "eye", 20.0 + 0.25 * k, 0.12) for k in range(5)]
    events = events_from(blinks(BLINK_TIMES) + burst)
    assert len(episode_starts(events, "left")) == 1
    verdict = classify(events, recording())
    # five twitches at rest in one burst: false alarms (single detections) would give that one time in 6000
    assert (verdict.label, verdict.side) == ("primary_hfs", "left")
    assert verdict.confidence <= DEFAULT_SETTINGS.few_episodes_confidence
    assert "longer recording" in verdict.reason and "confirm" in verdict.reason


def test_hfs_with_many_voluntary_movements_stays_hfs():
    """Long smiles fill half the time: chance puts many twitches inside them, the rest still tells."""
    rows = [("smile", "both", "mouth", t, 2.5) for t in np.arange(2.0, 60.0, 6.0)]
    inside, outside = (3.0, 15.0, 27.0, 39.0, 51.0), (6.0, 18.0, 30.0, 36.5, 54.0)
    rows += [("twitch", "right", "eye", t, 0.1) for t in inside + outside]
    verdict = classify(events_from(rows), recording())
    assert (verdict.label, verdict.side) == ("primary_hfs", "right")


def test_spasms_meeting_a_few_of_many_blinks_by_chance_are_hfs_not_synkinesis():
    """3 of 5 spreading spasms start with a blink, but with only 3 of 15 blinks: synkinesis would come
    with nearly every blink. Neither the time-locking nor the rest test decides; all 5 together do."""
    rows = blinks(BLINK_TIMES) + [("twitch", "left", "eye+mouth", t + 0.03, 0.2) for t in BLINK_TIMES[[1, 6, 11]]]
    rows += [("twitch", "left", "eye", t, 0.2) for t in (20.0, 40.0)]
    events = events_from(rows)
    test = coupling_test(events, recording(), "left")
    assert (test.n_episodes, test.n_inside, test.accompanied, test.of_kinds) == (5, 3, 3, 15)
    assert test.rest_p_value > 0.05
    verdict = classify(events, recording())
    assert (verdict.label, verdict.side) == ("primary_hfs", "left")
    assert "3 of 15" in verdict.reason


def test_quiet_recording_is_none():
    verdict = classify(events_from(blinks(BLINK_TIMES)), recording())
    assert verdict.label == "none"
    assert verdict.side == "none"
    assert verdict.confidence > 0.5


def two_bursts(side="right"):
    """Blinks plus two one-sided bursts of three eye twitches at rest."""
    return blinks(BLINK_TIMES) + [("twitch", side, "eye", start + 0.3 * k, 0.1) for start in (12.6, 40.2)
                                  for k in range(3)]


@pytest.mark.parametrize("side", ["left", "right"])
def test_two_bursts_in_a_minute_are_a_spasm_to_confirm(side):
    verdict = classify(events_from(two_bursts(side)), recording())
    assert (verdict.label, verdict.side) == ("primary_hfs", side)
    assert 0.3 < verdict.confidence <= DEFAULT_SETTINGS.few_episodes_confidence
    assert "would confirm" in verdict.reason


def test_two_bursts_with_blinks_are_not_a_spasm_at_rest():
    """The same six mouth twitches, each with a blink: carried along, not at rest."""
    rows = blinks(BLINK_TIMES) + [("twitch", "right", "mouth", BLINK_TIMES[k] + 0.05, 0.2) for k in (3, 10)]
    assert classify(events_from(rows), recording()).label != "primary_hfs"


def test_one_burst_in_a_minute_asks_for_a_longer_recording_one_twitch_is_none():
    """False alarms are single detections: three twitches in one burst are as unlikely from them as three
    apart (p = 0.014), yet one episode is too few to judge. One twitch a minute is what they give."""
    one_burst = [row for row in two_bursts() if row[3] < 30.0]
    verdict = classify(events_from(one_burst), recording())
    assert (verdict.label, verdict.side) == ("indeterminate", "right")
    assert "1 one-sided right episode (3 twitches)" in verdict.reason
    one_twitch = [row for row in two_bursts() if row[3] < 12.7]
    assert classify(events_from(one_twitch), recording()).label == "none"


def test_one_tonic_spasm_at_rest_asks_for_a_longer_recording():
    rows = blinks(BLINK_TIMES) + [("tonic_spasm", "left", "eye", 21.0, 1.8)]
    verdict = classify(events_from(rows), recording(30.0))
    assert (verdict.label, verdict.side) == ("indeterminate", "left") and "longer recording" in verdict.reason
    twitch = blinks(BLINK_TIMES) + [("twitch", "left", "eye", 21.0, 0.2)]
    assert classify(events_from(twitch), recording(30.0)).label == "none"


def with_strength(events: Events, strength: float) -> Events:
    """``events`` with every one-sided event peaking at ``strength`` times its detection threshold."""
    return replace(events, strength=np.where(events.one_sided, strength, np.nan))


def test_two_large_twitches_at_rest_are_a_spasm_to_confirm_two_just_detected_are_not():
    """Noise barely passes a threshold: two one-sided closures standing twice their threshold out of it in
    30 s are rarer from false detections (0.05/min that large) than strong_alpha; two at the threshold are not."""
    rows = blinks(BLINK_TIMES[BLINK_TIMES < 30]) + [("twitch", "left", "eye", t, 0.15) for t in (8.9, 21.3)]
    events = events_from(rows)
    large = classify(with_strength(events, 2.0), recording(30.0))
    assert (large.label, large.side) == ("primary_hfs", "left")
    assert large.confidence <= DEFAULT_SETTINGS.few_episodes_confidence and "would confirm" in large.reason
    assert classify(with_strength(events, 1.1), recording(30.0)).label == "none"
    assert classify(with_strength(events, 2.0), recording(300.0)).label == "none"  # in five minutes: chance
    one = events_from(rows[:-1])
    assert classify(with_strength(one, 5.0), recording(30.0)).label == "none"  # one, however large: a glitch


def test_a_burst_under_way_when_a_movement_begins_is_not_carried_by_it():
    """Five large eye twitches from 9.2 s, a brow raise from 10.4 s: a co-contraction starts with the movement
    that carries it, so the burst started at rest. One contraction started with the raise is carried."""
    burst = [("twitch", "right", "eye", 9.2 + 0.45 * k, 0.15) for k in range(5)]
    early = with_strength(events_from(burst + [("brow_raise", "both", "brow", 10.4, 0.8)]), 2.5)
    verdict = classify(early, recording(15.0))
    assert (verdict.label, verdict.side) == ("primary_hfs", "right") and "would confirm" in verdict.reason
    test = coupling_test(early, recording(15.0), "right")
    assert (test.n_inside, test.rest_detections) == (0, 5)
    carried = with_strength(events_from(burst[:1] + [("brow_raise", "both", "brow", 9.15, 2.4)]), 2.5)
    assert coupling_test(carried, recording(15.0), "right").n_inside == 1


def test_a_clonic_burst_started_with_a_movement_is_not_carried_by_it():
    """Five twitches at 2 Hz from the start of a brow raise: a synkinetic co-contraction is one contraction,
    a run of clonic twitches is a spasm meeting the raise by chance. Two twitches are not yet a burst, nor
    is a co-contraction a blink splits into held parts."""
    burst = [("twitch", "right", "eye", 9.2 + 0.45 * k, 0.15) for k in range(5)]
    raised = with_strength(events_from(burst + [("brow_raise", "both", "brow", 9.15, 2.4)]), 2.5)
    test = coupling_test(raised, recording(15.0), "right")
    assert (test.n_inside, test.rest_episodes, test.rest_detections) == (0, 1, 5)
    verdict = classify(raised, recording(15.0))
    assert (verdict.label, verdict.side) == ("primary_hfs", "right")
    pair = with_strength(events_from(burst[:2] + [("brow_raise", "both", "brow", 9.15, 2.4)]), 2.5)
    assert coupling_test(pair, recording(15.0), "right").n_inside == 1
    held = [("twitch", "right", "eye", 9.2, 0.3), ("tonic_spasm", "right", "eye", 9.6, 1.1),
            ("tonic_spasm", "right", "eye", 10.7, 1.0)]
    split = with_strength(events_from(held + [("brow_raise", "both", "brow", 9.15, 2.4)]), 2.5)
    assert coupling_test(split, recording(15.0), "right").n_inside == 1


def test_two_single_twitches_in_five_minutes_are_none():
    rows = blinks(BLINK_TIMES) + [("twitch", "right", "eye", t, 0.1) for t in (12.6, 40.2)]
    assert classify(events_from(rows), recording(300.0)).label == "none"


def test_scattered_events_on_both_sides_are_none():
    rows = hfs("left", n=5, seed=1) + [("twitch", "right", "eye", t, 0.1) for t in (3.3, 17.2, 29.1, 41.4, 52.6)]
    verdict = classify(events_from(rows), recording())
    assert verdict.label == "none"


def noisy(signals: Signals, sd: float) -> Signals:
    """``signals`` whose left-right eye difference varies with robust SD ``sd`` at rest."""
    difference = np.random.default_rng(5).normal(0.0, sd, signals.times_s.size)
    return Signals(times_s=signals.times_s, face_present=signals.face_present,
                   values={"eye_asymmetry": difference}, units={}, noise={}, fps=signals.fps)


def test_noisy_eyes_lower_the_confidence_in_none_and_do_not_block_a_verdict():
    quiet, restless = recording(), noisy(recording(), 0.06)
    calm = classify(events_from(blinks(BLINK_TIMES)), quiet)
    shaky = classify(events_from(blinks(BLINK_TIMES)), restless)
    assert (calm.label, shaky.label) == ("none", "none")
    assert shaky.confidence < 0.5 * calm.confidence and "may be missed" in shaky.reason
    assert classify(events_from(blinks(BLINK_TIMES)), noisy(recording(), 0.2)).confidence == 0.0
    spasm = classify(events_from(hfs("right")), restless)
    assert (spasm.label, spasm.side) == ("primary_hfs", "right")


def test_short_recording_is_indeterminate():
    rows = [("twitch", "left", "eye", t, 0.1) for t in (0.5, 2.0, 3.5)]
    verdict = classify(events_from(rows), recording(4.0))
    assert verdict.label == "indeterminate"
    assert "4.0 s" in verdict.reason


def test_little_tracked_face_is_indeterminate():
    verdict = classify(events_from(hfs("left")), recording(60.0, tracked=0.3))
    assert verdict.label == "indeterminate"
    assert "tracked" in verdict.reason


def test_mirror_swaps_the_verdict_side():
    events = events_from(hfs("left"))
    mirrored = Events(kind=events.kind, side=np.array([{"left": "right", "right": "left"}.get(s, s)
                                                       for s in events.side]), region=events.region,
                      start_s=events.start_s, end_s=events.end_s, amplitude=events.amplitude,
                      coupled_to=events.coupled_to)
    a, b = classify(events, recording()), classify(mirrored, recording())
    assert (a.label, a.side, b.label, b.side) == ("primary_hfs", "left", "primary_hfs", "right")
    assert a.confidence == pytest.approx(b.confidence)


def test_every_label_is_known():
    for rows in (hfs(), synkinesis(), blinks(BLINK_TIMES)):
        assert classify(events_from(rows), recording()).label in VERDICT_LABELS


def test_measures_hold_the_agreed_keys_and_true_values():
    rows = blinks([2.0, 12.0, 22.0]) + [("brow_raise", "both", "brow", 30.0, 1.0)]
    rows += [("twitch", "left", "eye", 5.0, 0.1), ("twitch", "left", "eye+mouth", 8.0, 0.2),
             ("tonic_spasm", "left", "eye+mouth", 15.0, 1.5), ("twitch", "left", "eye", 12.05, 0.1),
             ("twitch", "right", "mouth", 40.0, 0.1)]
    measures = clinical_measures(events_from(rows), recording(60.0))
    assert set(MEASURE_KEYS) <= set(measures)
    assert measures["twitches_left"] == 4
    assert measures["twitches_right"] == 1
    assert measures["twitches_per_min"] == pytest.approx(4.0)
    assert measures["rest_twitches"] == 3
    assert measures["coupled_twitches"] == 1
    assert measures["blinks"] == 3
    assert measures["blinks_per_min"] == pytest.approx(3.0)
    assert measures["brow_raises"] == 1
    assert measures["longest_spasm_s"] == pytest.approx(1.5)
    assert measures["spasm_time_pct"] == pytest.approx(100 * 1.9 / 60.0)
    assert measures["spread_to_mouth"] is True
    assert measures["jrs_frequency_estimate"] == 3
    assert measures["twitches_per_min_left_eye+mouth"] == pytest.approx(2.0)


def test_jankovic_estimate_grows_with_the_spasm():
    def jrs(rows):
        return clinical_measures(events_from(rows), recording(60.0))["jrs_frequency_estimate"]
    assert jrs(blinks(BLINK_TIMES)) == 0
    assert jrs(blinks(np.arange(0.5, 60, 1.5))) == 1  # 40 blinks a minute
    assert jrs([("twitch", "left", "eye", 5.0, 0.1)]) == 2
    assert jrs([("tonic_spasm", "left", "eye", 5.0, 2.0)]) == 3
    assert jrs([("tonic_spasm", "left", "eye", t, 6.0) for t in (0.0, 10.0, 20.0, 30.0, 40.0, 50.0)]) == 4


def test_bad_options_are_refused():
    for bad in ({"min_episodes": 0}, {"noise_k": 0.0}, {"rest_alpha": 2.0}, {"lag_tolerance_s": float("nan")},
                {"permutations": 5}):
        with pytest.raises(ParameterError, match=next(iter(bad))):
            AnalysisSettings(**bad)


@pytest.mark.parametrize("n", [1, 3, 10, 40])
@pytest.mark.parametrize("p", [0.0, 0.05, 0.3, 0.5, 0.9, 1.0])
def test_binomial_and_poisson_tails_are_scipy_stats_ones(n, p):
    from spasmscan.classify import binomial_sf, poisson_sf

    for k in range(n + 1):
        assert binomial_sf(k, n, p) == pytest.approx(binomtest(k, n, p, alternative="greater").pvalue, abs=1e-12)
    for r in range(12):
        assert poisson_sf(r, n * p) == pytest.approx(poisson.sf(r - 1, n * p), abs=1e-12)


def test_small_co_contractions_add_up_over_many_blinks():
    """A right mouth-corner pull with every blink, too small against a talking face's noise to stand
    out one by one: averaged over 20 blinks it is synkinesis of the right; without it, nothing."""
    from spasmscan.events import detect_events
    from spasmscan.classify import triggered_tests
    from test_events import FULL_BLINK, make_signals

    starts = list(np.arange(2.0, 60.0, 2.9) + np.random.default_rng(3).uniform(-0.5, 0.5, 20))
    blinks_only = make_signals(62.0, noise=0.06, seed=4, eye=[("both", s, 0.25, 2.5 * FULL_BLINK) for s in starts])
    with_pulls = make_signals(62.0, noise=0.06, seed=4, eye=[("both", s, 0.25, 2.5 * FULL_BLINK) for s in starts],
                              mouth=[("right", s + 0.05, 0.4, 0.05) for s in starts])
    events = detect_events(with_pulls)
    assert np.count_nonzero(events.kind == "blink") >= 15
    assert np.count_nonzero(events.one_sided & (events.side == "right")) < 3  # lost one by one
    mouth = [t for t in triggered_tests(events, with_pulls) if t.region == "mouth"][0]
    assert mouth.side == "right" and mouth.p_value < 0.01
    verdict = classify(events, with_pulls)
    assert (verdict.label, verdict.side) == ("synkinesis", "right")
    assert classify(detect_events(blinks_only), blinks_only).label == "none"


def test_one_spasm_meeting_one_of_three_smiles_is_no_co_contraction():
    """A co-contraction comes with most of the movements: a single held one-sided closure that happens to
    fall in one of three smiles moves the eye's mean response over them, not its median."""
    from spasmscan.events import detect_events
    from spasmscan.classify import triggered_tests
    from test_events import FULL_BLINK, blinks_at, make_signals

    smiles = [("both", t, 1.6, 0.08) for t in (8.0, 24.0, 40.0)]
    signals = make_signals(50.0, noise=0.01, seed=5, mouth=smiles,
                           eye=blinks_at([3.0, 15.5, 31.0, 46.0], depth=FULL_BLINK) + [("left", 24.3, 1.2, 0.3)])
    events = detect_events(signals)
    assert np.count_nonzero(events.kind == "smile") == 3
    eye = [t for t in triggered_tests(events, signals) if t.region == "eye"][0]
    assert abs(eye.response) < 0.02
    assert classify(events, signals).label != "synkinesis"


# -- both eyes: blepharospasm and bilateral hemifacial spasm -------------------------------------------

def closures(starts, length_s=1.5):
    return [("eye_closure", "both", "eye", s, length_s) for s in starts]


def blepharospasm(seed=0):
    """30 blinks a minute, some in flutters of four, and eight closures of both eyes held 1-3 s."""
    rng = np.random.default_rng(seed)
    rows = blinks(np.sort(rng.uniform(0.5, 59.0, 18)))
    rows += blinks([t + 0.5 * k for t in (8.0, 22.0, 41.0) for k in range(4)])
    return rows + [("eye_closure", "both", "eye", t, rng.uniform(1.0, 3.0)) for t in np.arange(3.0, 59.0, 7.0)]


def test_prolonged_closures_of_both_eyes_are_blepharospasm():
    verdict = classify(events_from(blepharospasm()), recording())
    assert (verdict.label, verdict.side) == ("blepharospasm", "both")
    # 8 closures where healthy adults give under one a minute (p ~ 1e-5), yet the closures alone cannot
    # tell it from repeated squeezing: the confidence is capped and the reason says so
    assert verdict.confidence == AnalysisSettings().blepharospasm_confidence
    assert "crying" in verdict.reason
    assert "prolonged closures of both eyes" in verdict.reason and "p = " in verdict.reason
    measures = clinical_measures(events_from(blepharospasm()), recording())
    assert measures["prolonged_closures_per_min"] == pytest.approx(8.0)
    assert measures["blink_clusters_per_min"] >= 3
    assert measures["longest_closure_s"] >= 1.0
    assert 10.0 < measures["both_eyes_closed_pct"] < 50.0
    assert measures["jrs_frequency_estimate"] == 3  # closures of a second or more


def test_frequent_blinks_of_a_talking_face_are_not_blepharospasm():
    """26 blinks a minute (the talking normal), none held: no verdict of both eyes, no increased blinking."""
    rng = np.random.default_rng(2)
    rows = blinks(np.sort(rng.uniform(0.5, 59.0, 26)))
    verdict = classify(events_from(rows), recording())
    assert verdict.label == "none"
    assert clinical_measures(events_from(rows), recording())["prolonged_closures_per_min"] == 0.0


def test_closures_during_smiles_or_prompted_steps_are_voluntary():
    """The same closures, each with a laugh's smile, are squints; inside a prompted step, obeyed."""
    from spasmscan.protocol import Segment

    rows = blepharospasm()
    smiles = [("smile", "both", "mouth", r[3] - 0.3, r[4] + 0.5) for r in rows if r[0] == "eye_closure"]
    laughing = classify(events_from(rows + smiles), recording())
    assert laughing.label == "none"
    assert clinical_measures(events_from(rows + smiles), recording())["prolonged_closures_per_min"] == 0.0
    prompted = (Segment("rest", 0.0, 2.0), Segment("eye_closures", 2.0, 60.0))
    assert classify(events_from(rows), recording(), segments=prompted).label == "none"


def test_long_blinks_of_a_talker_none_held_a_second_are_not_blepharospasm():
    """Twelve closures of 0.65 s a minute (a frequent blinker talking, as two real faces do): prolonged,
    yet none held as long as a tonic spasm; with one of them held 1.5 s, blepharospasm."""
    rng = np.random.default_rng(4)
    rows = blinks(np.sort(rng.uniform(0.5, 59.0, 20))) + closures(np.arange(2.0, 59.0, 5.0), 0.65)
    verdict = classify(events_from(rows), recording())
    assert verdict.label == "none"
    assert clinical_measures(events_from(rows), recording())["prolonged_closures_per_min"] == pytest.approx(12.0)
    held = rows[:-1] + closures([57.0], 1.5)
    assert classify(events_from(held), recording()).label == "blepharospasm"


def test_the_blink_rate_weighs_with_the_prolonged_closures():
    """Four closures held 1.2 s in a minute are few for blepharospasm alone (p = 0.02 against one a minute);
    with 50 blinks a minute (the increased blinking of blepharospasm) together they decide it. Six such
    closures with 15 blinks a minute (a face closing its eyes now and then, blinking normally) do not."""
    rng = np.random.default_rng(5)
    held = closures([6.0, 21.0, 37.0, 52.0], 1.2)
    free = [t for t in np.arange(0.5, 59.5, 0.3) if all(abs(t - c[3]) > 1.6 for c in held)]
    frequent = blinks(np.sort(rng.choice(free, 50, replace=False)))
    verdict = classify(events_from(frequent + held), recording())
    assert (verdict.label, verdict.side) == ("blepharospasm", "both") and "together p = " in verdict.reason
    test = closure_test(events_from(frequent + held), recording())
    assert test.p_value > AnalysisSettings().closure_alpha >= test.combined_p_value
    six = closures([3.5, 13.0, 23.5, 33.0, 43.5, 53.0], 1.2)
    apart = [t for t in np.sort(rng.choice(free, 40, replace=False)) if all(abs(t - c[3]) > 1.6 for c in six)]
    normal = blinks(apart[:15]) + six
    assert classify(events_from(normal), recording()).label == "none"
    assert closure_test(events_from(normal), recording()).p_value < AnalysisSettings().closure_alpha


def test_mouth_pulls_that_come_only_with_spasm_closures_are_blepharospasm():
    """Blepharospasm whose closures drag one mouth corner: the pulls come with closures that are
    themselves involuntary, not with voluntary movements: blepharospasm, not synkinesis. The same pulls
    with brow raises and without the held closures are synkinesis."""
    rows = blepharospasm()
    pulls = [("twitch", "right", "mouth", r[3] + 0.1, 0.3) for r in rows if r[0] == "eye_closure"]
    assert classify(events_from(rows + pulls), recording()).label == "blepharospasm"
    raises = [("brow_raise", "both", "brow", r[3], 1.0) for r in pulls]
    blinking = [r for r in rows if r[0] == "blink"]
    verdict = classify(events_from(blinking + raises + pulls), recording())
    assert (verdict.label, verdict.side) == ("synkinesis", "right")


def test_squints_are_not_prolonged_closures():
    """The same held closures only half as deep as the face's blinks (a crying or laughing face narrowing
    its eyes) are squints: no prolonged closure, no blepharospasm; as deep as the blinks, blepharospasm."""
    rows = blepharospasm()
    squints = [r + (0.1,) if r[0] == "eye_closure" else r for r in rows]
    assert classify(events_from(squints), recording()).label == "none"
    assert clinical_measures(events_from(squints), recording())["prolonged_closures_per_min"] == 0.0
    assert classify(events_from([r + (0.2,) for r in rows]), recording()).label == "blepharospasm"


def test_a_crying_face_with_three_long_closures_is_not_blepharospasm():
    """Three closures of both eyes in 20 s (as the crying real face gives): p = 0.005, short of closure_alpha."""
    rows = blinks([4.0, 6.5, 8.4, 12.0, 16.0]) + closures([0.6, 12.3, 18.3], 1.5)
    verdict = classify(events_from(rows), recording(20.0))
    assert verdict.label == "none"
    assert any("3 prolonged closures" in line for line in verdict.evidence)


def rest_twitches(side, times):
    return [("twitch", side, "eye", t, 0.1) for t in times]


def test_independent_spasms_of_both_sides_are_bilateral_hfs():
    left, right = hfs("left", n=12, seed=3), rest_twitches("right", [r[3] for r in hfs("right", n=12, seed=4)
                                                                      if r[0] == "twitch"])
    verdict = classify(events_from(left + right), recording())
    assert (verdict.label, verdict.side) == ("primary_hfs", "both")
    assert "bilateral hemifacial spasm" in verdict.reason and verdict.confidence > 0.99


def test_synchronous_one_sided_events_of_both_sides_are_not_bilateral_hfs():
    rows = hfs("left", n=12, seed=3)
    rows += rest_twitches("right", [r[3] + 0.05 for r in rows if r[0] == "twitch"])
    verdict = classify(events_from(rows), recording())
    assert verdict.label == "none"
    assert "start together" in verdict.reason


def test_large_independent_bursts_on_both_sides_are_bilateral_hfs():
    """One burst of large twitches a side in 35 s, each side beyond the rate of large false detections on
    its own, starting apart: bilateral. Just-detected twitches in the same place are noise of both sides."""
    rows = [("twitch", "left", "eye", 6.0 + 0.4 * k, 0.12) for k in range(5)]
    rows += [("twitch", "right", "eye", 21.0 + 0.4 * k, 0.12) for k in range(4)]
    events = events_from(blinks(BLINK_TIMES[BLINK_TIMES < 35]) + rows)
    verdict = classify(with_strength(events, 2.5), recording(35.0))
    assert (verdict.label, verdict.side) == ("primary_hfs", "both") and "bilateral hemifacial spasm" in verdict.reason
    assert classify(with_strength(events, 1.1), recording(35.0)).label == "none"


def test_a_spasm_at_rest_meeting_the_movements_is_not_synkinesis_by_their_average():
    """The right eye narrows a little with each of twelve brow raises, too little to stand out one by one,
    and twitches at rest between every other pair: the movement-locked response alone says synkinesis, the
    twitches at rest say a spasm (synkinesis is quiet at rest). Without them, the raises give synkinesis."""
    from spasmscan.events import detect_events
    from test_events import FULL_BLINK, blinks_at, make_signals

    raises = list(np.arange(3.0, 57.0, 4.5) + np.random.default_rng(11).uniform(-1.0, 1.0, 12))
    narrowing = [("right", t + 0.05, 1.0, 0.15) for t in raises]
    twitches = [("right", t + 2.4, 0.2, 0.6) for t in raises[::2]]
    base = dict(noise=0.04, seed=2, brow=[("both", t, 1.1, 0.1) for t in raises])
    spasm = make_signals(60.0, eye=blinks_at([1.0, 30.5, 56.5], depth=FULL_BLINK) + narrowing + twitches, **base)
    verdict = classify(detect_events(spasm), spasm)
    assert (verdict.label, verdict.side) == ("primary_hfs", "right")
    quiet = make_signals(60.0, eye=blinks_at([1.0, 30.5, 56.5], depth=FULL_BLINK) + narrowing, **base)
    assert classify(detect_events(quiet), quiet).label == "synkinesis"


def test_a_spasm_with_a_few_twitches_of_the_other_side_is_bilateral_hfs():
    """Twelve large left episodes in a minute establish a spasm; three right twitches at rest, apart from the
    left's, are more than false detections give (rest_alpha): a second side, however much weaker. With
    one just-detected right twitch the other side is chance: left primary HFS."""
    rows = hfs("left", n=12, seed=3)
    right = [("twitch", "right", "eye", t, 0.12) for t in (14.3, 33.8, 51.1)]
    verdict = classify(with_strength(events_from(rows + right), 2.5), recording())
    assert (verdict.label, verdict.side) == ("primary_hfs", "both") and "bilateral hemifacial spasm" in verdict.reason
    weak = classify(with_strength(events_from(rows + right[:1]), 1.1), recording())
    assert (weak.label, weak.side) == ("primary_hfs", "left")


def test_scattered_noise_on_both_sides_stays_none_not_bilateral():
    """Five episodes a side in a minute beat false alarms at strong_alpha, not at bilateral_alpha."""
    rows = hfs("left", n=5, seed=1) + rest_twitches("right", (3.3, 17.2, 29.1, 41.4, 52.6))
    assert classify(events_from(rows), recording()).label == "none"
