// keyledger dashboard: table sorting and filtering, and "Check now" with live progress.
// Served as a static file (the page's CSP allows no inline script). Text only ever goes
// into the page through textContent, never as HTML.
(function () {
  "use strict";
  var STATUS_CLASS = {
    ok: "st-green", no_quota: "st-red", billing_inactive: "st-red",
    deactivated: "st-boldred", invalid: "st-boldred", restricted: "st-magenta",
    rate_limited: "st-yellow", unreachable: "st-yellow", unknown: "st-yellow"
  };
  var csrf = document.querySelector('meta[name="csrf-token"]').getAttribute("content");
  var table = document.getElementById("keys");

  function rows() {
    return table ? Array.prototype.slice.call(table.tBodies[0].querySelectorAll("tr[data-id]")) : [];
  }

  // -- sorting ------------------------------------------------------------------------
  var sortState = { key: null, dir: 1 };
  function sortValue(row, key) {
    if (key === "status") return Number(row.dataset.statusRank);
    var v = row.dataset[key] || "";
    if (key === "available" || key === "runway") return v === "" ? Infinity : Number(v);
    return v.toLowerCase();
  }
  function sortBy(key, dir) {
    var body = table.tBodies[0];
    var list = rows();
    list.sort(function (a, b) {
      var x = sortValue(a, key), y = sortValue(b, key);
      if (x < y) return -dir;
      if (x > y) return dir;
      return a.dataset.label.toLowerCase() < b.dataset.label.toLowerCase() ? -1 : 1;
    });
    list.forEach(function (r) { body.appendChild(r); });
    table.querySelectorAll("th[data-sort]").forEach(function (th) {
      th.setAttribute("aria-sort", th.dataset.sort === key ? (dir > 0 ? "ascending" : "descending") : "none");
    });
  }
  if (table) {
    table.querySelectorAll("th[data-sort]").forEach(function (th) {
      th.addEventListener("click", function () {
        var key = th.dataset.sort;
        sortState.dir = sortState.key === key ? -sortState.dir : 1;
        sortState.key = key;
        sortBy(key, sortState.dir);
      });
    });
  }

  // -- filtering ----------------------------------------------------------------------
  var fLabel = document.getElementById("f-label");
  var fProvider = document.getElementById("f-provider");
  var fStatus = document.getElementById("f-status");
  function applyFilters() {
    if (!table) return;
    var text = (fLabel.value || "").trim().toLowerCase();
    var shown = 0, all = rows();
    all.forEach(function (r) {
      var ok = (!text || r.dataset.label.toLowerCase().indexOf(text) !== -1) &&
        (!fProvider.value || r.dataset.provider === fProvider.value) &&
        (!fStatus.value || r.dataset.status === fStatus.value);
      r.classList.toggle("hidden", !ok);
      if (ok) shown += 1;
    });
    document.getElementById("shown").textContent = shown + " of " + all.length + " shown";
  }
  if (fLabel) {
    fLabel.addEventListener("input", applyFilters);
    fProvider.addEventListener("change", applyFilters);
    fStatus.addEventListener("change", applyFilters);
    applyFilters();
  }

  // -- live updates -------------------------------------------------------------------
  function when(iso) {
    if (!iso) return "-";
    return iso.slice(0, 10) + " " + iso.slice(11, 16) + " UTC";
  }
  function money(value, currency) {
    if (value === null || value === undefined) return "-";
    var text = Number(value).toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
    return currency ? text + " " + currency.toUpperCase() : text;
  }
  // The same text as the page's money cell (templates/overview.html).
  function moneyText(k) {
    if (k.balances.length) {
      return k.balances.map(function (b) {
        if (b.token_uncapped) return "token uncapped" + (b.used !== null ? " (spent " + money(b.used, b.currency) + ")" : "");
        var text = money(b.available, b.currency);
        if (b.granted !== null) text += " / " + money(b.granted) + " / " + money(b.used);
        return text;
      }).join(" · ");
    }
    if (k.spend) return "spent " + money(k.spend.amount, k.spend.currency || "");
    return k.balance_reason ? "n/a: " + k.balance_reason.replace(/_/g, " ") : "-";
  }
  function getJSON(url) {
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { if (!r.ok) throw new Error("HTTP " + r.status); return r.json(); });
  }
  function refreshRows() {
    if (!table) return Promise.resolve();
    return getJSON("/api/v1/keys").then(function (payload) {
      var byId = {};
      payload.keys.forEach(function (k) { byId[k.id] = k; });
      var missing = false;
      rows().forEach(function (r) {
        var k = byId[r.dataset.id];
        if (!k) return;
        delete byId[r.dataset.id];
        if (r.dataset.checked === (k.last_checked || "")) return;
        r.dataset.status = k.status;
        r.dataset.statusRank = String(k.status_rank);
        r.dataset.checked = k.last_checked || "";
        var badge = r.querySelector("td.status span");
        badge.textContent = k.status;
        badge.className = STATUS_CLASS[k.status] || "st-yellow";
        r.querySelector("td.status .reason").textContent = k.reason || "";
        r.querySelector("td.checked").textContent = when(k.last_checked);
        r.querySelector("td.spark").textContent = k.spark || "";
        r.querySelector("td.money").textContent = moneyText(k);
        r.querySelector("td.runway").textContent = k.runway_days === null ? "-" : k.runway_days + " d";
        var first = k.balances[0];
        r.dataset.available = first && first.available !== null ? first.available : "";
        r.dataset.runway = k.runway_days || "";
        r.classList.remove("updated");
        void r.offsetWidth;
        r.classList.add("updated");
      });
      missing = Object.keys(byId).length > 0;
      applyFilters();
      return missing;
    });
  }
  function refreshCounts() {
    return getJSON("/api/v1/overview").then(function (o) {
      document.querySelectorAll("[data-count]").forEach(function (el) {
        var n = o.counts[el.dataset.count] || 0;
        el.textContent = String(n);
        el.parentNode.classList.toggle("zero", n === 0);
      });
      var count = document.getElementById("key-count");
      if (count) count.textContent = String(o.keys);
    });
  }

  var progress = document.getElementById("check-progress");
  var button = document.getElementById("checknow-button");
  var form = document.getElementById("checknow");
  function poll() {
    getJSON("/api/v1/check").then(function (s) {
      if (s.state === "running") {
        progress.textContent = "checking " + s.done + "/" + s.total;
        button.disabled = true;
        refreshRows().catch(function () {});
        window.setTimeout(poll, 700);
        return;
      }
      button.disabled = !s.enabled;
      if (s.state === "failed") {
        progress.textContent = "check failed: " + (s.error || "unknown error");
        return;
      }
      progress.textContent = "done: " + s.done + " keys checked (run #" + s.run_id + ")";
      if (!table) { window.location.reload(); return; }
      refreshRows().then(function (missing) {
        if (missing) window.location.reload();
        return refreshCounts();
      }).catch(function () {});
    }).catch(function (e) { progress.textContent = "lost contact: " + e.message; });
  }
  if (form) {
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      button.disabled = true;
      progress.textContent = "starting…";
      fetch("/api/v1/check", {
        method: "POST", credentials: "same-origin",
        headers: { "X-CSRF-Token": csrf, Accept: "application/json" }
      }).then(function (r) {
        return r.json().then(function (body) {
          if (r.status === 202 || r.status === 409) { poll(); return; }
          button.disabled = false;
          progress.textContent = body.error || ("HTTP " + r.status);
        });
      }).catch(function (e) { button.disabled = false; progress.textContent = e.message; });
    });
    if (progress.textContent.indexOf("checking") === 0) poll();
  }
})();
