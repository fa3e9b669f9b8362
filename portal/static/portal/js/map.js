/* The interactive evidence map: reads /maps/<slug>/data.json and draws the grid, the legend
 * and the table view with DOM APIs. The page arrives with the table view already in its HTML
 * (readable without script); this script turns it into the grid. Filters and view settings
 * update the map in place and the page's URL, which the back button and shared links restore.
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
import { dataQuery, readView, splitQuery, withView } from "./map/view.js";
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
  const controls = document.getElementById("map-controls");
  const segmentDefault = (controls && controls.dataset.segmentDefault) || "design";
  const showSegments = document.getElementById("show-segments");
  const segmentBy = document.getElementById("segment-by");

  // The view from the URL; a segmenting set the page does not offer reads as the default.
  function readUrlView(view) {
    readView(view, segmentDefault);
    if (!segmentBy || !Array.from(segmentBy.options).some((option) => option.value === state.segmentBy)) {
      state.segmentBy = segmentDefault;
    }
  }

  // The controls as the state says (after a load from the URL or the back button).
  function setControls() {
    document.querySelectorAll("input[name='view']").forEach((radio) => {
      radio.checked = radio.value === state.view;
    });
    document.querySelectorAll("input[name='colour']").forEach((radio) => {
      radio.checked = radio.value === state.colour;
    });
    document.querySelectorAll("input[name='shade']").forEach((radio) => {
      radio.checked = radio.value === state.shade;
    });
    if (showSegments) {
      showSegments.checked = state.segments;
    }
    if (segmentBy) {
      segmentBy.value = state.segmentBy;
    }
    const heat = state.view === "heat";
    const shown = { "colour-controls": !heat, "segment-controls": !heat, "shade-controls": heat };
    Object.entries(shown).forEach(([id, visible]) => {
      const element = document.getElementById(id);
      if (element) {
        element.hidden = !visible;
      }
    });
  }

  function render() {
    const view = layout();
    drawGrid(grid, view, changed);
    if (legend) {
      renderLegend(legend);
    }
    if (table) {
      renderTable(table, view.rows, view.cols);
    }
    statusLine.textContent = summary(state.data, view.rows.length, view.cols.length);
    updateShare(state.data);
  }

  const load = embedded ? null : wireFilters(form, statusLine, errorBox, render, {
    data: (query) => dataQuery(query, segmentDefault),
    page: withView,
  });

  // A view setting changed: a new history entry, then the same data redrawn (or, for another
  // segmenting code set, its data loaded).
  function changed() {
    setControls();
    if (!state.data) {
      return;
    }
    if (embedded) {
      render();
      return;
    }
    const filters = state.data.query;
    if (dataQuery(filters, segmentDefault) !== state.loaded) {
      load(filters, "pushState");
      return;
    }
    const url = withView(state.data.urls.page);
    if (url !== window.location.pathname + window.location.search) {
      window.history.pushState({ query: filters }, "", url);
    }
    render();
  }

  wireTooltip(grid, tooltip);
  wireKeyboard(grid, () => hideTooltip(tooltip));

  document.querySelectorAll("input[name='view'], input[name='colour'], input[name='shade']").forEach((radio) => {
    radio.addEventListener("change", () => {
      state[radio.name] = radio.value;
      changed();
    });
  });
  if (showSegments) {
    showSegments.addEventListener("change", () => {
      state.segments = showSegments.checked;
      changed();
    });
  }
  if (segmentBy) {
    segmentBy.addEventListener("change", () => {
      state.segmentBy = segmentBy.value;
      state.segments = true; // choosing what to segment by shows the segments
      changed();
    });
  }
  const expand = document.getElementById("expand-all");
  if (expand) {
    expand.addEventListener("click", () => {
      expandAll();
      changed();
    });
  }
  const collapse = document.getElementById("collapse-all");
  if (collapse) {
    collapse.addEventListener("click", () => {
      collapseAll();
      changed();
    });
  }
  const svgButton = document.getElementById("export-svg");
  const pngButton = document.getElementById("export-png");
  if (svgButton && pngButton) {
    wireMapDownloads(svgButton, pngButton);
  }
  wireShare();

  if (embedded) {
    readUrlView(splitQuery(window.location.search.replace(/^\?/, "")).view);
    setControls();
    setData(embedded);
    render();
    return;
  }

  // The back and forward buttons: the filters and the view of that entry.
  window.addEventListener("popstate", () => {
    const { filters, view } = splitQuery(window.location.search.replace(/^\?/, ""));
    setForm(form, filters);
    readUrlView(view);
    setControls();
    if (state.data && dataQuery(filters, segmentDefault) === state.loaded) {
      render();
    } else {
      load(filters, null);
    }
  });

  // On a phone the filters start folded away so that the map is on the first screen.
  const panel = document.getElementById("filters-panel");
  if (panel && window.matchMedia("(max-width: 640px)").matches) {
    panel.open = false;
  }
  // The table view is open in the HTML for readers without script; with the grid, it is folded.
  const tableView = document.getElementById("table-view");
  if (tableView) {
    tableView.open = false;
  }

  readUrlView(splitQuery(window.location.search.replace(/^\?/, "")).view);
  setControls();
  setForm(form, currentQuery());
  load(currentQuery(), "replaceState");
}

const mapForm = document.getElementById("map-filters");
const mapGrid = document.getElementById("map-grid");
const mapData = embeddedData();
if (mapGrid && (mapForm || mapData)) {
  start(mapGrid, mapForm, mapData);
}
