"""The review pages: what they hold (always), and how they behave in headless Chromium (when installed).

The browser tests drive Debian's Chromium through its chromedriver with Selenium; nothing is
downloaded (the driver path is given, so Selenium Manager never runs). Without Chromium they
skip, except under CI=true, where they must run.
"""
from __future__ import annotations

import csv
import math
import os
import re
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from spasmscan.cli import cli
from spasmscan.errors import InputNotFoundError, ParameterError
from spasmscan.review_page import (MAX_BUCKETS, PRE_ROLL_S, REVIEW_COLUMNS, _envelope, index_html, page_html,
                                   score_reviews, write_index)

from fake_analysis import make_analysis

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "samples" / "hfs_left_eye.mp4"
HOSTILE = "<img src=x onerror=alert(1)>"  # a legal file name on Linux that would run script if not escaped
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
WINDOW = (1400, 1000)
WAIT_S = 15.0  # the longest any browser condition is waited for


# -- without a browser ----------------------------------------------------------------------------
def test_page_escapes_the_file_name_and_shows_no_folder():
    source = f"/home/someone/clinic/{HOSTILE}.mp4"
    page = page_html(make_analysis(source=source), file=source, video_name=f"{HOSTILE}.annotated.mp4",
                     video_codec="h264")
    assert HOSTILE not in page
    assert "&lt;img src=x onerror=alert(1)&gt;.mp4" in page
    assert "/home/someone" not in page and "clinic/" not in page
    assert 'src="%3Cimg%20src%3Dx%20onerror%3Dalert%281%29%3E.annotated.mp4"' in page
    data = re.search(r'<script type="application/json" id="data">(.*?)</script>', page, re.S).group(1)
    assert "<" not in data and ">" not in data


def test_page_holds_the_summary_events_and_review_controls():
    analysis = make_analysis()
    page = page_html(analysis, file="patient.mp4", video_name="patient.annotated.mp4", video_codec="h264")
    assert "primary hemifacial spasm, left side" in page and "confidence 0.87" in page
    assert "2 one-sided twitches at rest on the patient&#x27;s left" in page
    assert "the recording is short" in page  # a quality note in words, not the flag's name
    assert "20.0" in page and "circular-shift p = 1.23e-07" in page
    assert page.count('<tr class="event ') == len(analysis.events) == 6
    assert page.count('data-mark="confirmed"') == 3  # a pair of buttons for each twitch and tonic spasm
    assert "http://" not in page and "https://" not in page and "<link" not in page  # nothing fetched
    assert "browsers cannot play it" not in page


def test_page_warns_when_the_video_is_not_h264_and_handles_no_video():
    analysis = make_analysis()
    assert "browsers cannot play it" in page_html(analysis, file="a.mp4", video_name="a.annotated.mp4",
                                                  video_codec="mp4v")
    page = page_html(analysis, file="camera 0", video_name=None)
    assert "<video" not in page and "nothing to play" in page


def test_html_needs_an_out_folder():
    result = CliRunner().invoke(cli, ["analyze", str(SAMPLE), "--html"])
    assert result.exit_code == ParameterError.exit_code and "--html needs --out" in result.output


def test_long_signals_are_drawn_from_at_most_a_few_thousand_points_and_keep_spikes():
    times = np.arange(100_000) / 30.0
    values = np.zeros(times.size)
    values[54_321] = 5.0  # a one-frame spike
    values[70_000:70_100] = np.nan
    t, v = _envelope(times, values)
    assert t.size <= 2 * MAX_BUCKETS
    assert np.nanmax(v) == 5.0 and np.isnan(v).any()


