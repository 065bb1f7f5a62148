"""The web UI in a real browser (Debian's chromium) against the real app: every way in (drop,
picker, paste, URL, keyboard), what a result shows, errors, blur, history, phone width. A real
photo is dropped on the real models; the rest is about the page, so it runs on the dummy
detectors (helpers/dummy.py), where a blue square is a region found and a red one a flag."""

from __future__ import annotations

import base64
import re
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from helpers import dummy
from helpers.accounts import api_client
from helpers.samples import Reply, http_server, image_bytes, square_png
from playwright.sync_api import Page, expect

from contentguard.moderation.policy import Policy
from contentguard.settings import Settings

pytestmark = pytest.mark.browser

CLASSES = {"drawing", "hentai", "neutral", "porn", "sexy"}
DECISION = re.compile(r"^(allow|review|block)$")

# A square the dummy region detector finds, scoring 0.71 (FACE_FEMALE): not a classifier score.
FACE = square_png((40, 40, 220))
# Blocks everything through the classifier (a whole-image flag) and still runs the detector.
BLOCK_ALL = """\
version: test-block-all@1
categories:
  anything:
    detector: nsfw-classifier
    sum: [neutral, drawing, porn, hentai, sexy]
    block: 0.0
  faces:
    detector: nudity-detector
    max: [FACE_FEMALE, FACE_MALE]
    review: 0.99
"""
# Flags only what the detector localised: the faces found send the item to review.
FACES_ONLY = """\
version: test-faces@1
categories:
  faces:
    detector: nudity-detector
    max: [FACE_FEMALE, FACE_MALE]
    review: 0.0
"""


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def first_photo(data_dir: Path) -> Path:
    return sorted((data_dir / "images" / "photos").glob("*.jpg"))[0]


def pick(page: Page, name: str, data: bytes, mime: str = "image/png") -> None:
    page.get_by_test_id("file-input").set_input_files({"name": name, "mimeType": mime, "buffer": data})


def wait_result(page: Page, source: str) -> None:
    """The result panel shows `source`'s result (not the placeholder, not an older one)."""
    expect(page.get_by_test_id("result")).to_be_visible()
    expect(page.get_by_test_id("result-source")).to_have_text(source)


def style(page: Page, selector: str, prop: str) -> str:
    return page.eval_on_selector(selector, f"node => getComputedStyle(node)[{prop!r}]")


def test_drop_a_real_photo_shows_the_whole_result(open_page, base_url: str, data_dir: Path) -> None:
    """A real drop event carrying a File: decision, label, five sorted bars, model timing, history;
    and what the page shows is what the API says for the same bytes."""
    photo = first_photo(data_dir)
    data = photo.read_bytes()
    page = open_page(base_url)
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))

    transfer = page.evaluate_handle(
        """([name, b64]) => {
            const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
            const transfer = new DataTransfer();
            transfer.items.add(new File([bytes], name, { type: "image/jpeg" }));
            return transfer;
        }""",
        [photo.name, b64(data)],
    )
    zone = page.get_by_test_id("dropzone")
    for kind in ("dragenter", "dragover", "drop"):
        zone.dispatch_event(kind, {"dataTransfer": transfer})

    wait_result(page, photo.name)
    truth = api_client(base_url).post("/v1/moderate/image", files={"file": (photo.name, data)}).json()
    expect(page.get_by_test_id("decision")).to_have_text(truth["decision"])
    expect(page.get_by_test_id("decision")).to_have_attribute("data-decision", DECISION)
    expect(page.get_by_test_id("label")).to_have_text(re.compile(rf"^{truth['label']} · \d+\.\d%$"))

    rows = page.get_by_test_id("score-row")
    expect(rows).to_have_count(5)
    shown = [(row.get_attribute("data-class"), float(row.get_attribute("data-value") or "nan"))
             for row in rows.all()]
    assert {name for name, _ in shown} == CLASSES
    assert [v for _, v in shown] == sorted((v for _, v in shown), reverse=True)
    assert dict(shown) == pytest.approx(truth["scores"])

    models = page.get_by_test_id("model-row")
    expect(models).to_have_count(len(truth["models"]))
    for row in models.all():
        expect(row.get_by_test_id("model-duration")).to_have_text(re.compile(r"^\d+\.\d ms$"))
        expect(row).to_contain_text("ok")
    expect(page.get_by_test_id("timing")).to_contain_text(truth["id"][:12])

    history = page.get_by_test_id("history-item")
    expect(history).to_have_count(1)
    expect(history.first).to_contain_text(photo.name)
    expect(history.first).to_contain_text(truth["decision"])
    expect(history.first.locator("img.thumb")).to_have_attribute("src", re.compile("^data:image/jpeg"))

    # Everything the page loads is local: no CDN, no third party.
    outside = [u for u in requests if urlsplit(u).scheme in ("http", "https", "ws", "wss")
               and urlsplit(u).hostname != "127.0.0.1"]
    assert not outside, outside


