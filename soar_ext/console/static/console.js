// SOAR stand-in console: confirmation questions, select-all boxes, live progress. No external code.
(function () {
  "use strict";

  function onSubmitConfirm(event) {
    var question = event.target.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      event.preventDefault();
    }
  }

  function bindConfirms(root) {
    root.querySelectorAll("form[data-confirm]").forEach(function (form) {
      form.addEventListener("submit", onSubmitConfirm);
    });
  }

  function bindSelectAll(root) {
    root.querySelectorAll("input[data-select-all]").forEach(function (box) {
      box.addEventListener("change", function () {
        var group = box.getAttribute("data-select-all");
        document.querySelectorAll('input[data-select="' + group + '"]').forEach(function (item) {
          item.checked = box.checked;
        });
      });
    });
  }

  // A Progress block with data-refresh-seconds is redrawn from a fresh copy of this page
  // while the plugin keeps asking for it (refresh_seconds set); forms elsewhere keep their input.
  function scheduleRefresh(block) {
    var seconds = parseFloat(block.getAttribute("data-refresh-seconds"));
    var id = block.getAttribute("data-refresh-id");
    if (!id || !(seconds > 0)) {
      return;
    }
    window.setTimeout(function () {
      fetch(window.location.href, { credentials: "same-origin", headers: { "X-Console-Refresh": "1" } })
        .then(function (response) { return response.ok ? response.text() : null; })
        .then(function (html) {
          if (html === null) { return; }
          var fresh = new DOMParser().parseFromString(html, "text/html")
            .querySelector('[data-refresh-id="' + id + '"]');
          var current = document.querySelector('[data-refresh-id="' + id + '"]');
          if (!fresh || !current) { return; }
          var adopted = document.importNode(fresh, true);
          current.replaceWith(adopted);
          bindConfirms(adopted);
          scheduleRefresh(adopted);
        })
        .catch(function () { scheduleRefresh(block); });
    }, Math.max(0.5, seconds) * 1000);
  }

  document.addEventListener("DOMContentLoaded", function () {
    bindConfirms(document);
    bindSelectAll(document);
    document.querySelectorAll("[data-refresh-seconds]").forEach(scheduleRefresh);
  });
})();