def review_file(path: Path, marks: dict) -> Path:
    """A review CSV as a page saves it: the 6 default events, ``marks`` by event number."""
    analysis = make_analysis()
    with open(path, "w", encoding="utf-8", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(REVIEW_COLUMNS)
        for i in range(len(analysis.events)):
            mark = marks.get(i + 1, "")
            writer.writerow(["'=x.mp4", i + 1, analysis.events.kind[i], analysis.events.side[i], "eye",
                             analysis.events.start_s[i], analysis.events.end_s[i], 0.1, 0.1, mark,
                             "AB" if mark else "", "2026-01-01T00:00:00Z" if mark else ""])
    return path


def test_review_score_counts_marks_of_involuntary_events(tmp_path):
    # events 2, 3 and 5 are involuntary (twitch, twitch, tonic spasm); 1 is a blink
    one = review_file(tmp_path / "a.review.csv", {2: "confirmed", 3: "rejected", 5: "confirmed", 1: "confirmed"})
    score = score_reviews([one])
    assert score.total() == {"confirmed": 2, "rejected": 1, "unmarked": 0}
    assert list(score.per_file) == ["=x.mp4"]  # the spreadsheet guard is taken off again
    assert score.precision(score.total()) == pytest.approx(2 / 3)
    result = CliRunner().invoke(cli, ["review-score", str(one)])
    assert result.exit_code == 0, result.output
    assert "precision 0.667 (2 confirmed, 1 rejected, 0 unmarked" in result.output


def test_review_score_refuses_other_files(tmp_path):
    with pytest.raises(InputNotFoundError):
        score_reviews([tmp_path / "missing.csv"])
    (tmp_path / "events.csv").write_text("file,event,side\na.mp4,twitch,left\n", encoding="utf-8")
    with pytest.raises(ParameterError, match="no mark column"):
        score_reviews([tmp_path / "events.csv"])
    bad = review_file(tmp_path / "bad.review.csv", {2: "maybe"})
    result = CliRunner().invoke(cli, ["review-score", str(bad)])
    assert result.exit_code == ParameterError.exit_code and "unknown mark 'maybe'" in result.output


class FakeResult:
    """The fields of a batch VideoResult that the index reads."""

    def __init__(self, file, stem, status="ok", error="", **row):
        self.file, self.stem, self.status, self.error = file, stem, status, error
        self.row = {"file": file, "status": status, "error": error, **row}

    @property
    def ok(self):
        return self.status == "ok"


INDEX_RESULTS = (
    FakeResult("b.mp4", "b", classification="primary_hfs", affected_side="left", confidence=0.5,
               twitches_per_min=12.0, jrs_frequency_estimate=2.0, quality_flags=["head_motion"]),
    FakeResult("/data/clinic/a.mp4", "a", classification="none", affected_side="none", confidence=0.9,
               twitches_per_min=0.0, jrs_frequency_estimate=0.0, quality_flags=[]),
    FakeResult("c.mp4", "c", classification="synkinesis", affected_side="right", confidence=0.1,
               twitches_per_min=30.0, jrs_frequency_estimate=float("nan"), quality_flags=[]),
    FakeResult(f"/data/clinic/{HOSTILE}.mp4", "d", status="error",
               error="internal error: cannot open /data/clinic/x.tmp"),
)


def test_index_lists_every_video_with_errors_and_without_folders():
    page = index_html(INDEX_RESULTS, pages={"a": "a.html", "b": "b.html"}, hidden_paths=["/data/clinic"])
    assert page.count("<tr data-verdict=") == 4
    assert '<a href="a.html">a.mp4</a>' in page and '<a href="b.html">b.mp4</a>' in page
    assert "3 analysed, 1 failed" in page
    assert "cannot open clinic/x.tmp" not in page and "/data/clinic" not in page and "cannot open x.tmp" in page
    assert HOSTILE not in page and "&lt;img src=x onerror=alert(1)&gt;.mp4" in page


def test_annotated_video_is_h264_with_the_index_first(tmp_path):
    import av

    from spasmscan.annotate import annotated_codec, write_annotated_video

    clip = tmp_path / "clip.mp4"
    shutil.copy(SAMPLE, clip)
    analysis = make_analysis(seconds=1.0, fps=30.0, width=480, height=360, source=str(clip))
    assert annotated_codec() == "h264"  # PyAV's wheel bundles libx264
    assert write_annotated_video(analysis, clip, tmp_path / "out.mp4") == 30
    with av.open(str(tmp_path / "out.mp4")) as container:
        stream = container.streams.video[0]
        assert (stream.codec_context.name, stream.pix_fmt) == ("h264", "yuv420p")
        assert stream.frames == 30
    data = (tmp_path / "out.mp4").read_bytes()
    assert data.index(b"moov") < data.index(b"mdat")  # +faststart: a browser can start before the end


def test_without_h264_the_fallback_video_is_written_and_the_page_says_so(tmp_path, monkeypatch):
    import av

    from spasmscan import annotate
    from spasmscan.report import write_reports

    monkeypatch.setattr(annotate, "h264_available", lambda: False)
    clip = tmp_path / "clip.mp4"
    shutil.copy(SAMPLE, clip)
    analysis = make_analysis(seconds=0.5, fps=30.0, width=480, height=360, source=str(clip))
    written = write_reports(analysis, tmp_path / "out", annotate_video=clip, html=True)
    assert [path.name for path in written[-2:]] == ["clip.annotated.mp4", "clip.html"]
    with av.open(str(written[-2])) as container:
        assert container.streams.video[0].codec_context.name == "mpeg4"
    assert "This video is mp4v" in written[-1].read_text(encoding="utf-8")


# -- in the browser -------------------------------------------------------------------------------
def _browser_problem() -> str | None:
    for path in (CHROMIUM, CHROMEDRIVER):
        if not os.access(path, os.X_OK):
            return f"{path} is missing: apt-get install chromium chromium-driver"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed: pip install -e '.[test]'"
    return None


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    """Headless Chromium with its downloads going to ``browser.download_dir``."""
    problem = _browser_problem()
    if problem:
        if os.environ.get("CI") == "true":
            pytest.fail(f"browser tests must run under CI=true, but {problem}")
        pytest.skip(f"browser tests skipped: {problem}")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    downloads = tmp_path_factory.mktemp("downloads")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     "--hide-scrollbars", f"--window-size={WINDOW[0]},{WINDOW[1]}", "--mute-audio",
                     "--autoplay-policy=no-user-gesture-required"):
        options.add_argument(argument)
    options.add_experimental_option("prefs", {"download.default_directory": str(downloads),
                                              "download.prompt_for_download": False})
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SE_OFFLINE", "true")  # and were a path missing, Selenium Manager would not download either
        driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.download_dir = downloads
    yield driver
    driver.quit()


