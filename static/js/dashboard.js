// The managers' dashboard: draws each <canvas data-chart="..."> with Chart.js from the numbers
// the server put in the #dashboard-data JSON element. The tables beside the charts hold the same
// numbers, so nothing is lost without JavaScript.
(function () {
  "use strict";
  var source = document.getElementById("dashboard-data");
  if (!source || typeof window.Chart === "undefined") { return; }
  var data = JSON.parse(source.textContent);
  var palette = data.palette;
  var dark = window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches;
  var ink = dark ? "#e6e6e6" : "#1f2a30";
  var grid = dark ? "rgba(255,255,255,0.15)" : "rgba(0,0,0,0.1)";
  var reduceMotion = window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)").matches;

  Array.prototype.forEach.call(document.querySelectorAll("canvas[data-chart]"), function (canvas) {
    var spec = data[canvas.getAttribute("data-chart")];
    if (!spec) { return; }
    var type = spec.type || "bar";
    var horizontal = Boolean(spec.horizontal);
    var datasets = spec.series.map(function (series, index) {
      var colour = palette[index % palette.length];
      return {
        label: series.label,
        data: series.data,
        backgroundColor: colour,
        borderColor: colour,
        borderWidth: type === "line" ? 2 : 0,
        spanGaps: true,
        pointRadius: type === "line" ? 3 : 0
      };
    });
    var valueAxis = {
      beginAtZero: true,
      stacked: Boolean(spec.stacked),
      title: { display: true, text: spec.y, color: ink },
      ticks: { color: ink, precision: 0 },
      grid: { color: grid }
    };
    var categoryAxis = { stacked: Boolean(spec.stacked), ticks: { color: ink }, grid: { display: false } };
    new window.Chart(canvas, {
      type: type,
      data: { labels: spec.labels, datasets: datasets },
      options: {
        indexAxis: horizontal ? "y" : "x",
        maintainAspectRatio: false,
        animation: reduceMotion ? false : { duration: 400 },
        plugins: { legend: { labels: { color: ink } } },
        scales: horizontal ? { x: valueAxis, y: categoryAxis } : { x: categoryAxis, y: valueAxis }
      }
    });
    canvas.setAttribute("data-drawn", "true");
  });
})();
