/* The interactive evidence map: reads /maps/<slug>/data.json and draws the grid, the legend
 * and the table view with DOM APIs. Filters update the map in place and the page's URL.
 * No inline styles: sizes and colours are SVG attributes; the tooltip is placed through
 * the CSSOM (element.style), which a Content-Security-Policy does not restrict.
 * This entry module wires the parts in ./map/ to the page (a native ES module, no build). */
import { collapseAll, expandAll, layout, state } from "./map/state.js";
import { drawGrid, summary } from "./map/grid.js";
import { renderLegend } from "./map/legend.js";
import { renderTable } from "./map/table.js";
import { hideTooltip, wireTooltip } from "./map/tooltip.js";
import { wireKeyboard } from "./map/keyboard.js";
import { currentQuery, setForm, wireFilters } from "./map/filters.js";
import { wireMapDownloads } from "./map/export.js";

function start(form, grid) {
  const tooltip = document.getElementById("map-tooltip");
  const legend = document.getElementById("map-legend");
  const table = document.getElementById("map-table");
  const statusLine = document.getElementById("map-status");
  const errorBox = document.getElementById("map-error");

  function render() {
    const view = layout();
    drawGrid(grid, view, render);
    renderLegend(legend);
    renderTable(table, view.rows, view.cols);
    statusLine.textContent = summary(state.data, view.rows.length, view.cols.length);
  }

  wireTooltip(grid, tooltip);
  wireKeyboard(grid, () => hideTooltip(tooltip));
  const load = wireFilters(form, statusLine, errorBox, render);

  // The view controls redraw the same data.
  document.querySelectorAll("input[name='colour']").forEach((radio) => {
    radio.addEventListener("change", () => {
      state.colour = radio.value;
      if (state.data) {
        render();
      }
    });
  });
  document.getElementById("show-segments").addEventListener("change", (event) => {
    state.segments = event.target.checked;
    if (state.data) {
      render();
    }
  });
  document.getElementById("expand-all").addEventListener("click", () => {
    expandAll();
    render();
  });
  document.getElementById("collapse-all").addEventListener("click", () => {
    collapseAll();
    render();
  });
  wireMapDownloads(document.getElementById("export-svg"), document.getElementById("export-png"));

  // On a phone the filters start folded away so that the map is on the first screen.
  const panel = document.getElementById("filters-panel");
  if (panel && window.matchMedia("(max-width: 640px)").matches) {
    panel.open = false;
  }

  setForm(form, currentQuery());
  load(currentQuery(), "replaceState");
}

const mapForm = document.getElementById("map-filters");
const mapGrid = document.getElementById("map-grid");
if (mapForm && mapGrid) {
  start(mapForm, mapGrid);
}
