// Progressive enhancements only: every page works without this file.
(function () {
  "use strict";
  function onReady(fn) { if (document.readyState !== "loading") fn(); else document.addEventListener("DOMContentLoaded", fn); }
  onReady(function () {
    // Register: show the store-name field only for sellers.
    var roleInputs = document.querySelectorAll('input[name="role"]');
    var sellerOnly = document.querySelectorAll('[data-show-when-role="seller"]');
    function syncRole() {
      var checked = document.querySelector('input[name="role"]:checked');
      var isSeller = checked && checked.value === "seller";
      sellerOnly.forEach(function (el) { el.hidden = !isSeller; });
    }
    if (roleInputs.length && sellerOnly.length) {
      roleInputs.forEach(function (el) { el.addEventListener("change", syncRole); });
      syncRole();
    }
    // Copy buttons: <button data-copy-target="#id">
    document.querySelectorAll("[data-copy-target]").forEach(function (btn) {
      btn.addEventListener("click", function () {
        var target = document.querySelector(btn.getAttribute("data-copy-target"));
        if (!target) return;
        var text = target.value !== undefined ? target.value : target.textContent;
        var done = function () { var old = btn.textContent; btn.textContent = "Copied"; setTimeout(function () { btn.textContent = old; }, 1500); };
        if (navigator.clipboard && navigator.clipboard.writeText) {
          navigator.clipboard.writeText(text).then(done, function () { target.select && target.select(); document.execCommand("copy"); done(); });
        } else { target.select && target.select(); document.execCommand("copy"); done(); }
      });
    });
    // Countdowns refresh every minute: <time data-countdown datetime="ISO">
    function tick() {
      document.querySelectorAll("[data-countdown]").forEach(function (el) {
        var when = Date.parse(el.getAttribute("datetime"));
        if (isNaN(when)) return;
        var diff = Math.round((when - Date.now()) / 1000), abs = Math.abs(diff);
        var d = Math.floor(abs / 86400), h = Math.floor((abs % 86400) / 3600), m = Math.floor((abs % 3600) / 60);
        var text = d >= 2 ? d + " days" : d === 1 ? "1 day" + (h ? " " + h + " h" : "") : h >= 1 ? h + " h" + (m ? " " + m + " min" : "") : m >= 1 ? m + " min" : abs + " s";
        el.textContent = diff >= 0 ? text + " left" : "passed " + text + " ago";
      });
    }
    if (document.querySelector("[data-countdown]")) { setInterval(tick, 30000); }
  });
})();
