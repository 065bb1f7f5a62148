// Shared by the team's pages: the CSRF token for fetch calls, and small helpers.
"use strict";
(function () {
  const meta = document.querySelector('meta[name="csrf-token"]');
  const csrf = meta ? meta.content : "";
  // `cg.api(path, {method, json})`: a same-origin call with the session's CSRF token; resolves
  // to {ok, status, data}; never throws on HTTP errors.
  async function api(path, options = {}) {
    const init = { method: options.method || "GET", headers: { "X-CSRF-Token": csrf }, credentials: "same-origin" };
    if (options.json !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(options.json);
    }
    let response;
    try {
      response = await fetch(path, init);
    } catch (err) {
      return { ok: false, status: 0, data: { error: { code: "network_error", message: String(err) } } };
    }
    let data = null;
    try { data = await response.json(); } catch (_) { data = null; }
    return { ok: response.ok, status: response.status, data };
  }
  window.cg = { api, csrf };
  document.documentElement.classList.add("js");
})();
