"""The web UI's text checker in a real browser against the real app and text models: decision,
scores, evidence highlighted at the right characters (emoji before it), errors, history, phone."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from helpers.accounts import api_client
from helpers.samples import image_bytes
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser

OFFENSIVE = "😀🎉 you are a stupid sh1t 😀 honestly"  # two astral characters before the evidence
CLEAN = "Thanks for the lovely dinner 🍝, see you tomorrow!"
NO_SIDEWAYS_SCROLL = "() => document.documentElement.scrollWidth <= window.innerWidth"
# Where a mark starts inside the text view, in the page's own (UTF-16) indices.
MARK_OFFSET = """mark => {
    const range = document.createRange();
    range.setStart(document.getElementById("text-view"), 0);
    range.setEndBefore(mark);
    return range.toString().length;
}"""


def utf16(text: str, index: int) -> int:
    """A Python (code point) index of `text` as a JavaScript (UTF-16) index."""
    return len(text[:index].encode("utf-16-le")) // 2


def api(base_url: str, text: str) -> dict:
    return api_client(base_url).post("/v1/moderate/text", json={"text": text}).json()


def check(page: Page, text: str, *, keyboard: bool = False) -> None:
    page.get_by_test_id("text-input").fill(text)
    if keyboard:
        page.get_by_test_id("text-input").press("Control+Enter")
    else:
        page.get_by_test_id("text-submit").click()


def wait_text_result(page: Page, text: str) -> None:
    """The result panel shows the text result for `text` (not the placeholder, not an older one)."""
    expect(page.get_by_test_id("result")).to_be_visible()
    expect(page.get_by_test_id("result")).to_have_attribute("data-kind", "text")
    expect(page.get_by_test_id("text-view")).to_have_text(text)


def test_offensive_text_shows_decision_scores_and_evidence_at_the_right_place(
    open_page, base_url: str, artifacts: Path
) -> None:
    """Ctrl+Enter checks the text; the page shows what the API says, and every evidence span is a
    <mark> over exactly the characters the API names, although emoji (two UTF-16 units each, one
    Python character) come before it."""
    truth = api(base_url, OFFENSIVE)
    assert truth["decision"] != "allow", truth
    evidence = [e for reason in truth["reasons"] for e in reason["evidence"] or []]
    assert evidence, "the API gave no evidence for an offensive text"

    page = open_page(base_url)
    check(page, OFFENSIVE, keyboard=True)
    # The counter counts characters as the server does (code points), not UTF-16 units.
    expect(page.get_by_test_id("text-count")).to_have_text(f"{len(OFFENSIVE)} / 20,000")
    wait_text_result(page, OFFENSIVE)

    expect(page.get_by_test_id("decision")).to_have_text(truth["decision"])
    expect(page.get_by_test_id("decision")).to_have_attribute("data-decision", truth["decision"])
    expect(page.get_by_test_id("label")).to_have_text(re.compile(rf"^{truth['label']} · \d+\.\d%$"))
    expect(page.get_by_test_id("stage")).to_be_hidden()  # nothing of the image view
    expect(page.get_by_test_id("detections")).to_be_hidden()

    rows = page.get_by_test_id("score-row")
    expect(rows).to_have_count(len(truth["scores"]))
    shown = {r.get_attribute("data-class"): float(r.get_attribute("data-value") or "nan") for r in rows.all()}
    assert shown == pytest.approx(truth["scores"])

    reason = page.get_by_test_id("reason").first
    first = truth["reasons"][0]
    expect(reason).to_contain_text(first["category"])
    expect(reason).to_contain_text(f"threshold {first['threshold']:.2f}")
    expect(reason).to_contain_text(first["model"])
    expect(reason.locator(".evidence-chip").first).to_have_text(first["evidence"][0]["text"])

    marks = page.get_by_test_id("evidence")
    expect(marks).to_have_count(len({(e["start"], e["end"]) for e in evidence}))  # none overlap here
    placed = {(m.text_content(), m.evaluate(MARK_OFFSET)): m.get_attribute("title") for m in marks.all()}
    for reason in truth["reasons"]:
        for e in reason["evidence"] or []:
            assert OFFENSIVE[e["start"] : e["end"]] == e["text"]
            key = (e["text"], utf16(OFFENSIVE, e["start"]))
            assert key in placed, f"no mark {key} among {list(placed)}"
            # one mark may carry several reasons (profanity and the classifier name the same word)
            assert f"{reason['category']} · weight {e['weight']:.2f}" in (placed[key] or "")

    models = page.get_by_test_id("model-row")
    expect(models).to_have_count(len(truth["models"]))
    expect(models.first.get_by_test_id("model-duration")).to_have_text(re.compile(r"^\d+\.\d ms$"))
    expect(page.get_by_test_id("timing")).to_contain_text(truth["id"][:12])

    shot = artifacts / "text-result.png"
    shot.unlink(missing_ok=True)
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000


def test_clean_text_is_allowed_without_marks(open_page, base_url: str) -> None:
    page = open_page(base_url)
    check(page, CLEAN)
    wait_text_result(page, CLEAN)
    expect(page.get_by_test_id("decision")).to_have_text("allow")
    expect(page.get_by_test_id("label")).to_have_text(re.compile(r"^neutral · "))
    expect(page.get_by_test_id("evidence")).to_have_count(0)
    expect(page.get_by_test_id("text-view-note")).to_contain_text("Nothing highlighted")
    expect(page.get_by_test_id("reason")).to_have_count(0)

    # An empty text is not sent.
    page.get_by_test_id("text-input").fill("   ")
    page.get_by_test_id("text-submit").click()
    expect(page.get_by_test_id("status")).to_have_text("Type or paste a text first.")
    expect(page.get_by_test_id("text-input")).to_be_focused()
    expect(page.get_by_test_id("history-item")).to_have_count(1)


def test_a_text_over_the_limit_shows_the_api_error(open_page, serve) -> None:
    """An app whose text limit is 50 characters: the API's `too_large` reaches the page."""
    with serve(max_text_chars=50) as url:
        page = open_page(url)
        expect(page.get_by_test_id("max-text")).to_have_text("50")
        page.get_by_test_id("text-input").fill("a" * 60)
        expect(page.get_by_test_id("text-count")).to_have_text("60 / 50 — too long")
        expect(page.get_by_test_id("text-input")).to_have_attribute("aria-invalid", "true")
        with page.expect_response("**/v1/moderate/text") as answer:
            page.get_by_test_id("text-submit").click()
        assert answer.value.status == 413
        expect(page.get_by_test_id("error")).to_be_visible()
        expect(page.get_by_test_id("error-code")).to_have_text("too_large")
        expect(page.get_by_test_id("error-message")).to_contain_text("60 characters is over the limit of 50")
        expect(page.get_by_test_id("result")).to_be_hidden()
        expect(page.get_by_test_id("history-item").first).to_contain_text("too_large")


