// The admin's pages work without this; it adds confirmations before destructive forms and
// copy buttons for a new key (shown once).
"use strict";
(function () {
  document.addEventListener("submit", (event) => {
    const form = event.target;
    const question = form instanceof HTMLFormElement ? form.dataset.confirm : undefined;
    if (question && !window.confirm(question)) event.preventDefault();
  });
  for (const button of document.querySelectorAll("button.copy[data-copy]")) {
    button.addEventListener("click", async () => {
      try {
        await navigator.clipboard.writeText(button.dataset.copy);
        button.textContent = "Copied";
      } catch (_) {
        const code = button.previousElementSibling;
        if (code) window.getSelection().selectAllChildren(code);
        button.textContent = "Select and copy";
      }
    });
  }
})();
