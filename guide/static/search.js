// SPDX-License-Identifier: AGPL-3.0-or-later
// Client-side search over the guide: the index is a plain script (search-index.js) so that it
// also works when the pages are opened from disk (file://), with no server and no network.
(function () {
  "use strict";
  var data = window.CW_SEARCH_INDEX;
  if (!data) { return; }

  function fold(text) {
    return text.normalize("NFD").replace(/[\u0300-\u036f]/g, "").toLowerCase();
  }
  function words(text) {
    return fold(text).split(/[^a-z0-9µΩ]+/).filter(function (w) { return w.length > 0; });
  }
  function escapeHtml(text) {
    return text.replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }

  var entries = data.entries.map(function (entry) {
    return { entry: entry, titleWords: words(entry.t), textWords: words(entry.x), folded: fold(entry.x) };
  });

  function countPrefix(list, token) {
    var n = 0;
    for (var i = 0; i < list.length; i++) { if (list[i].lastIndexOf(token, 0) === 0) { n++; } }
    return n;
  }

  function search(query) {
    var tokens = words(query);
    if (!tokens.length) { return []; }
    var hits = [];
    entries.forEach(function (item) {
      var score = 0;
      for (var i = 0; i < tokens.length; i++) {
        var inTitle = countPrefix(item.titleWords, tokens[i]);
        var inText = countPrefix(item.textWords, tokens[i]);
        if (!inTitle && !inText) { return; }  // every word of the query must be found
        score += 5 * inTitle + Math.min(inText, 10);
      }
      hits.push({ item: item, score: score });
    });
    hits.sort(function (a, b) { return b.score - a.score; });
    return hits.slice(0, 12).map(function (hit) { return hit.item; });
  }

  function snippet(item, query) {
    var token = words(query)[0] || "";
    var at = item.folded.indexOf(token);
    var start = Math.max(0, at - 60);
    var text = item.entry.x.substr(start, 160);
    var html = escapeHtml(text);
    if (at >= 0 && token) {
      var local = at - start;
      html = escapeHtml(text.substr(0, local)) + "<mark>" + escapeHtml(text.substr(local, token.length)) +
        "</mark>" + escapeHtml(text.substr(local + token.length));
    }
    return (start > 0 ? "… " : "") + html + " …";
  }

  function renderList(results, query) {
    if (!results.length) { return "<p class=\"none\">" + escapeHtml(data.labels.none) + "</p>"; }
    return "<ol>" + results.map(function (item) {
      return "<li><a href=\"" + item.entry.u + "\">" + escapeHtml(item.entry.t) + "</a>" +
        "<span class=\"snippet\">" + snippet(item, query) + "</span></li>";
    }).join("") + "</ol>";
  }

  var input = document.getElementById("search-input");
  var dropdown = document.getElementById("search-results");
  var page = document.getElementById("search-page-results");
  var query = new URLSearchParams(window.location.search).get("q") || "";

  if (page) {
    if (input) { input.value = query; }
    page.innerHTML = query ? renderList(search(query), query) : "";
    page.setAttribute("data-count", String(query ? search(query).length : 0));
  }
  if (input && dropdown) {
    input.addEventListener("input", function () {
      var q = input.value.trim();
      if (q.length < 2 || page) { dropdown.hidden = true; return; }
      dropdown.innerHTML = renderList(search(q), q);
      dropdown.hidden = false;
    });
    document.addEventListener("click", function (event) {
      if (!dropdown.contains(event.target) && event.target !== input) { dropdown.hidden = true; }
    });
    input.addEventListener("keydown", function (event) {
      if (event.key === "Escape") { dropdown.hidden = true; }
    });
  }
})();
