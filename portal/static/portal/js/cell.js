/* Forest and funnel plots of one map cell, drawn with Plotly from the page's JSON data block
 * (<script type="application/json" id="forest-data">). */
(function () {
  "use strict";

  const source = document.getElementById("forest-data");
  const forestDiv = document.getElementById("forest-plot");
  if (!source || !forestDiv || !window.Plotly) {
    return;
  }
  const data = JSON.parse(source.textContent);
  const pooled = data.pooled;
  const config = { displayModeBar: false, responsive: true };
  const font = { family: "system-ui, -apple-system, Segoe UI, Roboto, sans-serif", size: 13, color: "#1d2433" };

  function fmt(value) {
    return value === null || value === undefined ? gettext("n/a") : Number(value).toFixed(3);
  }

  // One row per effect size, grouped by study (a blank line between studies), pooled last.
  const y = [];
  const ticks = [];
  let position = 0;
  let previous = null;
  data.rows.forEach((row) => {
    if (previous !== null && row.study !== previous) {
      position -= 0.6;
    }
    y.push(position);
    ticks.push(row.study === previous ? row.label : `${row.study}: ${row.label}`);
    previous = row.study;
    position -= 1;
  });
  const pooledY = position - 0.8;

  // Marker area proportional to the weight in the pooled estimate (a fixed size without one).
  const heaviest = data.rows.reduce((most, r) => Math.max(most, r.w || 0), 0);
  const sizes = data.rows.map((r) => (heaviest > 0 && r.w !== null ? 6 + 16 * Math.sqrt(r.w / heaviest) : 9));

  const traces = [
    {
      type: "scatter",
      mode: "markers",
      name: gettext("Effect sizes"),
      x: data.rows.map((r) => r.g),
      y,
      marker: { symbol: "square", size: sizes, color: "#0b5cad" },
      error_x: {
        type: "data",
        symmetric: false,
        array: data.rows.map((r) => r.ci[1] - r.g),
        arrayminus: data.rows.map((r) => r.g - r.ci[0]),
        color: "#0b5cad",
        thickness: 1.5,
        width: 4,
      },
      text: data.rows.map((r) => `${r.study}<br>${r.label}<br>${interpolate(gettext("g = %(g)s (95% CI %(low)s to %(high)s)"), { g: fmt(r.g), low: fmt(r.ci[0]), high: fmt(r.ci[1]) }, true)}`
        + (r.w !== null && r.w !== undefined ? `<br>${interpolate(gettext("weight %(w)s%"), { w: Number(r.w).toFixed(1) }, true)}` : "")),
      hovertemplate: "%{text}<extra></extra>",
    },
  ];
  if (pooled) {
    traces.push({
      type: "scatter",
      mode: "lines",
      name: gettext("95% prediction interval"),
      x: [pooled.pi[0], pooled.pi[1]],
      y: [pooledY, pooledY],
      line: { color: "#8a5a00", width: 2, dash: "dot" },
      hovertemplate: `${interpolate(gettext("Prediction interval %(low)s to %(high)s"), { low: fmt(pooled.pi[0]), high: fmt(pooled.pi[1]) }, true)}<extra></extra>`,
    });
    traces.push({
      type: "scatter",
      mode: "lines",
      name: gettext("Pooled estimate (95% CI)"),
      x: [pooled.ci[0], pooled.g, pooled.ci[1], pooled.g, pooled.ci[0]],
      y: [pooledY, pooledY + 0.35, pooledY, pooledY - 0.35, pooledY],
      fill: "toself",
      fillcolor: "#1d2433",
      line: { color: "#1d2433", width: 1 },
      hovertemplate: `${pooled.label}: ${interpolate(gettext("g = %(g)s (95% CI %(low)s to %(high)s)"), { g: fmt(pooled.g), low: fmt(pooled.ci[0]), high: fmt(pooled.ci[1]) }, true)}<extra></extra>`,
    });
    y.push(pooledY);
    ticks.push(gettext("Pooled estimate"));
  }

  const layout = {
    font,
    height: Math.max(260, 120 + 30 * ticks.length),
    margin: { l: 10, r: 20, t: 40, b: 50 },
    showlegend: true,
    legend: { orientation: "h", x: 0, y: 1.02, yanchor: "bottom" },
    xaxis: {
      title: { text: data.note ? gettext("Hedges' g (positive means improvement)") : gettext("Hedges' g (positive favours the intervention)") },
      zeroline: false,
    },
    yaxis: { tickvals: y, ticktext: ticks, automargin: true, zeroline: false, showgrid: false },
    shapes: [{ type: "line", x0: 0, x1: 0, yref: "paper", y0: 0, y1: 1, line: { color: "#888888", width: 1 } }],
    paper_bgcolor: "#ffffff",
    plot_bgcolor: "#ffffff",
  };
  window.Plotly.newPlot(forestDiv, traces, layout, config);

  const funnelDiv = document.getElementById("funnel-plot");
  if (!funnelDiv || !data.funnel || !pooled) {
    return;
  }
  // Every effect size of the cell (on a big cell's later pages too), as [g, SE] pairs.
  const points = data.points;
  const largest = points.reduce((most, p) => Math.max(most, p[1]), 0) * 1.1;
  const funnel = [
    {
      type: "scatter",
      mode: "markers",
      name: gettext("Effect sizes"),
      x: points.map((p) => p[0]),
      y: points.map((p) => p[1]),
      marker: { size: 8, color: "#0b5cad", symbol: "circle" },
      hovertemplate: "g = %{x:.3f}, SE = %{y:.3f}<extra></extra>",
    },
    {
      type: "scatter",
      mode: "lines",
      name: gettext("Pseudo 95% limits"),
      x: [pooled.g - 1.96 * largest, pooled.g, pooled.g + 1.96 * largest],
      y: [largest, 0, largest],
      line: { color: "#888888", dash: "dash", width: 1 },
      hoverinfo: "skip",
    },
  ];
  window.Plotly.newPlot(funnelDiv, funnel, {
    font,
    height: 360,
    margin: { l: 60, r: 20, t: 40, b: 50 },
    xaxis: { title: { text: "Hedges' g" } },
    yaxis: { title: { text: gettext("Standard error") }, autorange: "reversed" },
    shapes: [{ type: "line", x0: pooled.g, x1: pooled.g, y0: 0, y1: largest, line: { color: "#1d2433", width: 1 } }],
    legend: { orientation: "h", x: 0, y: 1.02, yanchor: "bottom" },
    paper_bgcolor: "#ffffff",
    plot_bgcolor: "#ffffff",
  }, config);
}());
