// The classroom screen: poll the state with an ETag (about 1/s while visible, rarely when hidden),
// show a banner while polls fail, recover by itself. No library, no build step. A poll whose answer is
// JSON changed counts only: they are set in place (textContent), the rest of the page (the QR) stays as it is.
// The secret is kept per tab (sessionStorage: a reload keeps it, a second tab pairs on its own) and swapped
// for the one the server hands over at pairing (X-Screen-Secret): the secret held before pairing stops working.
// One poll is in flight at a time.
(function () {
  "use strict";
  var KEY = "ketang-screen";
  var main = document.getElementById("main"), banner = document.getElementById("banner");
  var store = window.sessionStorage;
  var secret = store.getItem(KEY), etag = null, shape = null, failures = 0, offset = 0, timer = null, busy = false;
  var visibleMs = 1000, hiddenMs = 30000;

  function schedule(ms) { clearTimeout(timer); timer = setTimeout(poll, ms); }
  function interval() { return document.hidden ? hiddenMs : visibleMs; }
  function trouble() { failures += 1; if (failures >= 2) banner.hidden = false; schedule(Math.min(1000 * failures, 5000)); }

  function pairAgain() {
    secret = null; etag = null; shape = null; store.removeItem(KEY);
    fetch("/screen/new", { method: "POST", cache: "no-store" }).then(function (r) {
      if (!r.ok) throw new Error("status " + r.status);
      return r.json();
    }).then(function (data) {
      secret = data.secret; store.setItem(KEY, secret); failures = 0; banner.hidden = true; poll();
    }).catch(trouble);
  }

  function poll() {
    if (!secret) { pairAgain(); return; }
    if (busy) return;  // one poll at a time: two with the same secret would race for the hand-over at pairing
    busy = true;
    var headers = { "X-Screen": secret };
    if (etag) headers["If-None-Match"] = etag;
    if (shape) headers["X-Shape"] = shape;
    fetch("/screen/state", { headers: headers, cache: "no-store" }).then(function (r) {
      busy = false;
      if (r.status === 404) { pairAgain(); return null; }
      if (r.status === 304) { return null; }
      if (!r.ok) throw new Error("status " + r.status);
      var fresh = r.headers.get("X-Screen-Secret");
      if (fresh) { secret = fresh; store.setItem(KEY, fresh); }
      etag = r.headers.get("ETag");
      if ((r.headers.get("Content-Type") || "").indexOf("application/json") === 0) return r.json().then(apply);
      return r.text().then(show);
    }).then(function () {
      failures = 0; banner.hidden = true;
      if (secret) schedule(interval());
    }).catch(function () { busy = false; trouble(); });
  }

  function apply(data) {  // counts only: the server saw our shape unchanged
    offset = Number(data.now) - Date.now() / 1000;
    var items = main.querySelectorAll("[data-part]");
    for (var i = 0; i < items.length; i++) {
      var value = data.parts[items[i].dataset.part];
      if (value !== undefined && items[i].textContent !== value) items[i].textContent = value;
    }
  }

  function show(html) {
    main.innerHTML = html;
    var state = document.getElementById("state");
    shape = state ? state.dataset.shape : null;
    if (!state) return;
    offset = Number(state.dataset.now) - Date.now() / 1000;
    visibleMs = Number(state.dataset.visible) || visibleMs; hiddenMs = Number(state.dataset.hidden) || hiddenMs;
    var kind = state.dataset.state;
    if (kind === "ended" || kind === "expired") setTimeout(pairAgain, kind === "ended" ? 5000 : 0);
    tick();
  }

  function tick() {  // countdowns against the server's clock
    var now = Date.now() / 1000 + offset;
    var items = main.querySelectorAll("[data-until]");
    for (var i = 0; i < items.length; i++) {
      var left = Math.max(0, Math.ceil(Number(items[i].dataset.until) - now));
      if (items[i].dataset.span) { items[i].style.width = Math.min(100, 100 * left / Number(items[i].dataset.span)) + "%"; continue; }
      items[i].textContent = Math.floor(left / 60) + ":" + ("0" + (left % 60)).slice(-2);
    }
  }

  setInterval(tick, 250);
  document.addEventListener("visibilitychange", function () { if (!document.hidden) poll(); });
  poll();
})();
