/* The subgroup forest plot of a cell page ("Why do the studies differ?"): the pooled effect
 * of each group with its 95% confidence interval, from <script type="application/json"
 * id="subgroup-data">. The same table is on the page for readers without script. */
(function () {
  "use strict";

  const source = document.getElementById("subgroup-data");
  const div = document.getElementById("subgroup-plot");
  if (!source || !div || !window.Plotly) {
    return;
  }
  const data = JSON.parse(source.textContent);
  if (!data || !data.levels.length) {
    return;
  }
  const fmt = (v) => (v === null || v === undefined ? gettext("n/a") : Number(v).toFixed(3));
  const levels = data.levels;
  const y = levels.map((_, i) => -i);
  const trace = {
    type: "scatter",
    mode: "markers",
    name: gettext("Pooled effect of the group"),
    x: levels.map((l) => l.g),
    y,
    marker: { symbol: "diamond", size: 12, color: "#1d2433" },
    error_x: {
      type: "data",
      symmetric: false,
      array: levels.map((l) => l.ci[1] - l.g),
      arrayminus: levels.map((l) => l.g - l.ci[0]),
      color: "#1d2433",
      thickness: 1.5,
      width: 6,
    },
    text: levels.map((l) => `${l.label}: ${interpolate(gettext("g = %(g)s (95% CI %(low)s to %(high)s); %(studies)s studies, %(k)s effect sizes"), { g: fmt(l.g), low: fmt(l.ci[0]), high: fmt(l.ci[1]), studies: l.studies, k: l.k }, true)}`),
    hovertemplate: "%{text}<extra></extra>",
  };
  window.Plotly.newPlot(div, [trace], {
    font: { family: "system-ui, -apple-system, Segoe UI, Roboto, sans-serif", size: 13, color: "#1d2433" },
    height: Math.max(200, 110 + 40 * levels.length),
    margin: { l: 10, r: 20, t: 20, b: 50 },
    showlegend: false,
    xaxis: { title: { text: gettext("Hedges' g (positive favours the intervention)") }, zeroline: false },
    yaxis: {
      tickvals: y,
      ticktext: levels.map((l) => interpolate(gettext("%(label)s (%(studies)s studies)"), { label: l.label, studies: l.studies }, true)),
      automargin: true,
      zeroline: false,
      showgrid: false,
    },
    shapes: [{ type: "line", x0: 0, x1: 0, yref: "paper", y0: 0, y1: 1, line: { color: "#888888", width: 1 } }],
    paper_bgcolor: "#ffffff",
    plot_bgcolor: "#ffffff",
  }, { displayModeBar: false, responsive: true });
}());
