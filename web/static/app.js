// fleetwatch UI: small enhancements; every page works without them.
"use strict";
(function () {
  // Confirm before destructive forms (data-confirm="question").
  document.addEventListener("submit", function (ev) {
    var q = ev.target.getAttribute && ev.target.getAttribute("data-confirm");
    if (q && !window.confirm(q)) ev.preventDefault();
  });

  // Times: show the local time on hover, keep UTC on the page.
  function localTitles(root) {
    root.querySelectorAll("time[datetime]").forEach(function (t) {
      var d = new Date(t.getAttribute("datetime").replace(" ", "T"));
      if (!isNaN(d)) t.title = d.toString();
    });
  }

  // Auto-refresh: re-fetch this URL and swap the element with the same id.
  function autoRefresh(el) {
    var secs = parseInt(el.getAttribute("data-refresh"), 10);
    if (!(secs > 0)) return;
    var box = document.getElementById("autorefresh");
    var busy = false;
    setInterval(function () {
      if (busy || document.hidden || (box && !box.checked)) return;
      busy = true;
      fetch(window.location.href, { credentials: "same-origin", headers: { "Accept": "text/html" } })
        .then(function (r) { if (!r.ok) throw new Error(r.status); return r.text(); })
        .then(function (html) {
          var doc = new DOMParser().parseFromString(html, "text/html");
          var fresh = doc.getElementById(el.id);
          var cur = document.getElementById(el.id);
          if (!fresh || !cur) return;
          var checked = box ? box.checked : true;
          cur.replaceWith(fresh);
          box = document.getElementById("autorefresh");
          if (box) box.checked = checked;
          localTitles(fresh);
          document.body.setAttribute("data-refreshed", new Date().toISOString());
        })
        .catch(function () { /* keep the last good table */ })
        .finally(function () { busy = false; });
    }, secs * 1000);
  }

  document.addEventListener("DOMContentLoaded", function () {
    localTitles(document);
    document.querySelectorAll("[data-refresh]").forEach(autoRefresh);
  });
})();