def test_url_flow_and_a_refused_url(open_page, dummy_base_url: str) -> None:
    """A URL is fetched by the server and shown without a referrer; a private address is refused
    with the API's code and message, and the previous result is not left on screen."""
    png = image_bytes(7)
    page = open_page(dummy_base_url)
    with http_server({"/pic.png": Reply(png, content_type="image/png")}) as remote:
        url = f"{remote}/pic.png"
        page.get_by_test_id("url-input").fill(url)
        page.get_by_test_id("url-submit").click()
        wait_result(page, url)
        expect(page.get_by_test_id("decision")).to_have_text(DECISION)
        image = page.get_by_test_id("result-image")
        expect(image).to_have_attribute("src", url)
        expect(image).to_have_attribute("referrerpolicy", "no-referrer")
        page.wait_for_function("() => document.getElementById('result-image').naturalWidth === 160")

    page.get_by_test_id("url-input").fill("http://10.0.0.1/x.png")
    page.get_by_test_id("url-input").press("Enter")
    expect(page.get_by_test_id("error")).to_be_visible()
    expect(page.get_by_test_id("error-code")).to_have_text("blocked_url")
    expect(page.get_by_test_id("error-source")).to_have_text("http://10.0.0.1/x.png")
    expect(page.get_by_test_id("error-message")).to_contain_text("10.0.0.1")
    expect(page.get_by_test_id("result")).to_be_hidden()
    expect(page.get_by_test_id("history-item")).to_have_count(2)
    expect(page.get_by_test_id("history-item").first).to_contain_text("blocked_url")


