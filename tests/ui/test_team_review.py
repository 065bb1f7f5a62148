"""The review queue and appeals pages in a real browser (Debian's chromium) on the real app over
the dummy detectors (helpers/dummy.py): sign in through the form, claim, blur by default, decide
with the keyboard, skip, escalate, an appeal filed through the API coming back first and being
decided, phone width."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import dummy
from helpers.accounts import PASSWORD, SERVED, api_client, make_user
from helpers.page_errors import watch_errors
from helpers.samples import REVIEW_ALL_POLICY, image_bytes, square_png
from playwright.sync_api import Page, expect

from contentguard.moderation.policy import Policy
from contentguard.settings import Settings

pytestmark = pytest.mark.browser


def no_sideways_scroll(page: Page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")


def image_filter(page: Page) -> str:
    return page.eval_on_selector("#item-image", "node => getComputedStyle(node).filter")


def test_review_and_appeal_in_the_browser(browser, dummy_serve, settings: Settings,  # type: ignore[no-untyped-def]
                                          open_page, artifacts: Path) -> None:
    policy = Policy.from_yaml(REVIEW_ALL_POLICY, origin="test")
    with dummy.moderator(settings, policy) as moderator, dummy_serve(moderator=moderator) as url:
        make_user(SERVED[url], "rita", "moderator")
        client = api_client(url)
        photo = square_png((40, 40, 220), size=(480, 360), box=(180, 60, 120, 150))  # a "face"
        first = client.post("/v1/moderate/image",
                            files={"file": ("face.png", photo, "image/png")}).json()
        assert first["decision"] == "review" and first["detections"]
        text = client.post("/v1/moderate/text", json={"text": "you are a damn idiot"}).json()
        assert text["decision"] == "review"
        third = client.post("/v1/moderate/image",
                            files={"file": ("third.png", image_bytes(5), "image/png")}).json()

        # Sign in through the real form; it brings the moderator back to the queue.
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        errors: list[str] = []
        page = context.new_page()
        watch_errors(page, errors)
        page.goto(f"{url}/review")
        expect(page).to_have_url(f"{url}/login?next=/review")
        page.get_by_test_id("login-username").fill("rita")
        page.get_by_test_id("login-password").fill(PASSWORD)
        page.get_by_test_id("login-submit").click()
        expect(page).to_have_url(f"{url}/review")
        expect(page.get_by_test_id("queue-depth")).to_have_text("3 waiting · 0 claimed")

        # `n` claims the oldest: the photo, blurred until asked, with its scores and boxes.
        page.keyboard.press("n")
        expect(page.get_by_test_id("item-source")).to_have_text("face.png")
        expect(page.get_by_test_id("review-stage")).to_have_class("stage review-stage blurred")
        expect(page.get_by_test_id("item-image")).to_have_js_property("complete", True)
        assert "blur" in image_filter(page)
        expect(page.get_by_test_id("score-row")).to_have_count(5)
        expect(page.get_by_test_id("box").first).to_be_visible()
        expect(page.get_by_test_id("reason").first).to_be_visible()
        expect(page.get_by_test_id("lease")).to_contain_text("Claimed by you")
        page.keyboard.press("b")
        expect(page.get_by_test_id("review-stage")).to_have_attribute("data-blurred", "false")
        # a function, not an expression string: Playwright evals a string, which the CSP refuses
        page.wait_for_function("() => getComputedStyle(document.getElementById('item-image')).filter"
                               " === 'none'")
        page.screenshot(path=str(artifacts / "review-photo.png"), full_page=True)
        page.get_by_test_id("review-stage").click()  # a click blurs it again
        expect(page.get_by_test_id("review-stage")).to_have_attribute("data-blurred", "true")

        # `n` skips it: the text comes next, evidence marked; typing in the note is not a key.
        page.keyboard.press("n")
        expect(page.get_by_test_id("item-source")).to_have_text("text")
        expect(page.get_by_test_id("evidence").first).to_be_visible()
        page.get_by_test_id("note").fill("rude, not abusive")
        page.get_by_test_id("note").press("r")
        expect(page.get_by_test_id("item-source")).to_have_text("text")  # nothing decided
        page.get_by_test_id("note").fill("rude, not abusive")
        page.get_by_role("heading", name="Review queue").click()
        page.keyboard.press("a")
        expect(page.get_by_test_id("review-status")).to_have_text(
            "Approved item 2: the result is now allow.")
        expect(page.get_by_test_id("item-source")).to_have_text("third.png")

        # `e` escalates the third to an admin; the skipped photo stays skipped in this tab.
        page.keyboard.press("e")
        expect(page.get_by_test_id("queue-empty")).to_be_visible()
        expect(page.get_by_test_id("review-status")).to_contain_text("Escalated item 3")

        # A reload forgets the skips: the photo again, rejected with a chosen reason.
        page.reload()
        page.keyboard.press("n")
        expect(page.get_by_test_id("item-source")).to_have_text("face.png")
        expect(page.get_by_test_id("review-stage")).to_have_attribute("data-blurred", "true")
        page.get_by_test_id("reject-reason").select_option("nudity_exposed")
        page.get_by_role("heading", name="Review queue").click()
        page.keyboard.press("r")
        expect(page.get_by_test_id("review-status")).to_contain_text(
            "Rejected item 1: the result is now block")
        served = client.get(f"/v1/results/{first['result_id']}").json()
        assert (served["decision"], served["machine_decision"]) == ("block", "review")
        verdict = served["review"]
        assert (verdict["reason_category"], verdict["reviewer"]) == ("nudity_exposed", "rita")
        assert client.get(f"/v1/results/{text['result_id']}").json()["review"]["note"] == "rude, not abusive"

        # The client appeals the block; the appeal is listed and decided from the queue.
        appeal = client.post("/v1/appeals", json={"result_id": first["result_id"],
                                                  "message": "It is a NASA portrait."}).json()
        page.goto(f"{url}/appeals")
        row = page.get_by_test_id("appeal")
        expect(row).to_have_count(1)
        expect(row.get_by_test_id("appeal-message")).to_have_text("It is a NASA portrait.")
        row.get_by_test_id("appeal-review").click()
        expect(page.get_by_test_id("appeal-message")).to_have_text("It is a NASA portrait.")
        expect(page.get_by_test_id("pill-appeal")).to_be_visible()
        expect(page.get_by_test_id("item-decision")).to_have_text("machine: review")
        page.keyboard.press("a")
        expect(page.get_by_test_id("review-status")).to_contain_text("appeal overturned")
        outcome = client.get(f"/v1/appeals/{appeal['id']}").json()
        assert (outcome["status"], outcome["decision"]) == ("overturned", "allow")
        page.goto(f"{url}/appeals?status=overturned")
        expect(page.get_by_test_id("appeal-status")).to_have_text("overturned")
        assert not errors, errors
        context.close()

        # An admin on a phone gets the escalated item; nothing scrolls sideways.
        phone = open_page(f"{url}/review", width=390, height=844)
        phone.get_by_test_id("claim").click()
        expect(phone.get_by_test_id("item-source")).to_have_text("third.png")
        expect(phone.get_by_test_id("pill-escalated")).to_be_visible()
        expect(phone.get_by_test_id("item-history")).to_contain_text("escalate")
        assert no_sideways_scroll(phone)
        phone.screenshot(path=str(artifacts / "review-phone.png"), full_page=True)
        phone.get_by_test_id("reject").click()
        expect(phone.get_by_test_id("queue-empty")).to_be_visible()
        assert client.get(f"/v1/results/{third['result_id']}").json()["decision"] == "block"
        phone.goto(f"{url}/appeals?status=all")
        assert no_sideways_scroll(phone)
