"""The table of event kinds and the verdict words: every view reads the same table."""
from __future__ import annotations

import numpy as np
import pytest

from fake_analysis import make_analysis
from spasmscan.classify import TRIGGER_KINDS
from spasmscan.evaluate import FAMILIES
from spasmscan.events import EVENT_KINDS, INVOLUNTARY_KINDS, VOLUNTARY_KINDS
from spasmscan.kinds import DRIVEN_REGION, KINDS, VERDICT_TEXT, kind_label
from spasmscan.measures import clinical_measures
from spasmscan.summary import summary_text

ALL_KINDS = tuple((kind.name, "both" if kind.voluntary else "left", kind.region or "eye", 1.0 + i, 1.5 + i, 0.2, -1)
                  for i, kind in enumerate(KINDS))


def test_every_kind_is_voluntary_or_involuntary_once():
    assert sorted(EVENT_KINDS) == sorted(kind.name for kind in KINDS)
    assert not set(VOLUNTARY_KINDS) & set(INVOLUNTARY_KINDS)
    assert set(DRIVEN_REGION) == set(VOLUNTARY_KINDS)
    assert all(DRIVEN_REGION[kind] in ("eye", "brow", "mouth") for kind in VOLUNTARY_KINDS)


def test_each_region_is_read_over_the_movements_that_do_not_drive_it():
    assert set(TRIGGER_KINDS["eye"]) == {"brow_raise", "smile"}
    assert set(TRIGGER_KINDS["mouth"]) == {"blink", "eye_closure", "brow_raise"}


def test_evaluate_scores_the_families_of_the_table():
    assert FAMILIES == {"twitch": ("twitch", "tonic_spasm"), "blink": ("blink",)}


def test_the_timeline_legend_has_every_kind_with_its_own_colour():
    from spasmscan.plot import _legend_handles

    events = make_analysis(events=ALL_KINDS).events
    handles = _legend_handles(events, any_no_face=False)
    labels = [handle.get_label() for handle in handles]
    for kind in KINDS:
        prefix = "" if kind.voluntary else "involuntary: "
        assert f"{prefix}{kind.label} (1)" in labels
    assert len({kind.color for kind in KINDS}) == len(KINDS)


def test_the_held_eye_closure_has_a_colour_on_the_timeline():
    from matplotlib.colors import to_hex

    from spasmscan.plot import OTHER_KIND_COLOR, _legend_handles

    handles = _legend_handles(make_analysis(events=ALL_KINDS).events, any_no_face=False)
    closure = next(h for h in handles if h.get_label().startswith(kind_label("eye_closure")))
    assert to_hex(closure.get_facecolor(), keep_alpha=False) != OTHER_KIND_COLOR


def test_the_measures_count_the_voluntary_kinds_of_the_table():
    analysis = make_analysis(events=ALL_KINDS)
    measures = clinical_measures(analysis.events, analysis.signals)
    for kind in KINDS:
        if kind.measure:
            assert measures[kind.measure] == 1
    assert np.isfinite(measures["blinks_per_min"])


@pytest.mark.parametrize("label", sorted(VERDICT_TEXT))
def test_the_terminal_and_the_timeline_use_the_same_verdict_words(label):
    from spasmscan.plot import verdict_title

    analysis = make_analysis(label=label)
    words = VERDICT_TEXT[label]
    assert f"verdict: {words}" in summary_text(analysis)
    assert verdict_title(analysis, "a.mp4").startswith(f"a.mp4: {words}")


def test_no_other_module_spells_a_verdict_its_own_way():
    from pathlib import Path

    import spasmscan

    package = Path(spasmscan.__file__).parent
    for path in package.glob("*.py"):
        if path.name == "kinds.py":
            continue
        text = path.read_text(encoding="utf-8")
        for phrase in ("no spasm found", "no one-sided spasm found"):
            assert phrase not in text, f"{path.name} spells a verdict itself: {phrase!r}"