def test_history_keeps_text_checks_next_to_images(open_page, base_url: str) -> None:
    """A text check is a "Text" entry named by its first words; selecting it shows the text result
    again (also after a reload), and an image entry still shows the image."""
    page = open_page(base_url)
    check(page, OFFENSIVE)
    wait_text_result(page, OFFENSIVE)
    page.get_by_test_id("file-input").set_input_files(
        {"name": "after.png", "mimeType": "image/png", "buffer": image_bytes(11)}
    )
    expect(page.get_by_test_id("result-source")).to_have_text("after.png")
    expect(page.get_by_test_id("stage")).to_be_visible()
    expect(page.get_by_test_id("text-view-wrap")).to_be_hidden()

    history = page.get_by_test_id("history-item")
    expect(history).to_have_count(2)
    text_entry = history.nth(1)
    expect(text_entry.get_by_test_id("history-kind")).to_have_text("Text")
    expect(text_entry).to_contain_text(OFFENSIVE)  # short enough to be shown whole
    expect(history.first.get_by_test_id("history-kind")).to_have_count(0)

    page.reload()
    history.nth(1).click()
    wait_text_result(page, OFFENSIVE)
    expect(history.nth(1)).to_have_attribute("aria-current", "true")
    expect(page.get_by_test_id("evidence").first).to_be_visible()
    expect(page.get_by_test_id("stage")).to_be_hidden()
    history.first.click()
    expect(page.get_by_test_id("result-source")).to_have_text("after.png")
    expect(page.get_by_test_id("text-view-wrap")).to_be_hidden()


