"""``/ops`` updates itself: a few lines of vanilla JavaScript, no library, no build step.

Every ``LIVE_EVERY_S`` seconds the script asks the same address with ``live=1`` added, which
answers only the page's ``<header>`` and ``<main>`` (``commands.ops_page.render``'s fragment,
same data and same escaping), and puts them in place: no full reload, the scroll position
stays. It skips a round while the tab is hidden or while a form on the page has the focus
(someone is choosing a filter), and stops, saying so, when the session is gone (401).

Actions stay plain forms: a click navigates (POST, redirect to ``/ops`` with a notice), the
new page starts its own polling, so the page keeps working after an action. Without
scripts a ``<noscript>`` meta refresh reloads the whole page every ``NOSCRIPT_EVERY_S``.
"""

from __future__ import annotations

from typing import Final

LIVE_EVERY_S: Final = 5
NOSCRIPT_EVERY_S: Final = 30

SCRIPT: Final = """<script>
(function () {
  var every = EVERY_MS, busy = false, stopped = false;
  function say(text) {
    var live = document.getElementById("live");
    if (live) { live.textContent = text; }
  }
  function round() {
    var focused = document.activeElement;
    if (stopped || busy || document.hidden || (focused && focused.form)) { return; }
    busy = true;
    var url = new URL(location.href);
    url.searchParams.set("live", "1");
    fetch(url, {credentials: "same-origin", cache: "no-store"}).then(function (r) {
      if (r.status === 401) { stopped = true; throw new Error("signed out: reload the page"); }
      return r.text();
    }).then(function (html) {
      var fresh = new DOMParser().parseFromString(html, "text/html");
      ["header", "main"].forEach(function (tag) {
        var now = document.querySelector(tag), next = fresh.querySelector(tag);
        if (now && next) { now.replaceWith(next); }
      });
    }).catch(function (e) {
      say("live updates " + (stopped ? "stopped" : "failed") + ": " + e.message);
    }).finally(function () { busy = false; });
  }
  setInterval(round, every);
})();
</script>""".replace("EVERY_MS", str(LIVE_EVERY_S * 1000))
