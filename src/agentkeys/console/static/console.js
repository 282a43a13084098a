// agentkeys console: htmx's configuration (no inline script: the pages' CSP allows 'self' only)
// and times shown in the browser's time zone (the UTC time stays in the title, on hover).
(function () {
  "use strict";
  if (window.htmx) {
    // Its indicator styles would be an inline <style>, which the CSP refuses.
    window.htmx.config.includeIndicatorStyles = false;
    window.htmx.config.allowEval = false;
    window.htmx.config.allowScriptTags = false;
    window.htmx.config.selfRequestsOnly = true;
    // No page snapshots in localStorage (the pages are no-store); Back reloads the URL whole.
    window.htmx.config.historyCacheSize = 0;
    window.htmx.config.refreshOnHistoryMiss = true;
    window.htmx.config.historyRestoreAsHxRequest = false;
  }

  var format = new Intl.DateTimeFormat(undefined, {
    year: "numeric", month: "short", day: "numeric",
    hour: "2-digit", minute: "2-digit", timeZoneName: "short"
  });

  // A table's compact form: no year, no zone (both stay in the title, on hover).
  var compact = new Intl.DateTimeFormat(undefined, {
    month: "short", day: "numeric", hour: "2-digit", minute: "2-digit"
  });

  function localize(root) {
    var times = root.querySelectorAll("time[datetime]:not([data-localized])");
    for (var i = 0; i < times.length; i++) {
      var node = times[i];
      var instant = new Date(node.getAttribute("datetime"));
      if (!isNaN(instant.getTime())) {
        var full = format.format(instant);
        if (node.hasAttribute("data-compact")) {
          node.textContent = compact.format(instant);
          node.setAttribute("title", full + " (" + node.getAttribute("title") + ")");
        } else {
          node.textContent = full;
        }
        node.setAttribute("data-localized", "true");
      }
    }
  }

  document.addEventListener("DOMContentLoaded", function () { localize(document); });
  document.addEventListener("htmx:afterSwap", function (event) { localize(event.target); });
})();
