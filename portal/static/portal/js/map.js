/* The interactive evidence map: reads /maps/<slug>/data.json and draws the grid, the legend
 * and the table view with DOM APIs. Filters update the map in place and the page's URL.
 * A page that carries its data (the embed page and the downloaded file: a JSON block with
 * id="map-data") is drawn from it, without the filters form or a request.
 * No inline styles: sizes and colours are SVG attributes; the tooltip is placed through
 * the CSSOM (element.style), which a Content-Security-Policy does not restrict.
 * This entry module wires the parts in ./map/ to the page (a native ES module, no build). */
import { collapseAll, expandAll, layout, setData, state } from "./map/state.js";
import { drawGrid, summary } from "./map/grid.js";
import { renderLegend } from "./map/legend.js";
import { renderTable } from "./map/table.js";
import { hideTooltip, wireTooltip } from "./map/tooltip.js";
import { wireKeyboard } from "./map/keyboard.js";
import { currentQuery, setForm, wireFilters } from "./map/filters.js";
import { wireMapDownloads } from "./map/export.js";
import { updateShare, wireShare } from "./map/share.js";

// The map's data when the page carries it (portal/templates/portal/map_view.html), else null.
function embeddedData() {
  const block = document.getElementById("map-data");
  return block ? JSON.parse(block.textContent) : null;
}

// `form` is the filters form, or null on a page that carries its data; every control but
// the grid is optional.
function start(grid, form, embedded) {
  const tooltip = document.getElementById("map-tooltip");
  const legend = document.getElementById("map-legend");
  const table = document.getElementById("map-table");
  const statusLine = document.getElementById("map-status");
  const errorBox = document.getElementById("map-error");

  function render() {
    const view = layout();
    drawGrid(grid, view, render);
    if (legend) {
      renderLegend(legend);
    }
    if (table) {
      renderTable(table, view.rows, view.cols);
    }
    statusLine.textContent = summary(state.data, view.rows.length, view.cols.length);
    updateShare(state.data);
  }

  wireTooltip(grid, tooltip);
  wireKeyboard(grid, () => hideTooltip(tooltip));
  const load = embedded ? null : wireFilters(form, statusLine, errorBox, render);

  // The view controls redraw the same data.
  document.querySelectorAll("input[name='colour']").forEach((radio) => {
    radio.addEventListener("change", () => {
      state.colour = radio.value;
      if (state.data) {
        render();
      }
    });
  });
  const showSegments = document.getElementById("show-segments");
  if (showSegments) {
    showSegments.addEventListener("change", (event) => {
      state.segments = event.target.checked;
      if (state.data) {
        render();
      }
    });
  }
  const expand = document.getElementById("expand-all");
  if (expand) {
    expand.addEventListener("click", () => {
      expandAll();
      render();
    });
  }
  const collapse = document.getElementById("collapse-all");
  if (collapse) {
    collapse.addEventListener("click", () => {
      collapseAll();
      render();
    });
  }
  const svgButton = document.getElementById("export-svg");
  const pngButton = document.getElementById("export-png");
  if (svgButton && pngButton) {
    wireMapDownloads(svgButton, pngButton);
  }
  wireShare();

  if (embedded) {
    setData(embedded);
    render();
    return;
  }

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
const mapData = embeddedData();
if (mapGrid && (mapForm || mapData)) {
  start(mapGrid, mapForm, mapData);
}
