// keyledger key page: balance and spend over time, one uPlot chart per currency.
(function () {
  "use strict";
  var section = document.getElementById("key");
  if (!section || typeof uPlot === "undefined") return;
  var id = section.dataset.id;
  function num(v) { return v === null || v === undefined ? null : Number(v); }
  function draw(series) {
    series.forEach(function (s) {
      var fig = document.querySelector('figure.chart[data-currency="' + CSS.escape(s.currency) + '"]');
      if (!fig) return;
      var box = fig.querySelector(".chart-box");
      var xs = [], avail = [], used = [], spent = [];
      s.points.forEach(function (p) {
        xs.push(Date.parse(p.at) / 1000);
        avail.push(num(p.available)); used.push(num(p.used)); spent.push(num(p.spent));
      });
      var lines = [{}];
      var cols = [xs];
      function add(label, values, colour) {
        if (!values.some(function (v) { return v !== null; })) return;
        lines.push({ label: label + " (" + s.currency + ")", stroke: colour, width: 2, spanGaps: true,
          points: { show: xs.length < 60 } });
        cols.push(values);
      }
      add("available", avail, "#15803d");
      add("used", used, "#c81e1e");
      add("spent this month", spent, "#2457c5");
      var opts = {
        width: Math.max(280, box.clientWidth), height: 260,
        series: lines,
        axes: [
          { label: "date (UTC)" },
          { label: s.currency, size: 70 }
        ],
        scales: { x: { time: true } }
      };
      var plot = new uPlot(opts, cols, box);
      window.addEventListener("resize", function () {
        plot.setSize({ width: Math.max(280, box.clientWidth), height: 260 });
      });
    });
  }
  fetch("/api/v1/key/" + encodeURIComponent(id) + "/history", { credentials: "same-origin" })
    .then(function (r) { return r.json(); })
    .then(function (h) { draw(h.series); });
})();