def wait_for(condition, what: str):
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"waited {WAIT_S} s for {what}")


@pytest.fixture(scope="module")
def sample_page(tmp_path_factory):
    """``spasmscan analyze '<img ...>.mp4' --out DIR --html`` on the left-eye sample: (page, events rows)."""
    folder = tmp_path_factory.mktemp("review")
    clip = folder / f"{HOSTILE}.mp4"
    shutil.copy(SAMPLE, clip)
    out = folder / "reports"
    result = CliRunner().invoke(cli, ["analyze", str(clip), "--out", str(out), "--html"])
    assert result.exit_code == 0, result.output
    with open(out / f"{HOSTILE}.events.csv", encoding="utf-8") as stream:
        events = list(csv.DictReader(stream))
    assert sum(row["event"] in ("twitch", "tonic_spasm") for row in events) >= 3
    return out / f"{HOSTILE}.html", events


def open_page(browser, path: Path):
    browser.get(path.as_uri())
    wait_for(lambda: browser.execute_script(
        "var v = document.getElementById('video'); return v && v.readyState >= 1"), "the video's metadata")
    browser.execute_script("var v = document.getElementById('video'); v.pause(); v.currentTime = 0;")


def current_time(browser) -> float:
    return browser.execute_script("return document.getElementById('video').currentTime")