def test_rejected_files_show_the_code_and_no_stale_result(
    open_page, dummy_base_url: str, dummy_serve
) -> None:
    """A text file and a damaged image get the API's error; a file over `max_bytes` is refused in
    the browser without a request. The earlier good result never stays on screen."""
    page = open_page(dummy_base_url)
    pick(page, "good.png", image_bytes(2))
    wait_result(page, "good.png")

    pick(page, "notes.txt", b"just some words, not an image\n", mime="text/plain")
    expect(page.get_by_test_id("error-code")).to_have_text("unsupported_media")
    expect(page.get_by_test_id("error-source")).to_have_text("notes.txt")
    expect(page.get_by_test_id("error-message")).to_contain_text("not an image")
    expect(page.get_by_test_id("result")).to_be_hidden()
    expect(page.get_by_test_id("result-image")).not_to_have_attribute("src", re.compile("."))
    expect(page.get_by_test_id("status")).to_contain_text("notes.txt")

    damaged = image_bytes(3)
    pick(page, "damaged.png", damaged[: len(damaged) // 2])
    expect(page.get_by_test_id("error-code")).to_have_text("decode_failed")
    expect(page.get_by_test_id("error-source")).to_have_text("damaged.png")
    expect(page.get_by_test_id("result")).to_be_hidden()
    expect(page.get_by_test_id("history-item")).to_have_count(3)

    with dummy_serve(max_bytes=20_000) as small:
        page = open_page(small)
        expect(page.get_by_test_id("max-size")).to_have_text("19.5 KB")
        sent: list[str] = []
        page.on("request", lambda request: sent.append(request.url) if "/v1/" in request.url else None)
        big = image_bytes(3, size=(400, 300))
        assert len(big) > 20_000
        pick(page, "big.png", big)
        expect(page.get_by_test_id("error-code")).to_have_text("too_large")
        expect(page.get_by_test_id("error-message")).to_contain_text("not sent")
        expect(page.get_by_test_id("error-message")).to_contain_text("19.5 KB")
        assert sent == []


def test_picker_paste_and_session_history(open_page, dummy_base_url: str) -> None:
    """The file picker (one file or several) and a pasted image all check; history entries reopen
    their result, stay after a reload (sessionStorage) with a preview, and clear."""
    page = open_page(dummy_base_url)
    pick(page, "picked.png", image_bytes(4))
    wait_result(page, "picked.png")

    page.evaluate(
        """(b64) => {
            const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
            const data = new DataTransfer();
            data.items.add(new File([bytes], "image.png", { type: "image/png" }));
            document.body.dispatchEvent(
                new ClipboardEvent("paste", { clipboardData: data, bubbles: true, cancelable: true }));
        }""",
        b64(image_bytes(5)),
    )
    expect(page.get_by_test_id("result-source")).to_have_text(re.compile(r"^pasted image \d\d:\d\d:\d\d$"))
    history = page.get_by_test_id("history-item")
    expect(history).to_have_count(2)
    expect(history.first).to_have_attribute("aria-current", "true")

    history.nth(1).click()
    wait_result(page, "picked.png")
    expect(history.nth(1)).to_have_attribute("aria-current", "true")
    expect(page.get_by_test_id("image-note")).to_be_hidden()  # the original file, not a preview

    page.reload()
    expect(history).to_have_count(2)
    history.nth(1).click()
    wait_result(page, "picked.png")
    expect(page.get_by_test_id("image-note")).to_contain_text("preview")
    expect(page.get_by_test_id("result-image")).to_have_attribute("src", re.compile("^data:image/jpeg"))

    # Several files at once: each is checked and kept; the status sums them up.
    page.get_by_test_id("file-input").set_input_files([
        {"name": "one.png", "mimeType": "image/png", "buffer": image_bytes(9)},
        {"name": "two.txt", "mimeType": "text/plain", "buffer": b"not an image"},
    ])
    summary = re.compile(r"^Checked 2 images: 1 result, 1 refused\.")
    expect(page.get_by_test_id("status")).to_have_text(summary)
    expect(history).to_have_count(4)
    expect(history.first).to_contain_text("two.txt")

    page.get_by_test_id("history-clear").click()
    expect(history).to_have_count(0)
    expect(page.get_by_test_id("history-clear")).to_be_disabled()
    assert page.evaluate("() => sessionStorage.length") == 0


def test_blur_is_on_for_flagged_results_and_the_toggle_removes_it(
    open_page, dummy_serve, settings: Settings
) -> None:
    """Not `allow`: a whole-image (classifier) flag blurs the whole image even where regions were
    found; the switch, used from the keyboard, takes the blur off."""
    policy = Policy.from_yaml(BLOCK_ALL, origin="test")
    with dummy.moderator(settings, policy) as moderator, dummy_serve(moderator=moderator) as url:
        page = open_page(url)
        toggle = page.get_by_test_id("blur-toggle")

        pick(page, "face.png", FACE)
        wait_result(page, "face.png")
        expect(page.get_by_test_id("decision")).to_have_text("block")
        expect(page.get_by_test_id("reason").first).to_contain_text("anything")
        boxes = page.get_by_test_id("box")
        expect(boxes.first).to_be_visible()
        expect(toggle).to_be_checked()
        assert "blur(" in style(page, "[data-testid=boxes]", "backdropFilter")  # all of it
        toggle.focus()
        page.keyboard.press("Space")
        expect(toggle).not_to_be_checked()
        assert style(page, "[data-testid=boxes]", "backdropFilter") == "none"

        pick(page, "plain.png", image_bytes(6))
        wait_result(page, "plain.png")
        expect(boxes).to_have_count(0)
        expect(toggle).to_be_checked()  # reset for the new result
        assert "blur(" in style(page, "[data-testid=boxes]", "backdropFilter")
        toggle.focus()
        page.keyboard.press("Space")
        assert style(page, "[data-testid=boxes]", "backdropFilter") == "none"
        expect(page.get_by_test_id("history-item").first.locator("img.thumb-blurred")).to_have_count(1)


def test_regions_alone_are_blurred_when_only_they_are_flagged(
    open_page, dummy_serve, settings: Settings
) -> None:
    """A flag that comes from detected regions blurs those regions, not the whole picture."""
    policy = Policy.from_yaml(FACES_ONLY, origin="test")
    with dummy.moderator(settings, policy) as moderator, dummy_serve(moderator=moderator) as url:
        page = open_page(url)
        pick(page, "face.png", FACE)
        wait_result(page, "face.png")
        expect(page.get_by_test_id("decision")).to_have_text("review")
        expect(page.get_by_test_id("box").first).to_be_visible()
        expect(page.get_by_test_id("blur-toggle")).to_be_checked()
        assert "blur(" in style(page, "[data-testid=box]", "backdropFilter")
        assert style(page, "[data-testid=boxes]", "backdropFilter") == "none"  # regions, not all


def test_phone_width_and_keyboard_only_use(open_page, dummy_base_url: str) -> None:
    """At 390 px nothing scrolls sideways, before or after a result with a long name; Tab reaches
    the drop zone (with a visible focus ring), Enter opens the picker, then Tab reaches the URL."""
    page = open_page(dummy_base_url, width=390, height=844)
    # Listening early turns Playwright's file chooser interception on well before Enter is pressed
    # (turned on only inside expect_file_chooser, the first chooser can slip past it).
    page.on("filechooser", lambda _: None)
    no_sideways_scroll = "() => document.documentElement.scrollWidth <= window.innerWidth"
    assert page.evaluate(no_sideways_scroll)
    href = page.get_by_test_id("docs-link").evaluate("a => a.href")
    assert httpx.get(href).status_code == 200

    for _ in range(15):
        page.keyboard.press("Tab")
        if page.evaluate("() => document.activeElement.id") == "dropzone":
            break
    else:
        pytest.fail("Tab never reached the drop zone")
    assert style(page, "#dropzone", "outlineStyle") != "none"
    assert float(style(page, "#dropzone", "outlineWidth").removesuffix("px")) >= 2

    name = "a-rather-long-file-name-without-any-spaces-from-a-phone-camera-20240101-123456.png"
    with page.expect_file_chooser() as chooser:
        page.keyboard.press("Enter")
    chooser.value.set_files({"name": name, "mimeType": "image/png", "buffer": image_bytes(8)})
    wait_result(page, name)
    assert page.evaluate(no_sideways_scroll)

    for _ in range(5):
        page.keyboard.press("Tab")
        if page.evaluate("() => document.activeElement.id") == "url-input":
            break
    else:
        pytest.fail("Tab never reached the URL field after the drop zone")


def test_boxes_follow_the_image_and_a_screenshot_is_kept(
    open_page, dummy_base_url: str, artifacts: Path
) -> None:
    """Detection boxes sit on the right pixels at any displayed size; the screenshot of a result is
    kept as a test artefact (tests/ui/artifacts/result.png)."""
    data = square_png((255, 0, 0), box=(400, 60, 160, 120), size=(640, 480), background=(255, 255, 255))
    result = api_client(dummy_base_url).post("/v1/moderate/image", files={"file": ("red.png", data)}).json()
    assert [d["box"] for d in result["detections"]] == [[400, 60, 160, 120]]  # the red square
    page = open_page(dummy_base_url)
    pick(page, "red.png", data)
    wait_result(page, "red.png")
    box = page.get_by_test_id("box").first
    expect(box).to_be_visible()

    def misplacement() -> float:
        image = page.get_by_test_id("result-image").bounding_box()
        drawn = box.bounding_box()
        assert image and drawn
        scale = image["width"] / result["width"]
        x, y, w, h = result["detections"][0]["box"]
        want = (image["x"] + x * scale, image["y"] + y * scale, w * scale, h * scale)
        got = (drawn["x"], drawn["y"], drawn["width"], drawn["height"])
        return max(abs(a - b) for a, b in zip(want, got, strict=True))

    assert misplacement() <= 2
    shot = artifacts / "result.png"
    shot.unlink(missing_ok=True)
    page.screenshot(path=str(shot), full_page=True)
    assert shot.is_file() and shot.stat().st_size > 10_000

    # Narrower: the image shrinks and the boxes are redrawn to match.
    width_before = box.bounding_box()["width"]  # type: ignore[index]
    page.set_viewport_size({"width": 420, "height": 900})
    page.wait_for_function(
        "(before) => document.querySelector('[data-testid=box]').getBoundingClientRect().width < before - 5",
        arg=width_before,
    )
    assert misplacement() <= 2
