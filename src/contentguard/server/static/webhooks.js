// The webhook delivery log: "Retry" asks the API to send a delivery again and shows the
// outcome in its row (the rest of the page is rendered by the server).
"use strict";
(function () {
  const root = document.querySelector('a.brand').getAttribute("href");
  const flash = document.querySelector('[data-testid="webhook-flash"]');

  function say(text, kind) {
    flash.textContent = text;
    flash.className = "flash flash-" + kind;
    flash.hidden = false;
  }

  async function retry(button) {
    const id = button.dataset.id;
    button.disabled = true;
    const answer = await cg.api(root + "v1/admin/webhooks/" + id + "/retry", { method: "POST" });
    if (!answer.ok) {
      button.disabled = false;
      const message = answer.data && answer.data.error ? answer.data.error.message : "HTTP " + answer.status;
      say("Delivery " + id + " was not retried: " + message, "error");
      return;
    }
    const row = button.closest("tr");
    const status = row.querySelector('[data-testid="webhook-status"]');
    status.textContent = answer.data.status;
    status.className = "wh-status wh-" + answer.data.status;
    row.querySelector('[data-testid="webhook-attempts"]').textContent = answer.data.attempts;
    button.remove();
    say("Delivery " + id + " is queued again; reload to see how it went.", "ok");
  }

  document.addEventListener("click", (event) => {
    const button = event.target.closest(".wh-retry");
    if (button) retry(button);
  });
})();