def test_overlapping_evidence_merges_and_text_is_never_html(open_page, base_url: str) -> None:
    """A result with overlapping spans from two reasons (a stored history entry, so the spans are
    exactly these) shows one merged mark titled with both; markup in the text stays text."""
    text = "👍🏽 <img src=x onerror=alert(1)> badword here"
    start = text.index("badword")
    reason = {"score": 0.9, "threshold": 0.5, "action": "block", "model": "m", "note": None}
    result = {
        "id": "0" * 64,
        "source": "text",
        "kind": "text",
        "media_type": "text/plain",
        "decision": "block",
        "label": "offensive",
        "confidence": 0.9,
        "scores": {"offensive": 0.9},
        "categories": {},
        "policy_version": "t@1",
        "models": [],
        "duration_ms": 1.0,
        "frames": 1,
        "total_frames": 1,
        "reasons": [
            {
                **reason,
                "category": "offensive",
                "evidence": [{"text": "badword", "start": start, "end": start + 7, "weight": 2.0}],
            },
            {
                **reason,
                "category": "hate",
                "evidence": [{"text": "word here", "start": start + 3, "end": len(text), "weight": 1.0}],
            },
        ],
    }
    entry = {"id": "stored", "kind": "text", "name": "stored", "text": text, "at": 0, "result": result}
    page = open_page(base_url)
    page.evaluate("(e) => sessionStorage.setItem('contentguard.history.v1', e)", json.dumps([entry]))
    page.reload()
    page.get_by_test_id("history-item").click()
    wait_text_result(page, text)
    marks = page.get_by_test_id("evidence")
    expect(marks).to_have_count(1)
    expect(marks).to_have_text("badword here")
    assert marks.evaluate(MARK_OFFSET) == utf16(text, start)
    expect(marks).to_have_attribute("title", "offensive · weight 2.00\nhate · weight 1.00")
    expect(marks).to_have_class(re.compile(r"\bevidence-block\b"))
    expect(page.get_by_test_id("text-view").locator("img")).to_have_count(0)


def test_phone_width_long_unbroken_text_and_keyboard(open_page, base_url: str, artifacts: Path) -> None:
    """At 390 px a long text without spaces wraps everywhere (field, result, history); Tab goes from
    the text box to its button, and Enter there checks."""
    text = "sh1t " + "unbroken" * 200
    page = open_page(base_url, width=390, height=844)
    assert page.evaluate(NO_SIDEWAYS_SCROLL)
    box = page.get_by_test_id("text-input")
    box.fill(text)
    box.press("Tab")
    expect(page.get_by_test_id("text-submit")).to_be_focused()
    page.keyboard.press("Enter")
    wait_text_result(page, text)
    expect(page.get_by_test_id("evidence").first).to_have_text("sh1t")
    assert page.evaluate(NO_SIDEWAYS_SCROLL)
    for test_id in ("text-input", "text-view", "history-item"):
        right = page.get_by_test_id(test_id).first.evaluate("n => n.getBoundingClientRect().right")
        assert right <= 390, f"{test_id} ends at {right} px"
    page.screenshot(path=str(artifacts / "text-phone.png"), full_page=True)
