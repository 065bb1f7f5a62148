// The review queue page: claim, look (blurred by default), decide; keyboard first.
// Calls /v1/review/… through cg.api (session cookie + CSRF header). Everything from the API is
// inserted with textContent, never as HTML.
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  const page = $("review");
  if (!page) return;
  const ROOT = page.dataset.root || "/";
  const API = `${ROOT}v1/review`;
  const el = {
    depth: $("depth"), claim: $("claim"), status: $("review-status"), empty: $("empty"),
    item: $("item"), id: $("item-id"), source: $("item-source"), meta: $("item-meta"),
    pills: $("item-pills"), decision: $("item-decision"), label: $("item-label"),
    appealBox: $("appeal-box"), appealId: $("appeal-id"), appealMessage: $("appeal-message"),
    textWrap: $("text-wrap"), text: $("item-text"), stageWrap: $("stage-wrap"), stage: $("stage"),
    image: $("item-image"), boxes: $("boxes"), imageNote: $("image-note"), blur: $("blur-toggle"),
    approveReason: $("approve-reason"), rejectReason: $("reject-reason"), note: $("note"),
    lease: $("lease"), reasons: $("reasons"), scores: $("scores"), detections: $("detections"),
    detectionsSection: $("detections-section"), history: $("history"), skip: $("skip"),
  };
  /** The item on screen (the API's ReviewItemView), ids skipped in this tab, a request in flight. */
  let current = null;
  const skipped = new Set();
  let busy = false;

  const { make, humanLabel: human, pct } = window.cgRender;
  const num = (x) => Number(x).toFixed(2);
  const time = (iso) => (iso ? new Date(iso).toLocaleTimeString() : "");

  function say(text, isError = false) {
    el.status.textContent = text;
    el.status.classList.toggle("flash-error", isError);
    el.status.setAttribute("role", isError ? "alert" : "status");
  }

  function errorText(answer) {
    const err = answer.data && answer.data.error;
    return err ? `${err.message} (${err.code})` : `The server answered HTTP ${answer.status}.`;
  }

  function showDepth(depth) {
    if (!depth) return;
    let text = `${depth.open} waiting`;
    if (depth.escalated) text += ` (${depth.escalated} escalated)`;
    text += ` · ${depth.claimed} claimed`;
    el.depth.textContent = text;
    el.depth.dataset.open = String(depth.open);
  }

  async function refreshDepth() {
    const answer = await cg.api(`${API}/queue?limit=1`);
    if (answer.ok) showDepth(answer.data.depth);
  }

  // ---- claiming -----------------------------------------------------------------------------
  async function run(work) {
    if (busy) return;
    busy = true;
    document.body.classList.add("busy");
    try {
      await work();
    } finally {
      busy = false;
      document.body.classList.remove("busy");
    }
  }

  async function claimNext() {
    const answer = await cg.api(`${API}/claim`, { method: "POST", json: { exclude: [...skipped] } });
    if (!answer.ok) {
      say(`Could not claim: ${errorText(answer)}`, true);
      return false;
    }
    showDepth(answer.data.depth);
    if (answer.data.item) {
      show(answer.data.item);
      return true;
    }
    clear();
    el.empty.hidden = false;
    say(skipped.size ? `Nothing else waiting (${skipped.size} skipped in this tab).` : "Nothing waiting.");
    return false;
  }

  async function claimItem(id) {
    const answer = await cg.api(`${API}/items/${encodeURIComponent(id)}/claim`, { method: "POST" });
    if (!answer.ok) {
      say(`Could not claim item ${id}: ${errorText(answer)}`, true);
      return;
    }
    show(answer.data);
    refreshDepth();
  }

  async function skip() {
    if (!current) return claimNext();
    const id = current.id;
    skipped.add(id);
    const answer = await cg.api(`${API}/items/${id}/release`, { method: "POST" });
    if (!answer.ok) say(`Item ${id} was not released: ${errorText(answer)}`, true);
    else say(`Skipped item ${id}.`);
    await claimNext();
  }

  const DONE = { approve: "Approved", reject: "Rejected", escalate: "Escalated" };

  async function decide(verdict) {
    if (!current) return;
    const body = { verdict, note: el.note.value.trim() || null };
    if (verdict === "approve") body.reason_category = el.approveReason.value;
    if (verdict === "reject") body.reason_category = el.rejectReason.value;
    const id = current.id;
    const answer = await cg.api(`${API}/items/${id}/decision`, { method: "POST", json: body });
    if (!answer.ok) {
      say(`Item ${id} was not decided: ${errorText(answer)}`, true);
      return;
    }
    const data = answer.data;
    let text = `${DONE[verdict]} item ${id}`;
    if (verdict !== "escalate") text += `: the result is now ${data.decision}`;
    if (data.appeal && data.appeal.status !== "open") text += `; appeal ${data.appeal.status}`;
    if (verdict === "escalate") skipped.add(id); // an admin may get it straight back otherwise
    const more = await claimNext();
    say(more ? `${text}.` : `${text}. Nothing else waiting.`);
  }

  // ---- showing an item ------------------------------------------------------------------------
  function clear() {
    current = null;
    el.item.hidden = true;
    el.image.removeAttribute("src");
    el.boxes.replaceChildren();
  }

  function pill(text, kind) {
    const node = make("span", `pill pill-${kind}`, text);
    node.dataset.testid = `pill-${kind}`;
    return node;
  }

  function show(item) {
    current = item;
    const r = item.result;
    el.empty.hidden = true;
    el.item.hidden = false;
    el.item.dataset.itemId = String(item.id);
    el.item.dataset.kind = item.kind;
    el.id.textContent = String(item.id);
    el.source.textContent = r.source || item.source || "";
    const meta = [item.kind === "text" ? "text" : r.media_type];
    if (r.width && r.height) meta.push(`${r.width} × ${r.height} px`);
    meta.push(`policy ${r.policy_version}`, `queued ${new Date(item.created_at).toLocaleString()}`);
    el.meta.textContent = meta.join(" · ");
    el.pills.replaceChildren(pill(item.origin, item.origin));
    if (item.escalated) el.pills.append(" ", pill("escalated", "escalated"));
    if (r.review) el.pills.append(" ", pill(`verdict: ${r.decision} by ${r.review.reviewer || "?"}`, r.decision));
    el.pills.append(" ", make("span", "muted small", `priority ${item.priority}`));
    const machine = r.machine_decision || r.decision;
    el.decision.textContent = `machine: ${machine}`;
    el.decision.dataset.decision = machine;
    el.label.textContent = `${r.label} · ${pct(r.confidence)}`;
    el.appealBox.hidden = !item.appeal;
    if (item.appeal) {
      el.appealId.textContent = String(item.appeal.id);
      el.appealMessage.textContent = item.appeal.message;
    }
    el.note.value = "";
    el.rejectReason.value = suggestedReason(r);
    el.lease.textContent = item.lease_expires_at
      ? `Claimed by you until ${time(item.lease_expires_at)}; after that anyone may claim it.` : "";
    const isText = item.kind === "text";
    el.textWrap.hidden = !isText;
    el.stageWrap.hidden = isText;
    el.detectionsSection.hidden = isText;
    if (isText) showText(item.text, r.reasons || []);
    else showImage(item);
    renderReasons(r);
    window.cgRender.renderScores(el.scores, r.scores || {});
    window.cgRender.renderDetections(el.detections, r.detections || [], false);
    renderHistory(item.actions || []);
  }

  /** The reject reason to preselect: the machine's strongest flagged category, if it is one. */
  function suggestedReason(r) {
    const options = [...el.rejectReason.options].map((o) => o.value);
    const flagged = (r.reasons || []).filter((x) => x.action !== "allow").sort((a, b) => b.score - a.score);
    for (const reason of flagged) if (options.includes(reason.category)) return reason.category;
    return options.includes("other") ? "other" : options[0];
  }

  function showImage(item) {
    el.boxes.replaceChildren();
    setBlur(true);
    const src = displayable(item) ? item.media_url : item.thumbnail_url;
    el.image.alt = `The item's image, ${item.source || ""}`;
    el.imageNote.hidden = true;
    if (!src) {
      el.image.removeAttribute("src");
      el.stage.hidden = true;
      el.imageNote.textContent = "The media is no longer kept (retention); decide from the scores.";
      el.imageNote.hidden = false;
      return;
    }
    el.stage.hidden = false;
    el.image.src = src;
  }

  const SHOWN_TYPES = ["image/jpeg", "image/png", "image/gif", "image/webp", "image/bmp", "image/apng", "image/mpo"];
  const displayable = (item) => item.media_url && SHOWN_TYPES.includes(String(item.media_type).split(";")[0]);

  el.image.addEventListener("load", drawBoxes);
  el.image.addEventListener("error", () => {
    if (!el.image.getAttribute("src")) return;
    el.stage.hidden = true;
    el.imageNote.textContent = "This browser cannot display the image; decide from the scores.";
    el.imageNote.hidden = false;
  });
  if (window.ResizeObserver) new ResizeObserver(drawBoxes).observe(el.image);

  /** Detection boxes, scaled from the result's pixels to the displayed size. */
  function drawBoxes() {
    const image = current && current.kind !== "text" ? current.result : null;
    window.cgRender.drawBoxes(el.boxes, el.image, image);
  }

  function setBlur(on) {
    el.blur.checked = on;
    el.stage.classList.toggle("blurred", on);
    el.stage.dataset.blurred = String(on);
  }

  el.blur.addEventListener("change", () => setBlur(el.blur.checked));
  el.stage.addEventListener("click", () => setBlur(!el.blur.checked));

  /** The text with <mark>s over the reasons' evidence (API offsets are code points). */
  function showText(text, reasons) {
    text = typeof text === "string" ? text : "";
    const at = [0];
    let i = 0;
    for (const ch of text) at.push((i += ch.length));
    const spans = [];
    for (const reason of reasons) {
      for (const ev of reason.evidence || []) {
        const start = at[ev.start];
        const end = at[ev.end];
        if (start === undefined || end === undefined || end <= start) continue;
        spans.push({ start, end, action: reason.action, note: `${human(reason.category)} · weight ${num(ev.weight)}` });
      }
    }
    spans.sort((a, b) => a.start - b.start || b.end - a.end);
    const parts = [];
    let pos = 0;
    for (const span of spans) {
      if (span.end <= pos) continue; // inside one already marked
      const start = Math.max(span.start, pos);
      if (start > pos) parts.push(document.createTextNode(text.slice(pos, start)));
      const mark = make("mark", `evidence evidence-${span.action}`, text.slice(start, span.end));
      mark.dataset.testid = "evidence";
      mark.title = span.note;
      parts.push(mark);
      pos = span.end;
    }
    if (pos < text.length) parts.push(document.createTextNode(text.slice(pos)));
    if (!text) parts.push(make("span", "muted", "The text is no longer kept (retention)."));
    el.text.replaceChildren(...parts);
  }

  function renderReasons(r) {
    el.reasons.replaceChildren();
    const reasons = r.reasons || [];
    if (!reasons.length) el.reasons.append(make("li", "reason reason-none", "No category reached a threshold (a quality-check sample or an appeal)."));
    for (const reason of reasons) {
      const li = make("li", "reason");
      li.dataset.testid = "reason";
      const head = make("div", "reason-head");
      head.append(make("strong", "reason-category", human(reason.category)), " ", pill(reason.action, reason.action));
      li.append(head, make("div", "reason-score", `score ${num(reason.score)} ≥ threshold ${num(reason.threshold)} · ${reason.model}`));
      if (reason.note) li.append(make("div", "reason-note", reason.note));
      el.reasons.append(li);
    }
  }

  function renderHistory(actions) {
    el.history.replaceChildren();
    for (const a of actions) {
      let text = `${new Date(a.at).toLocaleString()} · ${a.user || "?"} · ${a.action}`;
      if (a.reason_category) text += ` (${human(a.reason_category)})`;
      if (a.note) text += `: ${a.note}`;
      el.history.append(make("li", "", text));
    }
  }

  // ---- wiring -----------------------------------------------------------------------------------
  el.claim.addEventListener("click", () => run(claimNext));
  el.skip.addEventListener("click", () => run(skip));
  for (const button of document.querySelectorAll("[data-verdict]")) {
    button.addEventListener("click", () => run(() => decide(button.dataset.verdict)));
  }
  el.stage.addEventListener("keydown", (event) => {
    if (event.key === "Enter" || event.key === " ") {
      event.preventDefault();
      setBlur(!el.blur.checked);
    }
  });

  const KEYS = { a: "approve", r: "reject", e: "escalate" };
  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey || event.repeat) return;
    const target = event.target;
    if (target && typeof target.closest === "function" && (target.closest("textarea, select, [contenteditable]")
      || (target.tagName === "INPUT" && !["checkbox", "radio", "button"].includes(target.type)))) return;
    const key = event.key.toLowerCase();
    if (key === "b" && current) {
      setBlur(!el.blur.checked);
    } else if (key === "n") {
      run(skip);
    } else if (KEYS[key] && current) {
      run(() => decide(KEYS[key]));
    } else {
      return;
    }
    event.preventDefault();
  });

  const wanted = new URLSearchParams(location.search).get("item");
  if (wanted && /^\d+$/.test(wanted)) {
    history.replaceState(null, "", `${ROOT}review`); // a reload resumes through the held claim
    run(() => claimItem(wanted));
  }
  else refreshDepth();
})();