def test_the_video_plays_with_the_clips_duration(browser, sample_page):
    import av

    page, _ = sample_page
    open_page(browser, page)
    with av.open(str(SAMPLE)) as container:
        stream = container.streams.video[0]
        clip_s = stream.frames / float(stream.average_rate)
    duration = browser.execute_script("return document.getElementById('video').duration")
    assert math.isfinite(duration) and duration == pytest.approx(clip_s, abs=0.05)
    assert browser.execute_script("return document.getElementById('video').error") is None


def test_clicking_the_third_event_seeks_just_before_its_onset_and_plays(browser, sample_page):
    from selenium.webdriver.common.by import By

    page, events = sample_page
    open_page(browser, page)
    browser.find_elements(By.CSS_SELECTOR, "#events tbody tr")[2].find_elements(By.TAG_NAME, "td")[1].click()
    onset = float(events[2]["start_s"])
    now = current_time(browser)
    assert onset - 0.5 <= now <= onset, (now, onset)
    wait_for(lambda: current_time(browser) > max(now, onset - PRE_ROLL_S) + 0.05, "the video to play on")


def test_n_and_p_jump_between_involuntary_events(browser, sample_page):
    from selenium.webdriver.common.by import By

    page, events = sample_page
    onsets = [float(row["start_s"]) for row in events if row["event"] in ("twitch", "tonic_spasm")]
    open_page(browser, page)
    body = browser.find_element(By.TAG_NAME, "body")
    for expected in (onsets[0], onsets[1], onsets[2]):
        body.send_keys("n")
        now = current_time(browser)
        assert expected - 0.5 <= now <= expected, (now, expected)
    body.send_keys("p")
    now = current_time(browser)
    assert onsets[1] - 0.5 <= now <= onsets[1], (now, onsets[1])
    body.send_keys(" ")  # space pauses
    wait_for(lambda: browser.execute_script("return document.getElementById('video').paused"), "space to pause")


def test_marks_are_downloaded_as_a_review_csv(browser, sample_page):
    from selenium.webdriver.common.by import By

    page, events = sample_page
    open_page(browser, page)
    involuntary = browser.find_elements(By.CSS_SELECTOR, "#events tbody tr.involuntary")
    first, second = involuntary[0], involuntary[2]
    first.find_element(By.CSS_SELECTOR, "button[data-mark=confirmed]").click()
    second.find_element(By.CSS_SELECTOR, "button[data-mark=rejected]").click()
    browser.find_element(By.ID, "reviewer").send_keys("AB")
    browser.find_element(By.ID, "download").click()
    # Chromium replaces the characters Windows forbids in file names (< >) when it saves a download
    saved = wait_for(lambda: [p for p in browser.download_dir.glob("*.review.csv")], "the review download")[0]
    with open(saved, encoding="utf-8") as stream:
        rows = list(csv.DictReader(stream))
    assert len(rows) == len(events) and tuple(rows[0]) == REVIEW_COLUMNS
    marked = {int(row["number"]): (row["mark"], row["reviewer"]) for row in rows if row["mark"]}
    numbers = [int(first.get_attribute("data-event")) + 1, int(second.get_attribute("data-event")) + 1]
    assert marked == {numbers[0]: ("confirmed", "AB"), numbers[1]: ("rejected", "AB")}
    assert float(rows[numbers[0] - 1]["start_s"]) == pytest.approx(float(events[numbers[0] - 1]["start_s"]), abs=1e-3)
    assert rows[0]["file"] == f"{HOSTILE}.mp4"
    score = score_reviews([saved])
    assert score.total()["confirmed"] == 1 and score.total()["rejected"] == 1


def test_the_hostile_file_name_renders_as_text(browser, sample_page):
    from selenium.common.exceptions import NoAlertPresentException
    from selenium.webdriver.common.by import By

    page, _ = sample_page
    open_page(browser, page)
    assert browser.find_element(By.TAG_NAME, "h1").text == f"{HOSTILE}.mp4"
    assert browser.find_elements(By.TAG_NAME, "img") == []
    assert str(page.parent.parent) not in browser.page_source  # no folder of this machine
    with pytest.raises(NoAlertPresentException):
        browser.switch_to.alert.text


