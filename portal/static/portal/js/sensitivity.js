/* The leave-one-out plot of a cell page: the pooled g and its 95% CI without each study, drawn
 * with Plotly from the page's JSON data block (<script type="application/json" id="sensitivity-data">).
 * A study whose removal changes the cell's label is drawn as a red diamond, and named. */
(function () {
  "use strict";

  const source = document.getElementById("sensitivity-data");
  const plotDiv = document.getElementById("sensitivity-plot");
  if (!source || !plotDiv || !window.Plotly) {
    return;
  }
  const data = JSON.parse(source.textContent);
  if (!data.rows.length || !data.full) {
    return;
  }
  const font = { family: "system-ui, -apple-system, Segoe UI, Roboto, sans-serif", size: 13, color: "#1d2433" };
  const y = data.rows.map((_, n) => -n);
  const fmt = (value) => (value === null || value === undefined ? gettext("n/a") : Number(value).toFixed(3));

  function trace(rows, positions, name, marker) {
    return {
      type: "scatter",
      mode: "markers",
      name,
      x: rows.map((r) => r.g),
      y: positions,
      marker,
      error_x: {
        type: "data",
        symmetric: false,
        array: rows.map((r) => r.ci[1] - r.g),
        arrayminus: rows.map((r) => r.g - r.ci[0]),
        color: marker.color,
        thickness: 1.5,
        width: 3,
      },
      text: rows.map((r) => `${r.name}<br>${interpolate(gettext("g = %(g)s (95% CI %(low)s to %(high)s)"), { g: fmt(r.g), low: fmt(r.ci[0]), high: fmt(r.ci[1]) }, true)}<br>${r.label}`),
      hovertemplate: "%{text}<extra></extra>",
    };
  }
  const holds = data.rows.map((r, n) => [r, y[n]]).filter(([r]) => !r.changed);
  const changes = data.rows.map((r, n) => [r, y[n]]).filter(([r]) => r.changed);
  const traces = [
    trace(holds.map(([r]) => r), holds.map(([, p]) => p), gettext("Label holds"), { symbol: "square", size: 8, color: "#0b5cad" }),
  ];
  if (changes.length) {
    traces.push(trace(changes.map(([r]) => r), changes.map(([, p]) => p), gettext("Label changes"),
      { symbol: "diamond", size: 11, color: "#b3261e" }));
  }
  window.Plotly.newPlot(plotDiv, traces, {
    font,
    height: Math.max(220, 110 + 24 * data.rows.length),
    margin: { l: 10, r: 20, t: 40, b: 50 },
    showlegend: true,
    legend: { orientation: "h", x: 0, y: 1.02, yanchor: "bottom" },
    xaxis: { title: { text: gettext("Pooled Hedges' g without the study") }, zeroline: false },
    yaxis: { tickvals: y, ticktext: data.rows.map((r) => r.name), automargin: true, zeroline: false, showgrid: false },
    shapes: [
      { type: "rect", xref: "x", yref: "paper", x0: data.full.ci[0], x1: data.full.ci[1], y0: 0, y1: 1,
        fillcolor: "#e8eef7", line: { width: 0 }, layer: "below" },
      { type: "line", xref: "x", yref: "paper", x0: data.full.g, x1: data.full.g, y0: 0, y1: 1,
        line: { color: "#1d2433", width: 1.5 } },
      { type: "line", xref: "x", yref: "paper", x0: 0, x1: 0, y0: 0, y1: 1, line: { color: "#888888", width: 1, dash: "dot" } },
    ],
    paper_bgcolor: "#ffffff",
    plot_bgcolor: "#ffffff",
  }, { displayModeBar: false, responsive: true });
}());
