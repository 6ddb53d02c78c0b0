// weijian console: refreshes the alert list by itself. The page works without this script
// (reload it by hand); the script only fetches the server-rendered list again every few seconds
// while the page is visible, and says so when the session has ended.
(function () {
  "use strict";
  var box = document.querySelector("[data-refresh]");
  if (!box || !window.fetch) { return; }
  var every = Math.max(5, parseInt(box.getAttribute("data-every"), 10) || 15) * 1000;
  var stopped = false;
  function refresh() {
    if (stopped || document.hidden) { return; }
    fetch(box.getAttribute("data-refresh"), { credentials: "same-origin", cache: "no-store" })
      .then(function (r) {
        if (r.status === 401) {
          stopped = true;
          var p = document.createElement("p");
          p.className = "flash bad";
          p.textContent = box.getAttribute("data-ended");
          box.insertBefore(p, box.firstChild);
          return null;
        }
        return r.ok ? r.text() : null;
      })
      .then(function (html) { if (html !== null && html !== undefined) { box.innerHTML = html; } })
      .catch(function () { /* offline for a moment: try again at the next turn */ });
  }
  setInterval(refresh, every);
  document.addEventListener("visibilitychange", refresh);
}());