def test_the_batch_index_sorts_and_filters(browser, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    for stem in ("a", "b"):
        (tmp_path / f"{stem}.html").write_text(f"<title>page {stem}</title>", encoding="utf-8")
    browser.get(write_index(tmp_path, INDEX_RESULTS).as_uri())

    def files():
        return [row.find_element(By.TAG_NAME, "td").text for row in
                browser.find_elements(By.CSS_SELECTOR, "#index tbody tr") if row.is_displayed()]

    assert files() == ["b.mp4", "a.mp4", "c.mp4", f"{HOSTILE}.mp4"]
    header = browser.find_element(By.XPATH, "//th[text()='confidence']")
    header.click()
    assert files() == ["c.mp4", "b.mp4", "a.mp4", f"{HOSTILE}.mp4"]  # ascending, the failed video's blank last
    header.click()
    assert files() == ["a.mp4", "b.mp4", "c.mp4", f"{HOSTILE}.mp4"]
    browser.find_element(By.XPATH, "//th[text()='twitches/min']").click()
    assert files() == ["a.mp4", "b.mp4", "c.mp4", f"{HOSTILE}.mp4"]
    Select(browser.find_element(By.ID, "filter")).select_by_value("synkinesis")
    assert files() == ["c.mp4"]
    Select(browser.find_element(By.ID, "filter")).select_by_value("")
    browser.find_element(By.LINK_TEXT, "a.mp4").click()
    assert browser.title == "page a"


def test_a_batch_writes_pages_and_an_index_linking_them(browser, tmp_path, sample_page):
    from selenium.webdriver.common.by import By

    from spasmscan.batch import run_batch

    clip = tmp_path / f"{HOSTILE}.mp4"
    shutil.copy(SAMPLE, clip)
    (tmp_path / "broken.mp4").write_bytes(b"not a video")
    out = tmp_path / "out"
    result = run_batch([str(clip), str(tmp_path / "broken.mp4")], out, html=True, jobs=1)
    assert result.failed == 1
    browser.get((out / "index.html").as_uri())
    assert "1 analysed, 1 failed" in browser.find_element(By.CLASS_NAME, "counts").text
    assert "cannot be decoded" in browser.find_element(By.CLASS_NAME, "error").text
    assert str(tmp_path) not in browser.page_source
    browser.find_element(By.LINK_TEXT, f"{HOSTILE}.mp4").click()
    wait_for(lambda: browser.execute_script(
        "var v = document.getElementById('video'); return v && v.readyState >= 1"), "the batch page's video")
    assert browser.find_element(By.TAG_NAME, "h1").text == f"{HOSTILE}.mp4"


def test_a_screenshot_of_the_page_is_not_blank(browser, sample_page, tmp_path_factory, record_property):
    import cv2
    from selenium.webdriver.common.by import By

    page, events = sample_page
    open_page(browser, page)
    browser.execute_script("document.getElementById('video').currentTime = arguments[0]",
                           float(events[2]["start_s"]))
    wait_for(lambda: browser.execute_script("var v = document.getElementById('video'); "
                                            "return !v.seeking && v.readyState >= 2"), "the frame to show")
    path = tmp_path_factory.mktemp("screenshots") / "review-page.png"
    assert browser.save_screenshot(str(path))
    print(f"screenshot of the review page: {path}")
    record_property("screenshot", str(path))
    image = cv2.imread(str(path))
    assert image.shape[1] == WINDOW[0]
    assert image.std() > 20 and len(np.unique(image.reshape(-1, 3), axis=0)) > 1000
    box = browser.find_element(By.ID, "video").rect  # the video's frame is drawn, not a black box
    frame = image[int(box["y"]) + 10:int(box["y"] + box["height"]) - 60, int(box["x"]) + 10:int(box["x"] + box["width"]) - 10]
    assert frame.size and frame.std() > 20
