/* The overview page's charts, drawn with Plotly from the page's JSON data block
 * (<script type="application/json" id="overview-data">). Each chart has its data table in the
 * page; once a chart is drawn its table folds away (it stays one click away). The world map's
 * topology is our own static copy (the script's data-topojson), handed to Plotly before it
 * draws, and Plotly's topojsonURL points at the same folder: nothing is fetched elsewhere. */
(function () {
  "use strict";

  const source = document.getElementById("overview-data");
  const script = document.getElementById("overview-script");
  if (!source || !script || !window.Plotly) {
    return;
  }
  const data = JSON.parse(source.textContent);
  const config = { displayModeBar: false, responsive: true };
  const font = { family: "system-ui, -apple-system, Segoe UI, Roboto, sans-serif", size: 13, color: "#1d2433" };
  // Appraisal ratings in their order (yes, partly, no, unclear, not applicable).
  const ratingColours = ["#1b6e3a", "#7fb069", "#b3261e", "#8a8f98", "#c9ccd1"];
  const topojsonFile = script.dataset.topojson;
  const topojsonFolder = topojsonFile.slice(0, topojsonFile.lastIndexOf("/") + 1);

  function showError(message) {
    const box = document.getElementById("overview-error");
    if (box) {
      box.textContent = message;
      box.hidden = false;
    }
  }

  function drawn(div) {
    div.dataset.drawn = "true";
    const section = div.closest("section");
    const details = section && section.querySelector("details.chart-data");
    if (details) {
      details.open = false;
    }
  }

  function barChart(chart, div) {
    const vertical = chart.name === "year";
    const stacked = chart.series.length > 1;
    const traces = chart.series.map((series, i) => ({
      type: "bar",
      name: series.name,
      orientation: vertical ? "v" : "h",
      x: vertical ? chart.categories : series.counts,
      y: vertical ? series.counts : chart.categories,
      marker: { color: stacked ? ratingColours[i % ratingColours.length] : "#0b5cad" },
      hovertemplate: vertical ? "%{x}: %{y}<extra></extra>" : (stacked ? `${series.name}: %{x}<extra>%{y}</extra>` : "%{y}: %{x}<extra></extra>"),
    }));
    const most = Math.max(...chart.categories.map((_, i) => chart.series.reduce((sum, s) => sum + s.counts[i], 0)));
    const countAxis = {
      title: { text: gettext("Number of studies") }, rangemode: "tozero", tickformat: "d", gridcolor: "#e3e6ea", automargin: true,
    };
    if (most <= 10) {
      countAxis.dtick = 1; // whole studies only
    }
    const categoryAxis = { type: "category", automargin: true };
    if (!vertical) {
      categoryAxis.autorange = "reversed";
    }
    const height = vertical ? 360 : Math.max(240, 60 + 28 * chart.categories.length);
    const layout = {
      font,
      height,
      barmode: stacked ? "stack" : "group",
      showlegend: stacked,
      legend: { orientation: "h", x: 0, y: 1.02, xanchor: "left", yanchor: "bottom", traceorder: "normal" },
      margin: { l: 10, r: 20, t: stacked ? 40 : 10, b: 50 },
      xaxis: vertical ? { ...categoryAxis, title: { text: chart.axis } } : countAxis,
      yaxis: vertical ? countAxis : categoryAxis,
      paper_bgcolor: "#fff",
      plot_bgcolor: "#fff",
    };
    return window.Plotly.newPlot(div, traces, layout, config);
  }

  function worldMap(chart, div) {
    const locations = [];
    const counts = [];
    const names = [];
    chart.locations.forEach((code, i) => {
      if (code) {
        locations.push(code);
        counts.push(chart.series[0].counts[i]);
        names.push(chart.categories[i]);
      }
    });
    const trace = {
      type: "choropleth",
      locationmode: "ISO-3",
      locations,
      z: counts,
      text: names,
      zmin: 0,
      zmax: Math.max(1, ...counts),
      colorscale: [[0, "#dbe8f6"], [1, "#08306b"]],
      marker: { line: { color: "#ffffff", width: 0.5 } },
      // Plotly's colour bar resets its fills with a style attribute, which the CSP refuses;
      // the page has its own legend (#legend-country) instead.
      showscale: false,
      hovertemplate: "%{text}: %{z}<extra></extra>",
    };
    const layout = {
      font,
      height: 460,
      margin: { l: 0, r: 0, t: 0, b: 0 },
      geo: {
        scope: "world",
        resolution: 110,
        projection: { type: "natural earth" },
        showframe: false,
        showcoastlines: false,
        showland: true,
        landcolor: "#eceef1",
        showcountries: true,
        countrycolor: "#ffffff",
      },
      paper_bgcolor: "#fff",
    };
    return fetch(topojsonFile, { credentials: "same-origin" })
      .then((response) => {
        if (!response.ok) {
          throw new Error(`the world map's outlines could not be loaded (${response.status})`);
        }
        return response.json();
      })
      .then((topology) => {
        const assets = window.PlotlyGeoAssets || {};
        assets.topojson = assets.topojson || {};
        assets.topojson.world_110m = topology;
        window.PlotlyGeoAssets = assets;
        return window.Plotly.newPlot(div, [trace], layout, { ...config, topojsonURL: topojsonFolder });
      });
  }

  data.charts.forEach((chart) => {
    const div = document.getElementById(`chart-${chart.name}`);
    const counted = chart.series.some((s) => s.counts.some((n) => n > 0));
    if (!div || !counted) {
      return;
    }
    div.hidden = false;
    const drawing = chart.name === "country" ? worldMap(chart, div) : barChart(chart, div);
    Promise.resolve(drawing).then(() => {
      drawn(div);
      const legend = document.getElementById(`legend-${chart.name}`);
      if (legend) {
        legend.hidden = false;
      }
    }).catch((error) => {
      div.hidden = true;
      showError(interpolate(gettext("The chart “%(title)s” could not be drawn: %(error)s. Its data table gives the numbers."), { title: chart.title, error: error.message }, true));
    });
  });
}());
