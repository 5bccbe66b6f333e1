// Household page: refresh the live power every few seconds and today's chart every minute.
// No library, no request outside this server. Texts come from the page (data-t-*), in the
// page's language, so this file holds no user-facing sentence.
(function () {
  "use strict";
  var live = document.getElementById("live");
  if (!live) return;
  var d = live.dataset;
  var lang = d.lang || "fr";
  var nf0 = new Intl.NumberFormat(lang, { maximumFractionDigits: 0 });
  var nf1 = new Intl.NumberFormat(lang, { minimumFractionDigits: 1, maximumFractionDigits: 1 });

  function power(w) {
    // negative: solar panels producing more than the home uses, said in words
    if (w < 0 && d.tExport) return d.tExport.replace("{power}", power(-w));
    return Math.abs(w) >= 10000 ? nf1.format(w / 1000) + "\u00a0kW" : nf0.format(w) + "\u00a0W";
  }
  function age(s) {
    s = Math.max(0, Math.floor(s));
    if (s < 120) return s + " s";
    if (s < 7200) return Math.floor(s / 60) + " min";
    if (s < 172800) return Math.floor(s / 3600) + " h";
    return Math.floor(s / 86400) + (lang === "fr" ? " j" : " d");
  }
  function text(id, value) {
    var el = document.getElementById(id);
    if (el) el.textContent = value;
  }

  function showPower(data) {
    if (data.ts_utc === null) { text("live-age", d.tWaiting); return; }
    text("live-power", power(data.power_w));
    var a = age(data.age_s);
    text("live-age", data.stale ? d.tStale.replace("{age}", a) : d.tUpdated.replace("{age}", a));
    live.classList.toggle("stale", !!data.stale);
    var ul = document.getElementById("live-channels");
    if (ul) {
      ul.textContent = "";
      if (data.channels.length > 1) {
        data.channels.forEach(function (c) {
          var li = document.createElement("li");
          var name = c.label || (c.channel === 0 && !c.sub ? d.tMain : d.tChannel.replace("{n}", c.channel));
          li.textContent = name + " : " + power(c.power_w);
          ul.appendChild(li);
        });
      }
    }
  }

  function refreshPower() {
    var headers = { "Accept": "application/json" };
    if (d.auth) headers["Authorization"] = "Bearer " + d.auth;
    fetch(d.liveUrl, { headers: headers, cache: "no-store", credentials: "same-origin" })
      .then(function (r) {
        if (r.status === 404) { text("live-age", d.tWaiting); return null; }
        if (!r.ok) throw new Error("HTTP " + r.status);
        return r.json();
      })
      .then(function (data) { if (data) showPower(data); live.classList.remove("offline"); })
      .catch(function () { text("live-age", d.tOffline); live.classList.add("offline"); })
      .then(function () { setTimeout(refreshPower, 1000 * Number(d.refreshS || 5)); });
  }

  function refreshChart() {
    fetch(d.chartUrl, { cache: "no-store" })
      .then(function (r) { if (!r.ok) throw new Error("HTTP " + r.status); return r.text(); })
      .then(function (html) { document.getElementById("today").innerHTML = html; })
      .catch(function () { /* keep the last chart; the live line already says we are offline */ })
      .then(function () { setTimeout(refreshChart, 1000 * Number(d.chartRefreshS || 60)); });
  }

  refreshPower();
  setTimeout(refreshChart, 1000 * Number(d.chartRefreshS || 60));
})();
