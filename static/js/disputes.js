// Dispute pages: progressive enhancements only; every form works without this file.
(function () {
  "use strict";
  function onReady(fn) { if (document.readyState !== "loading") fn(); else document.addEventListener("DOMContentLoaded", fn); }
  function sync(name, attr) {
    var checked = document.querySelector('input[name="' + name + '"]:checked');
    document.querySelectorAll("[" + attr + "]").forEach(function (el) {
      el.hidden = !(checked && checked.value === el.getAttribute(attr));
    });
  }
  onReady(function () {
    // Complaint: the amount only matters for a partial refund.
    if (document.querySelector("[data-show-when-wanted]")) {
      document.querySelectorAll('input[name="wanted"]').forEach(function (el) {
        el.addEventListener("change", function () { sync("wanted", "data-show-when-wanted"); });
      });
      sync("wanted", "data-show-when-wanted");
    }
    // Seller's answer: amount for a partial offer; return address when the item comes back.
    if (document.querySelector("[data-show-when-respond]")) {
      document.querySelectorAll('input[name="action"]').forEach(function (el) {
        el.addEventListener("change", function () { sync("action", "data-show-when-respond"); });
      });
      sync("action", "data-show-when-respond");
    }
    var keep = document.querySelector("[data-keep-item]");
    var ret = document.querySelector("[data-show-when-return]");
    if (keep && ret) {
      var syncKeep = function () { ret.hidden = keep.checked; };
      keep.addEventListener("change", syncKeep);
      syncKeep();
    }
    // Warn about files the server will refuse before they are sent (the server still checks).
    document.querySelectorAll('input[type="file"][name="evidence"]').forEach(function (input) {
      var form = input.form;
      var max = form && parseInt(form.getAttribute("data-max-bytes") || "0", 10);
      var summary = form && form.querySelector("[data-file-summary]");
      input.addEventListener("change", function () {
        var notes = [];
        Array.prototype.forEach.call(input.files, function (f) {
          var ok = /^(image\/(jpeg|png|webp)|application\/pdf)$/.test(f.type);
          var big = max && f.size > max;
          notes.push(f.name + " (" + Math.ceil(f.size / 1024) + " KB)" + (big ? " — too large" : ok ? "" : " — not a photo or PDF"));
        });
        if (summary) summary.textContent = notes.join("; ");
      });
    });
  });
})();
