/* ContentGuard web UI: sends images and texts to the same /v1 API any client uses and shows
 * the result.
 *
 * No build step and no dependencies. Every piece of text that comes from the API, from a file
 * name or from the text being checked is inserted with textContent, never as HTML.
 */
"use strict";

(() => {
  const CSRF = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  const API_IMAGE = "v1/moderate/image"; // relative: works under a path prefix too
  const API_TEXT = "v1/moderate/text";
  const HISTORY_KEY = "contentguard.history.v1";
  const HISTORY_LIMIT = 25;
  const THUMB_SIZE = 320; // px, longest side; also the preview kept after a reload

  const $ = (id) => document.getElementById(id);
  const MAX_BYTES = Number(document.body.dataset.maxBytes) || Infinity;
  const MAX_BATCH = Number(document.body.dataset.maxBatch) || 32;
  const MAX_TEXT_CHARS = Number(document.body.dataset.maxTextChars) || Infinity;

  const el = {
    dropzone: $("dropzone"),
    fileInput: $("file-input"),
    urlForm: $("url-form"),
    urlInput: $("url-input"),
    urlSubmit: $("url-submit"),
    textForm: $("text-form"),
    textInput: $("text-input"),
    textCount: $("text-count"),
    status: $("status"),
    error: $("error"),
    errorCode: $("error-code"),
    errorSource: $("error-source"),
    errorMessage: $("error-message"),
    placeholder: $("placeholder"),
    placeholderTitle: $("placeholder-title"),
    placeholderText: $("placeholder-text"),
    result: $("result"),
    source: $("result-source"),
    meta: $("result-meta"),
    decision: $("decision"),
    label: $("label"),
    textViewWrap: $("text-view-wrap"),
    textView: $("text-view"),
    textViewNote: $("text-view-note"),
    stageWrap: $("stage-wrap"),
    stage: $("stage"),
    image: $("result-image"),
    boxes: $("boxes"),
    imageNote: $("image-note"),
    blurToggle: $("blur-toggle"),
    blurText: $("blur-text"),
    frames: $("frames"),
    reasons: $("reasons"),
    scores: $("scores"),
    detections: $("detections"),
    detectionsSection: $("detections-section"),
    modelsBody: $("models-body"),
    timing: $("timing"),
    historyList: $("history-list"),
    historyEmpty: $("history-empty"),
    historyClear: $("history-clear"),
  };

  /** Object URLs of files checked since this page loaded (history id -> URL). */
  const objectUrls = new Map();
  /** The history entry on display, if any. */
  let shown = null;
  /** Aborts the check in flight when a new one starts, so an old answer never lands late. */
  let running = null;

  // ---- small helpers ------------------------------------------------------------------------

  const { make, humanLabel, pct } = window.cgRender;

  function formatBytes(n) {
    if (n >= 1048576) return `${+(n / 1048576).toFixed(1)} MB`;
    if (n >= 1024) return `${+(n / 1024).toFixed(1)} KB`;
    return `${n} bytes`;
  }

  const num = (x) => Number(x).toFixed(2);
  const ms = (x) => `${Number(x).toFixed(1)} ms`;
  const grouped = (n) => Number(n).toLocaleString("en");
  /** Length in code points, as the server (Python) counts characters; `.length` counts UTF-16 units. */
  const codePoints = (text) => {
    let n = 0;
    for (const _ of text) n++;
    return n;
  };

  function newId() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    return `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
  }

  /** The live region: read out always; `quiet` hides it on screen when the panel already shows it. */
  function setStatus(text, quiet = false) {
    el.status.textContent = text;
    el.status.classList.toggle("visually-hidden", quiet);
  }

  // ---- the checks ---------------------------------------------------------------------------

  function begin(what, busy = el.dropzone) {
    if (running) running.abort();
    running = new AbortController();
    // Nothing stale stays on screen while a new image is checked.
    shown = null;
    el.result.hidden = true;
    el.error.hidden = true;
    el.boxes.replaceChildren();
    el.image.removeAttribute("src");
    el.textView.replaceChildren();
    el.placeholder.hidden = false;
    el.placeholder.classList.add("busy");
    el.placeholderTitle.textContent = "Checking…";
    el.placeholderText.textContent = what;
    el.result.setAttribute("aria-busy", "true");
    busy.classList.add("busy");
    markCurrentInHistory();
    return running;
  }

  function end(run) {
    if (running !== run) return;
    running = null;
    el.placeholder.classList.remove("busy");
    el.result.removeAttribute("aria-busy");
    el.dropzone.classList.remove("busy");
    el.textForm.classList.remove("busy");
  }

  /** The API's answer as {result} or {error, source}; never throws for HTTP errors. */
  async function readOutcome(response) {
    let data = null;
    try {
      data = await response.json();
    } catch (_) {
      data = null;
    }
    if (response.ok && data && typeof data === "object" && typeof data.decision === "string") {
      return { result: data };
    }
    if (data && data.error && typeof data.error.code === "string") {
      return { error: data.error, source: data.source };
    }
    return {
      error: {
        code: `http_${response.status}`,
        message: `The server answered HTTP ${response.status} ${response.statusText || ""} without a result.`.trim(),
      },
    };
  }

  async function post(init, signal, url = API_IMAGE) {
    try {
      const headers = { ...(init.headers || {}), "X-CSRF-Token": CSRF };
      const outcome = await readOutcome(await fetch(url, { method: "POST", signal, credentials: "same-origin", ...init, headers }));
      return signal.aborted ? null : outcome;
    } catch (err) {
      if (signal.aborted || (err && err.name === "AbortError")) return null;
      return { error: { code: "network_error", message: `Could not reach the server: ${err.message || err}` } };
    }
  }

  async function checkFiles(fileList, how) {
    let files = Array.from(fileList || []);
    if (!files.length) return;
    let skipped = 0;
    if (files.length > MAX_BATCH) {
      skipped = files.length - MAX_BATCH;
      files = files.slice(0, MAX_BATCH);
    }
    const run = begin(files.length === 1 ? displayName(files[0], how) : `${files.length} images`);
    const entries = [];
    for (let i = 0; i < files.length; i++) {
      const file = files[i];
      const name = displayName(file, how);
      if (files.length > 1) el.placeholderText.textContent = `${name} (${i + 1} of ${files.length})`;
      setStatus(`Checking ${name}…`, true);
      const entry = await checkFile(file, name, run.signal);
      if (!entry) return; // a newer check took over
      entries.push(entry);
      addToHistory(entry);
      show(entry);
    }
    end(run);
    if (entries.length > 1 || skipped) summarise(entries, skipped);
  }

  function displayName(file, how) {
    if (how === "paste" && (!file.name || /^image\.\w+$/.test(file.name))) {
      const time = new Date().toTimeString().slice(0, 8);
      return `pasted image ${time}`;
    }
    return file.name || "upload";
  }

  async function checkFile(file, name, signal) {
    const entry = { id: newId(), kind: "file", name, at: Date.now() };
    if (file.size > MAX_BYTES) {
      entry.error = {
        code: "too_large",
        message: `${name} is ${formatBytes(file.size)}; this server accepts images up to ${formatBytes(MAX_BYTES)}.`,
        client: true,
      };
      return entry;
    }
    const form = new FormData();
    form.append("file", file, name);
    const outcome = await post({ body: form }, signal);
    if (!outcome) return null;
    if (outcome.error) {
      entry.error = outcome.error;
      return entry;
    }
    entry.result = outcome.result;
    const url = URL.createObjectURL(file);
    objectUrls.set(entry.id, url);
    entry.thumb = await thumbnail(url);
    if (signal.aborted) return null;
    return entry;
  }

  async function checkUrl(raw) {
    const url = raw.trim();
    if (!url) {
      setStatus("Enter the URL of an image first.");
      el.urlInput.focus();
      return;
    }
    const run = begin(url);
    setStatus(`Checking ${url}…`, true);
    const outcome = await post(
      { headers: { "Content-Type": "application/json" }, body: JSON.stringify({ url }) },
      run.signal,
    );
    if (!outcome) return;
    const entry = { id: newId(), kind: "url", name: url, url, at: Date.now() };
    if (outcome.error) entry.error = outcome.error;
    else entry.result = outcome.result;
    end(run);
    addToHistory(entry);
    show(entry);
  }

  /** The first words of a text, for the history and the result's title. */
  function firstWords(text, max = 48) {
    const flat = text.replace(/\s+/g, " ").trim();
    const chars = Array.from(flat);
    return chars.length <= max ? flat : `${chars.slice(0, max).join("").trimEnd()}…`;
  }

  async function checkText(text) {
    if (!text.trim()) {
      setStatus("Type or paste a text first.");
      el.textInput.focus();
      return;
    }
    const name = firstWords(text);
    const run = begin(`“${name}”`, el.textForm);
    setStatus(`Checking the text “${name}”…`, true);
    const outcome = await post(
      { headers: { "Content-Type": "application/json" }, body: JSON.stringify({ text }) },
      run.signal,
      API_TEXT,
    );
    if (!outcome) return;
    const entry = { id: newId(), kind: "text", name, text, at: Date.now() };
    if (outcome.error) entry.error = outcome.error;
    else entry.result = outcome.result;
    end(run);
    addToHistory(entry);
    show(entry);
  }

  function summarise(entries, skipped) {
    const failed = entries.filter((e) => e.error).length;
    const plural = (n, one, many) => `${n} ${n === 1 ? one : many}`;
    const results = plural(entries.length - failed, "result", "results");
    let text = `Checked ${plural(entries.length, "image", "images")}: ${results}, ${failed} refused.`;
    if (skipped) text += ` ${plural(skipped, "more was", "more were")} not sent (at most ${MAX_BATCH} at a time).`;
    setStatus(`${text} Pick one under “This session” to see it.`);
  }

  /** A small JPEG data URL of the image, or null when the browser cannot draw it (e.g. TIFF). */
  function thumbnail(src) {
    return new Promise((resolve) => {
      const img = new Image();
      img.onload = () => {
        try {
          const scale = Math.min(1, THUMB_SIZE / Math.max(img.naturalWidth, img.naturalHeight));
          const canvas = document.createElement("canvas");
          canvas.width = Math.max(1, Math.round(img.naturalWidth * scale));
          canvas.height = Math.max(1, Math.round(img.naturalHeight * scale));
          const ctx = canvas.getContext("2d");
          ctx.fillStyle = "#fff"; // transparent PNGs would turn black in a JPEG
          ctx.fillRect(0, 0, canvas.width, canvas.height);
          ctx.drawImage(img, 0, 0, canvas.width, canvas.height);
          resolve(canvas.toDataURL("image/jpeg", 0.72));
        } catch (_) {
          resolve(null);
        }
      };
      img.onerror = () => resolve(null);
      img.src = src;
    });
  }

  // ---- showing an entry -----------------------------------------------------------------------

  function show(entry) {
    shown = entry;
    el.placeholder.hidden = true;
    if (entry.error) showError(entry);
    else showResult(entry);
    markCurrentInHistory();
  }

  function showError(entry) {
    const err = entry.error;
    el.result.hidden = true;
    el.boxes.replaceChildren();
    el.image.removeAttribute("src");
    el.textView.replaceChildren();
    el.errorCode.textContent = err.code;
    el.errorSource.textContent = entry.name;
    let message = err.message || `The ${entry.kind === "text" ? "text" : "image"} was refused.`;
    if (err.upstream_status) message += ` (the remote server answered HTTP ${err.upstream_status})`;
    if (err.client) message += " It was not sent.";
    el.errorMessage.textContent = message;
    el.error.hidden = false;
    setStatus(`Refused: ${entry.name} (${err.code}): ${message}`, true);
  }

  function showResult(entry) {
    const r = entry.result;
    el.error.hidden = true;
    const isText = entry.kind === "text";
    el.result.dataset.kind = isText ? "text" : "image";
    el.textViewWrap.hidden = !isText;
    el.stageWrap.hidden = isText;
    el.detectionsSection.hidden = isText;
    if (isText) {
      showTextResult(entry);
      return;
    }
    el.textView.replaceChildren();

    el.source.textContent = r.source || entry.name;
    el.source.title = r.source || entry.name;
    const meta = [r.media_type, `${r.width} × ${r.height} px`, `policy ${r.policy_version}`];
    el.meta.textContent = meta.join(" · ");

    el.decision.textContent = r.decision;
    el.decision.dataset.decision = r.decision;
    el.label.textContent = `${r.label} · ${pct(r.confidence)}`;
    el.label.dataset.label = r.label;

    renderReasons(r);
    window.cgRender.renderScores(el.scores, r.scores || {});
    window.cgRender.renderDetections(el.detections, r.detections || [], (r.total_frames || 1) > 1);
    renderModels(r);
    renderFrames(r);
    setImage(entry);

    const flagged = r.decision !== "allow";
    // Blur only the regions when every flag comes from them: a detector's category score is the
    // score of one of its detections. A flag from the classifier judges the whole image.
    const dets = r.detections || [];
    const fromRegions = (reason) => dets.some((d) => Math.abs(d.score - reason.score) < 1e-4);
    const wholeFlag = (r.reasons || []).some((x) => x.action !== "allow" && !fromRegions(x));
    const regions = dets.length > 0 && !(flagged && wholeFlag);
    el.stage.classList.toggle("regions", regions);
    el.stage.classList.toggle("whole", !regions);
    el.blurText.textContent = regions ? "Blur the regions found" : "Blur the image";
    el.blurToggle.checked = flagged;
    applyBlur();

    el.result.hidden = false;
    setStatus(`${r.source || entry.name}: ${r.decision}, ${r.label} (${pct(r.confidence)}).`, true);
  }

  function showTextResult(entry) {
    const r = entry.result;
    const text = typeof entry.text === "string" ? entry.text : "";
    el.source.textContent = `“${entry.name}”`;
    el.source.title = entry.name;
    const chunks = r.total_frames || 1;
    const meta = [`text · ${grouped(codePoints(text))} characters`];
    if (chunks > 1) {
      let scored = `${chunks} chunks`;
      const decisive = r.decisive_frame;
      if (decisive !== null && decisive !== undefined) scored += `, chunk ${decisive + 1} decided`;
      meta.push(scored);
    }
    meta.push(`policy ${r.policy_version}`);
    el.meta.textContent = meta.join(" · ");

    el.decision.textContent = r.decision;
    el.decision.dataset.decision = r.decision;
    el.label.textContent = `${r.label} · ${pct(r.confidence)}`;
    el.label.dataset.label = r.label;

    renderReasons(r);
    window.cgRender.renderScores(el.scores, r.scores || {});
    renderModels(r);
    const marks = renderText(text, r.reasons || []);
    el.textViewNote.textContent = marks
      ? "Highlighted: the words that drove a flag. Hover or long-press one for its category and weight."
      : "Nothing highlighted: no words drove a flag.";

    el.result.hidden = false;
    setStatus(`Text “${entry.name}”: ${r.decision}, ${r.label} (${pct(r.confidence)}).`, true);
  }

  /** Python's code-point offsets (the API's) to JavaScript's UTF-16 indices into `text`. */
  function utf16Offsets(text) {
    const at = [0];
    let i = 0;
    for (const ch of text) {
      i += ch.length; // 2 for an astral character (emoji…), else 1
      at.push(i);
    }
    return at;
  }

  const STRENGTH = { allow: 0, review: 1, block: 2 };

  /** The reasons' evidence as sorted, non-overlapping UTF-16 spans; overlapping ones are merged. */
  function evidenceSpans(text, reasons) {
    const at = utf16Offsets(text);
    const spans = [];
    for (const reason of reasons) {
      for (const ev of reason.evidence || []) {
        const start = at[ev.start];
        const end = at[ev.end];
        if (!Number.isInteger(ev.start) || start === undefined || end === undefined || end <= start) continue;
        const note = `${humanLabel(reason.category)} · weight ${num(ev.weight)}`;
        spans.push({ start, end, notes: [note], action: reason.action });
      }
    }
    spans.sort((a, b) => a.start - b.start || b.end - a.end);
    const merged = [];
    for (const span of spans) {
      const last = merged[merged.length - 1];
      if (last && span.start < last.end) {
        last.end = Math.max(last.end, span.end);
        for (const note of span.notes) if (!last.notes.includes(note)) last.notes.push(note);
        if ((STRENGTH[span.action] || 0) > (STRENGTH[last.action] || 0)) last.action = span.action;
      } else {
        merged.push(span);
      }
    }
    return merged;
  }

  /** The text as sent, with <mark>s over the evidence (DOM nodes only); returns how many. */
  function renderText(text, reasons) {
    const spans = evidenceSpans(text, reasons);
    const parts = [];
    let pos = 0;
    for (const span of spans) {
      if (span.start > pos) parts.push(document.createTextNode(text.slice(pos, span.start)));
      const mark = make("mark", "evidence", text.slice(span.start, span.end));
      mark.classList.add(`evidence-${span.action}`);
      mark.dataset.testid = "evidence";
      mark.title = span.notes.join("\n");
      parts.push(mark);
      pos = span.end;
    }
    if (pos < text.length) parts.push(document.createTextNode(text.slice(pos)));
    el.textView.replaceChildren(...parts);
    return spans.length;
  }

  function renderReasons(r) {
    el.reasons.replaceChildren();
    const reasons = r.reasons || [];
    if (!reasons.length) {
      el.reasons.append(make("li", "reason reason-none", "No policy category reached a review or block threshold."));
    }
    for (const reason of reasons) {
      const li = make("li", "reason");
      li.dataset.testid = "reason";
      const head = make("div", "reason-head");
      head.append(make("strong", "reason-category", humanLabel(reason.category)));
      const action = make("span", "pill", reason.action);
      action.classList.add(`pill-${reason.action}`);
      head.append(action);
      li.append(head);
      const score = `score ${num(reason.score)} ≥ threshold ${num(reason.threshold)} · ${reason.model}`;
      li.append(make("div", "reason-score", score));
      if (reason.note) li.append(make("div", "reason-note", reason.note));
      if (reason.evidence && reason.evidence.length) {
        const words = make("div", "reason-evidence");
        words.append(make("span", "muted", "Evidence: "));
        for (const ev of reason.evidence) {
          const chip = make("span", "evidence-chip", ev.text);
          chip.title = `weight ${num(ev.weight)}`;
          words.append(chip, " ");
        }
        li.append(words);
      }
      el.reasons.append(li);
    }
    const categories = Object.entries(r.categories || {});
    if (categories.length) {
      const li = make("li", "categories muted");
      li.textContent = `Policy categories: ${categories.map(([k, v]) => `${humanLabel(k)} ${num(v)}`).join(" · ")}`;
      el.reasons.append(li);
    }
  }

  function renderModels(r) {
    el.modelsBody.replaceChildren();
    for (const m of r.models || []) {
      const tr = make("tr");
      tr.dataset.testid = "model-row";
      const name = make("td");
      name.append(make("span", "model-name", m.name), make("span", "model-version muted", ` ${m.version}`));
      if (m.error) name.append(make("div", "model-error", m.error));
      const status = make("td");
      const pill = make("span", "pill", m.status);
      pill.classList.add(`pill-status-${m.status}`);
      status.append(pill);
      const time = make("td", "num", ms(m.duration_ms));
      time.dataset.testid = "model-duration";
      tr.append(name, status, time);
      el.modelsBody.append(tr);
    }
    el.timing.textContent = `Total ${ms(r.duration_ms)} on the server · id ${String(r.id).slice(0, 12)}…`;
    el.timing.title = `Result id ${r.id}`;
  }

  function renderFrames(r) {
    const total = r.total_frames || 1;
    if (total <= 1) {
      el.frames.hidden = true;
      el.frames.textContent = "";
      return;
    }
    let text = `Animation: ${r.frames} of ${total} frames checked`;
    if (r.decisive_frame !== null && r.decisive_frame !== undefined) text += `; frame ${r.decisive_frame} decided`;
    el.frames.textContent = `${text}.`;
    el.frames.hidden = false;
  }

  function setImage(entry) {
    const r = entry.result;
    el.boxes.replaceChildren();
    el.imageNote.hidden = true;
    el.stage.hidden = false;
    let src = null;
    if (entry.kind === "url") {
      src = entry.url;
    } else {
      src = objectUrls.get(entry.id) || null;
      if (!src && entry.thumb) {
        src = entry.thumb;
        note("The original file is not kept after a reload; this is a small preview.");
      }
    }
    el.image.alt = `The checked image, ${r.source || entry.name}`;
    el.image.dataset.entry = entry.id;
    if (!src) {
      el.image.removeAttribute("src");
      el.stage.hidden = true;
      note("No preview of this image is kept.");
      return;
    }
    el.image.referrerPolicy = "no-referrer";
    el.image.src = src;
    if (el.image.complete && el.image.naturalWidth) drawBoxes();
  }

  function note(text) {
    el.imageNote.textContent = text;
    el.imageNote.hidden = false;
  }

  el.image.addEventListener("load", () => {
    if (shown && el.image.dataset.entry === shown.id) drawBoxes();
  });
  el.image.addEventListener("error", () => {
    if (!shown || !shown.result || el.image.dataset.entry !== shown.id || !el.image.getAttribute("src")) return;
    el.stage.hidden = true;
    note("This browser cannot display the image (or it could not be loaded here); the result still applies.");
  });

  /** Detection boxes over the image, scaled from the result's pixels to the displayed size. */
  function drawBoxes() {
    const visible = shown && shown.result && !el.stage.hidden;
    window.cgRender.drawBoxes(el.boxes, el.image, visible ? shown.result : null);
  }

  if (window.ResizeObserver) new ResizeObserver(() => drawBoxes()).observe(el.image);
  else window.addEventListener("resize", drawBoxes);

  function applyBlur() {
    el.stage.classList.toggle("blurred", el.blurToggle.checked);
  }

  el.blurToggle.addEventListener("change", applyBlur);

  // ---- history (this tab only: sessionStorage) ------------------------------------------------

  function loadHistory() {
    try {
      const list = JSON.parse(sessionStorage.getItem(HISTORY_KEY) || "[]");
      return Array.isArray(list) ? list.filter((e) => e && typeof e.id === "string") : [];
    } catch (_) {
      return [];
    }
  }

  function saveHistory(list) {
    let items = list.slice(0, HISTORY_LIMIT);
    for (;;) {
      try {
        if (items.length) sessionStorage.setItem(HISTORY_KEY, JSON.stringify(items));
        else sessionStorage.removeItem(HISTORY_KEY);
        return;
      } catch (_) {
        // Over the storage quota: drop the oldest previews first, then the oldest entries.
        let i = items.length - 1;
        while (i >= 0 && !items[i].thumb) i--;
        if (i >= 0) items[i] = { ...items[i], thumb: null };
        else if (items.length > 1) items = items.slice(0, -1);
        else return;
      }
    }
  }

  function addToHistory(entry) {
    const list = loadHistory();
    list.unshift(entry);
    saveHistory(list);
    renderHistory();
  }

  function renderHistory() {
    const list = loadHistory();
    el.historyList.replaceChildren();
    el.historyEmpty.hidden = list.length > 0;
    el.historyClear.disabled = list.length === 0;
    for (const entry of list) {
      const li = make("li");
      const button = make("button", "history-item");
      button.type = "button";
      button.dataset.testid = "history-item";
      button.dataset.id = entry.id;
      const flagged = entry.result && entry.result.decision !== "allow";
      if (entry.thumb) {
        const img = make("img", flagged ? "thumb thumb-blurred" : "thumb");
        img.alt = "";
        img.src = entry.thumb;
        button.append(img);
      } else {
        const mark = { url: "URL", text: "Text" }[entry.kind] || (entry.error ? "!" : "—");
        const thumb = make("span", "thumb thumb-none", mark);
        if (entry.kind === "text") {
          thumb.classList.add("thumb-text");
          thumb.dataset.testid = "history-kind";
        }
        button.append(thumb);
      }
      const text = make("span", "history-text");
      const name = make("span", "history-name", entry.name);
      name.title = entry.name;
      const line = make("span", "history-line");
      if (entry.result) {
        const pill = make("span", "pill", entry.result.decision);
        pill.classList.add(`pill-${entry.result.decision}`);
        line.append(pill, make("span", "history-label", `${entry.result.label} ${pct(entry.result.confidence)}`));
      } else {
        line.append(make("span", "pill pill-error", "error"), make("span", "history-label", entry.error.code));
      }
      text.append(name, line);
      button.append(text);
      button.addEventListener("click", () => {
        if (running) {
          running.abort();
          end(running);
        }
        show(entry);
        const panel = entry.error ? el.error : el.result;
        if (panel.getBoundingClientRect().top < 0 || panel.getBoundingClientRect().top > window.innerHeight) {
          panel.scrollIntoView({ block: "start" });
        }
      });
      li.append(button);
      el.historyList.append(li);
    }
    markCurrentInHistory();
  }

  function markCurrentInHistory() {
    for (const button of el.historyList.querySelectorAll(".history-item")) {
      if (shown && button.dataset.id === shown.id) button.setAttribute("aria-current", "true");
      else button.removeAttribute("aria-current");
    }
  }

  el.historyClear.addEventListener("click", () => {
    saveHistory([]);
    for (const [id, url] of objectUrls) {
      if (!shown || shown.id !== id) URL.revokeObjectURL(url);
    }
    objectUrls.clear();
    renderHistory();
    setStatus("History cleared.");
  });

  // ---- input: picker, keyboard, drag and drop, paste, URL ------------------------------------

  el.fileInput.addEventListener("change", () => {
    const files = Array.from(el.fileInput.files || []);
    el.fileInput.value = ""; // choosing the same file again still fires "change"
    checkFiles(files, "picker");
  });

  el.dropzone.addEventListener("click", () => el.fileInput.click());
  el.dropzone.addEventListener("keydown", (event) => {
    if (event.key === "Enter" || event.key === " ") {
      event.preventDefault();
      el.fileInput.click();
    }
  });

  const hasFiles = (event) => event.dataTransfer && Array.from(event.dataTransfer.types || []).includes("Files");
  let dragDepth = 0;

  // The whole page accepts a drop (a near miss must not navigate away to the file); the drop
  // zone lights up while something is dragged over the page.
  document.addEventListener("dragenter", (event) => {
    if (!hasFiles(event) && !event.dataTransfer?.types?.includes("text/uri-list")) return;
    dragDepth += 1;
    el.dropzone.classList.add("dragging");
  });
  document.addEventListener("dragleave", () => {
    dragDepth = Math.max(0, dragDepth - 1);
    if (!dragDepth) el.dropzone.classList.remove("dragging");
  });
  document.addEventListener("dragover", (event) => {
    event.preventDefault();
    if (event.dataTransfer) event.dataTransfer.dropEffect = "copy";
  });
  document.addEventListener("drop", (event) => {
    dragDepth = 0;
    el.dropzone.classList.remove("dragging");
    const data = event.dataTransfer;
    if (!data) return;
    if (data.files && data.files.length) {
      event.preventDefault();
      checkFiles(data.files, "drop");
      return;
    }
    // An image dragged from another tab arrives as its address. Other drops (text into the URL
    // field) keep the browser's default.
    if (event.target === el.textInput) return; // a link dropped into the text box is text
    const uris = (data.getData("text/uri-list") || "").split(/\r?\n/);
    const uri = uris.map((line) => line.trim()).find((line) => line && !line.startsWith("#"));
    if (uri) {
      event.preventDefault();
      el.urlInput.value = uri;
      checkUrl(uri);
    }
  });

  document.addEventListener("paste", (event) => {
    const data = event.clipboardData;
    if (!data) return;
    const target = event.target;
    const editing = target instanceof HTMLInputElement || target instanceof HTMLTextAreaElement;
    if (editing && data.getData("text/plain")) return; // pasting text into a field
    let files = Array.from(data.files || []);
    if (!files.length && data.items) {
      files = Array.from(data.items)
        .filter((item) => item.kind === "file")
        .map((item) => item.getAsFile())
        .filter(Boolean);
    }
    files = files.filter((f) => !f.type || f.type.startsWith("image/"));
    if (!files.length) return;
    event.preventDefault();
    checkFiles(files, "paste");
  });

  el.urlForm.addEventListener("submit", (event) => {
    event.preventDefault();
    checkUrl(el.urlInput.value);
  });

  el.textForm.addEventListener("submit", (event) => {
    event.preventDefault();
    checkText(el.textInput.value);
  });
  el.textInput.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      el.textForm.requestSubmit();
    }
  });

  function countText() {
    const n = codePoints(el.textInput.value);
    const over = n > MAX_TEXT_CHARS;
    el.textCount.textContent = `${grouped(n)} / ${grouped(MAX_TEXT_CHARS)}${over ? " — too long" : ""}`;
    el.textCount.classList.toggle("over", over);
    if (over) el.textInput.setAttribute("aria-invalid", "true");
    else el.textInput.removeAttribute("aria-invalid");
  }
  el.textInput.addEventListener("input", countText);

  // ---- start ------------------------------------------------------------------------------------

  renderHistory();
  countText(); // a text the browser restored (back, reload) is counted too
  document.documentElement.classList.add("js");
})();
