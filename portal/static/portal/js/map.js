/* The interactive evidence map: reads /maps/<slug>/data.json and draws the grid, the legend
 * and the table view with DOM APIs. Filters update the map in place and the page's URL.
 * No inline styles: sizes and colours are SVG attributes; the tooltip is placed through
 * the CSSOM (element.style), which a Content-Security-Policy does not restrict. */
(function () {
  "use strict";

  const form = document.getElementById("map-filters");
  const grid = document.getElementById("map-grid");
  if (!form || !grid) {
    return;
  }

  const SVG_NS = "http://www.w3.org/2000/svg";
  const BUBBLE = 44; // the bubble's box in the grid, in px
  const MAX_R = 19;
  const MIN_R = 3.5;

  // Colours are set as SVG fill attributes so that the same values serve the page and the
  // exported SVG/PNG file. Text beside each bubble carries the same meaning.
  const PALETTE = {
    positive: ["#c7e9c0", "#74c476", "#31a354", "#006d2c"],
    negative: ["#fdd0a2", "#fd8d3c", "#e6550d", "#a63603"],
    none: "#bdbdbd",
    unpooled: "#ffffff",
    confidence: { high: "#08519c", medium: "#6baed6", low: "#deebf7" },
    stroke: "#4a4a4a",
    designs: [
      "#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02",
      "#a6761d", "#666666", "#1f78b4", "#b2df8a", "#fb9a99",
    ],
  };
  const FIELD_LABELS = {
    region: "Region", country: "Country", population: "Population", design: "Study design",
    confidence: "Study confidence", year_min: "Published from", year_max: "Published to", q: "Search",
  };

  const tooltip = document.getElementById("map-tooltip");
  const legend = document.getElementById("map-legend");
  const table = document.getElementById("map-table");
  const statusLine = document.getElementById("map-status");
  const errorBox = document.getElementById("map-error");
  const dataUrl = form.dataset.dataUrl;

  const state = {
    data: null,
    cells: new Map(),
    collapsedRows: new Set(),
    collapsedCols: new Set(),
    colour: "effect",
    designs: false,
    focus: { r: 0, c: 0 },
    request: 0,
    rows: [],
    cols: [],
  };

  // ---------------------------------------------------------------- small DOM helpers

  function el(tag, attrs, children) {
    const node = document.createElement(tag);
    setAttrs(node, attrs);
    append(node, children);
    return node;
  }

  function svgEl(tag, attrs, children) {
    const node = document.createElementNS(SVG_NS, tag);
    setAttrs(node, attrs);
    append(node, children);
    return node;
  }

  function setAttrs(node, attrs) {
    Object.entries(attrs || {}).forEach(([key, value]) => {
      if (value === null || value === undefined || value === false) {
        return;
      }
      if (key === "text") {
        node.textContent = value;
      } else if (key === "className") {
        node.setAttribute("class", value);
      } else {
        node.setAttribute(key, value === true ? "" : String(value));
      }
    });
  }

  function append(node, children) {
    (children || []).forEach((child) => {
      if (child === null || child === undefined) {
        return;
      }
      node.append(typeof child === "string" ? document.createTextNode(child) : child);
    });
  }

  function fmt(value, digits) {
    return value === null || value === undefined ? "n/a" : Number(value).toFixed(digits === undefined ? 3 : digits);
  }

  function plural(n, one, many) {
    return `${n} ${n === 1 ? one : many}`;
  }

  // ---------------------------------------------------------------- the cells' meaning

  function cellOf(rowId, colId) {
    return state.cells.get(`${rowId}:${colId}`) || null;
  }

  function bandIndex(cell) {
    const bands = state.data.bands || [];
    const index = bands.indexOf(cell.band);
    // Shade from the darkest end so that the largest band is always the darkest.
    return index < 0 ? 0 : PALETTE.positive.length - bands.length + index;
  }

  function fillFor(cell) {
    if (state.colour === "confidence") {
      return cell.confidence ? PALETTE.confidence[cell.confidence] : PALETTE.unpooled;
    }
    if (cell.g === null || cell.g === undefined) {
      return PALETTE.unpooled;
    }
    if (cell.direction === "positive") {
      return PALETTE.positive[bandIndex(cell)];
    }
    if (cell.direction === "negative") {
      return PALETTE.negative[bandIndex(cell)];
    }
    return PALETTE.none;
  }

  function shortText(cell) {
    if (state.colour === "confidence") {
      return cell.confidence ? { high: "High", medium: "Med", low: "Low" }[cell.confidence] : "n/r";
    }
    if (cell.g === null || cell.g === undefined) {
      return "no g";
    }
    const band = cell.band || "";
    if (cell.direction === "positive") {
      return `▲ ${band}`;
    }
    if (cell.direction === "negative") {
      return `▼ ${band}`;
    }
    return "● none";
  }

  function designColour(code) {
    const codes = Object.keys(state.data.designs);
    return PALETTE.designs[Math.max(0, codes.indexOf(code)) % PALETTE.designs.length];
  }

  function describe(cell, row, col) {
    const where = `${row.name} × ${col.name}`;
    if (!cell) {
      return [where, "No studies: an evidence gap."];
    }
    const lines = [where, `${plural(cell.studies, "study", "studies")}; ${plural(cell.effects, "effect size", "effect sizes")}`];
    if (cell.g !== null && cell.g !== undefined) {
      lines.push(`${cell.label} (g = ${fmt(cell.g)}, 95% CI ${fmt(cell.ci[0])} to ${fmt(cell.ci[1])})`);
    } else {
      lines.push("No pooled effect (no effect sizes)");
    }
    if (cell.confidence) {
      lines.push(`${cell.confidence.charAt(0).toUpperCase()}${cell.confidence.slice(1)} confidence`);
    }
    const designs = Object.entries(cell.designs).map(([code, n]) => `${state.data.designs[code] || code} ${n}`);
    if (designs.length) {
      lines.push(`Designs: ${designs.join(", ")}`);
    }
    return lines;
  }

  function radius(n) {
    const largest = Math.max(1, ...state.data.cells.map((c) => c.studies));
    // Area proportional to the number of studies.
    return Math.max(MIN_R, MAX_R * Math.sqrt(n / largest));
  }

  function slicePath(cx, cy, r, start, end) {
    const x1 = cx + r * Math.sin(start);
    const y1 = cy - r * Math.cos(start);
    const x2 = cx + r * Math.sin(end);
    const y2 = cy - r * Math.cos(end);
    const large = end - start > Math.PI ? 1 : 0;
    return `M${cx},${cy} L${x1.toFixed(2)},${y1.toFixed(2)} A${r},${r} 0 ${large} 1 ${x2.toFixed(2)},${y2.toFixed(2)} Z`;
  }

  // The bubble as SVG shapes centred on (cx, cy); used by the grid and the exported file.
  function bubbleShapes(cell, cx, cy) {
    const r = radius(cell.studies);
    const fill = fillFor(cell);
    const entries = Object.entries(cell.designs);
    if (!state.designs || entries.length < 2) {
      const shapes = [];
      if (state.designs && entries.length === 1) {
        shapes.push(svgEl("circle", { cx, cy, r: r + 2.5, fill, stroke: PALETTE.stroke, "stroke-width": 1 }));
        shapes.push(svgEl("circle", { cx, cy, r, fill: designColour(entries[0][0]), stroke: "#ffffff", "stroke-width": 1 }));
        return shapes;
      }
      shapes.push(svgEl("circle", { cx, cy, r, fill, stroke: PALETTE.stroke, "stroke-width": 1 }));
      return shapes;
    }
    // Segmented by design: a pie inside a ring in the effect (or confidence) colour.
    const shapes = [svgEl("circle", { cx, cy, r: r + 2.5, fill, stroke: PALETTE.stroke, "stroke-width": 1 })];
    const total = entries.reduce((sum, [, n]) => sum + n, 0);
    let angle = 0;
    entries.forEach(([code, n]) => {
      const end = angle + (2 * Math.PI * n) / total;
      shapes.push(svgEl("path", { d: slicePath(cx, cy, r, angle, end), fill: designColour(code), stroke: "#ffffff", "stroke-width": 0.75 }));
      angle = end;
    });
    return shapes;
  }

  // ---------------------------------------------------------------- the tree

  function visible(nodes, collapsed) {
    const hidden = new Set();
    const out = [];
    nodes.forEach((node) => {
      if (node.parent !== null && (hidden.has(node.parent) || collapsed.has(node.parent))) {
        hidden.add(node.id);
        return;
      }
      out.push({ node, leaf: node.children.length === 0 || collapsed.has(node.id) });
    });
    return out;
  }

  function toggleButton(node, collapsed, axis) {
    const open = !collapsed.has(node.id);
    const button = el("button", {
      type: "button",
      className: "toggle",
      "aria-expanded": open ? "true" : "false",
      "data-axis": axis,
      "data-node": node.id,
      title: node.description || null,
    }, [el("span", { className: "toggle-mark", "aria-hidden": "true", text: open ? "▾" : "▸" }), ` ${node.name}`]);
    button.addEventListener("click", () => {
      if (collapsed.has(node.id)) {
        collapsed.delete(node.id);
      } else {
        collapsed.add(node.id);
      }
      render();
      const again = grid.querySelector(`button[data-axis="${axis}"][data-node="${node.id}"]`);
      if (again) {
        again.focus();
      }
    });
    return button;
  }

  function nodeLabel(node, collapsed, axis) {
    if (node.children.length) {
      return toggleButton(node, collapsed, axis);
    }
    return el("span", { className: "node-name", title: node.description || null, text: node.name });
  }

  // ---------------------------------------------------------------- drawing the grid

  function render() {
    const data = state.data;
    const rowsVisible = visible(data.interventions, state.collapsedRows);
    const colsVisible = visible(data.outcomes, state.collapsedCols);
    const cols = colsVisible.filter((v) => v.leaf).map((v) => v.node);
    const rows = rowsVisible.filter((v) => v.leaf).map((v) => v.node);
    state.rows = rows;
    state.cols = cols;
    state.focus.r = Math.min(state.focus.r, Math.max(0, rows.length - 1));
    state.focus.c = Math.min(state.focus.c, Math.max(0, cols.length - 1));

    const outcomeById = new Map(data.outcomes.map((n) => [n.id, n]));
    const leafCount = new Map();
    cols.forEach((col) => {
      let id = col.parent;
      while (id !== null) {
        leafCount.set(id, (leafCount.get(id) || 0) + 1);
        id = outcomeById.get(id).parent;
      }
    });
    const depth = Math.max(0, ...colsVisible.map((v) => v.node.depth));

    const thead = el("thead");
    const headRows = [];
    for (let d = 0; d <= depth; d += 1) {
      headRows.push(el("tr"));
    }
    headRows[0].append(el("th", { className: "corner", rowspan: depth + 1, scope: "col" }, [
      el("span", { text: "Interventions ↓" }), el("br"), el("span", { text: "Outcomes →" }),
    ]));
    colsVisible.forEach(({ node, leaf }) => {
      const attrs = { scope: leaf ? "col" : "colgroup", className: `col-head depth-${node.depth}` };
      if (leaf) {
        attrs.rowspan = depth + 1 - node.depth;
      } else {
        attrs.colspan = leafCount.get(node.id) || 1;
      }
      headRows[node.depth].append(el("th", attrs, [nodeLabel(node, state.collapsedCols, "col")]));
    });
    append(thead, headRows);

    const tbody = el("tbody");
    let r = 0;
    rowsVisible.forEach(({ node, leaf }) => {
      if (!leaf) {
        tbody.append(el("tr", { className: "group-row" }, [
          el("th", { scope: "rowgroup", colspan: cols.length + 1, className: `row-head depth-${node.depth}` }, [
            nodeLabel(node, state.collapsedRows, "row"),
          ]),
        ]));
        return;
      }
      const tr = el("tr", {}, [
        el("th", { scope: "row", className: `row-head depth-${node.depth}` }, [nodeLabel(node, state.collapsedRows, "row")]),
      ]);
      cols.forEach((col, c) => tr.append(gridCell(node, col, r, c)));
      tbody.append(tr);
      r += 1;
    });

    grid.replaceChildren(thead, tbody);
    renderLegend();
    renderTable(rows, cols);
    const filtered = data.filtered ? " that pass the filters" : "";
    statusLine.textContent = `${plural(data.totals.studies, "study", "studies")} and ${plural(data.totals.effects, "effect size", "effect sizes")}${filtered}; ${data.cells.length ? "" : "no cell has evidence. "}${rows.length} rows × ${cols.length} columns shown.`;
  }

  function gridCell(row, col, r, c) {
    const cell = cellOf(row.id, col.id);
    const lines = describe(cell, row, col);
    const focused = r === state.focus.r && c === state.focus.c;
    const td = el("td", {
      className: cell ? "cell" : "cell gap",
      tabindex: focused ? 0 : -1,
      "data-r": r,
      "data-c": c,
      "data-intervention": row.id,
      "data-outcome": col.id,
      "aria-label": lines.join(". "),
    });
    if (!cell) {
      td.append(el("span", { className: "gap-mark", "aria-hidden": "true", text: "gap" }));
      return td;
    }
    const link = el("a", { href: cellHref(row.id, col.id), tabindex: -1, "aria-hidden": "true", className: "cell-link" });
    const svg = svgEl("svg", { width: BUBBLE, height: BUBBLE, viewBox: `0 0 ${BUBBLE} ${BUBBLE}`, "aria-hidden": "true", focusable: "false" });
    append(svg, bubbleShapes(cell, BUBBLE / 2, BUBBLE / 2));
    link.append(svg);
    link.append(el("span", { className: "cell-text" }, [
      el("span", { className: "cell-count", text: String(cell.studies) }),
      el("span", { className: "cell-code", text: shortText(cell) }),
    ]));
    td.append(link);
    return td;
  }

  function cellHref(rowId, colId) {
    const query = state.data.query;
    return state.data.cell_url.replace("{i}", rowId).replace("{o}", colId) + (query ? `?${query}` : "");
  }

  // ---------------------------------------------------------------- legend and table view

  function swatch(fill) {
    const svg = svgEl("svg", { width: 18, height: 18, viewBox: "0 0 18 18", "aria-hidden": "true", focusable: "false" });
    svg.append(svgEl("circle", { cx: 9, cy: 9, r: 7.5, fill, stroke: PALETTE.stroke, "stroke-width": 1 }));
    return svg;
  }

  function legendColours() {
    const data = state.data;
    if (state.colour === "confidence") {
      return [
        ["High confidence (High)", PALETTE.confidence.high],
        ["Medium confidence (Med)", PALETTE.confidence.medium],
        ["Low confidence (Low)", PALETTE.confidence.low],
        ["No pooled effect, not rated (n/r)", PALETTE.unpooled],
      ];
    }
    const bands = data.bands || [];
    const items = [];
    bands.slice().reverse().forEach((band) => {
      items.push([`${band} beneficial effect (▲)`, PALETTE.positive[bandIndex({ band })]]);
    });
    bands.slice().reverse().forEach((band) => {
      items.push([`${band} harmful effect (▼)`, PALETTE.negative[bandIndex({ band })]]);
    });
    items.push(["Studies but no pooled effect (no g)", PALETTE.unpooled]);
    return items;
  }

  function renderLegend() {
    const data = state.data;
    const largest = Math.max(1, ...data.cells.map((c) => c.studies));
    const sizes = [...new Set([1, Math.round(largest / 2), largest])].filter((n) => n >= 1);
    const sizeSvg = svgEl("svg", { width: sizes.length * 52, height: 48, "aria-hidden": "true", focusable: "false" });
    sizes.forEach((n, index) => {
      const cx = 26 + index * 52;
      sizeSvg.append(svgEl("circle", { cx, cy: 22, r: radius(n), fill: "#ffffff", stroke: PALETTE.stroke, "stroke-width": 1 }));
      sizeSvg.append(svgEl("text", { x: cx, y: 46, "text-anchor": "middle", "font-size": 11, text: String(n) }));
    });
    const sizeBlock = el("div", { className: "legend-block" }, [
      el("p", { className: "legend-title", text: "Number of studies (bubble area)" }),
      sizeSvg,
      el("span", { className: "visually-hidden", text: `Bubbles are scaled by area from 1 to ${largest} studies.` }),
    ]);
    const colourBlock = el("div", { className: "legend-block" }, [
      el("p", { className: "legend-title", text: state.colour === "confidence" ? "Cell confidence" : "Pooled effect (Hedges' g)" }),
      el("ul", { className: "legend-list" }, legendColours().map(([label, fill]) => el("li", {}, [swatch(fill), ` ${label}`]))),
    ]);
    const blocks = [sizeBlock, colourBlock];
    if (state.designs) {
      const used = new Set(data.cells.flatMap((c) => Object.keys(c.designs)));
      blocks.push(el("div", { className: "legend-block" }, [
        el("p", { className: "legend-title", text: "Study design (segments; ring shows the colour above)" }),
        el("ul", { className: "legend-list" }, Object.entries(data.designs)
          .filter(([code]) => used.has(code))
          .map(([code, label]) => el("li", {}, [swatch(designColour(code)), ` ${label}`]))),
      ]));
    }
    blocks.push(el("div", { className: "legend-block" }, [
      el("p", { className: "legend-title", text: "Gap" }),
      el("span", { className: "gap-sample", text: "gap" }),
      " no study in this cell",
    ]));
    legend.replaceChildren(...blocks);
  }

  function renderTable(rows, cols) {
    const head = el("thead", {}, [el("tr", {}, [
      "Intervention", "Outcome", "Studies", "Effect sizes", "Pooled g", "95% CI low", "95% CI high", "Effect", "Confidence",
    ].map((text) => el("th", { scope: "col", text })))]);
    const body = el("tbody");
    rows.forEach((row) => {
      cols.forEach((col) => {
        const cell = cellOf(row.id, col.id);
        if (!cell) {
          return;
        }
        const pooled = cell.g !== null && cell.g !== undefined;
        body.append(el("tr", {}, [
          el("th", { scope: "row" }, [el("a", { href: cellHref(row.id, col.id), text: row.name })]),
          el("td", { text: col.name }),
          el("td", { className: "num", text: String(cell.studies) }),
          el("td", { className: "num", text: String(cell.effects) }),
          el("td", { className: "num", text: pooled ? fmt(cell.g) : "" }),
          el("td", { className: "num", text: pooled ? fmt(cell.ci[0]) : "" }),
          el("td", { className: "num", text: pooled ? fmt(cell.ci[1]) : "" }),
          el("td", { text: pooled ? cell.label : "No pooled effect" }),
          el("td", { text: cell.confidence || "" }),
        ]));
      });
    });
    const caption = el("caption", { text: `Cells with studies, for the rows and columns shown above (${body.children.length} cells)` });
    table.replaceChildren(caption, head, body);
  }

  // ---------------------------------------------------------------- tooltip

  function showTooltip(td) {
    const row = state.rows[Number(td.dataset.r)];
    const col = state.cols[Number(td.dataset.c)];
    if (!row || !col) {
      return;
    }
    const lines = describe(cellOf(row.id, col.id), row, col);
    tooltip.replaceChildren(el("strong", { text: lines[0] }), ...lines.slice(1).map((line) => el("span", { text: line })));
    tooltip.hidden = false;
    const box = td.getBoundingClientRect();
    const width = tooltip.offsetWidth;
    const left = Math.min(window.scrollX + box.right + 6, window.scrollX + document.documentElement.clientWidth - width - 8);
    tooltip.style.left = `${Math.max(window.scrollX + 4, left)}px`;
    tooltip.style.top = `${window.scrollY + box.top}px`;
  }

  function hideTooltip() {
    tooltip.hidden = true;
  }

  grid.addEventListener("mouseover", (event) => {
    const td = event.target.closest("td.cell");
    if (td) {
      showTooltip(td);
    }
  });
  grid.addEventListener("mouseleave", hideTooltip);
  grid.addEventListener("focusin", (event) => {
    const td = event.target.closest("td.cell");
    if (td) {
      state.focus = { r: Number(td.dataset.r), c: Number(td.dataset.c) };
      grid.querySelectorAll("td.cell[tabindex='0']").forEach((other) => other.setAttribute("tabindex", "-1"));
      td.setAttribute("tabindex", "0");
      showTooltip(td);
    }
  });
  grid.addEventListener("focusout", hideTooltip);

  // ---------------------------------------------------------------- keyboard

  function focusCell(r, c) {
    const rows = state.rows.length;
    const cols = state.cols.length;
    if (!rows || !cols) {
      return;
    }
    const target = grid.querySelector(`td.cell[data-r="${Math.max(0, Math.min(rows - 1, r))}"][data-c="${Math.max(0, Math.min(cols - 1, c))}"]`);
    if (target) {
      target.focus();
    }
  }

  grid.addEventListener("keydown", (event) => {
    const td = event.target.closest("td.cell");
    if (!td) {
      return;
    }
    const r = Number(td.dataset.r);
    const c = Number(td.dataset.c);
    const moves = {
      ArrowUp: [r - 1, c], ArrowDown: [r + 1, c], ArrowLeft: [r, c - 1], ArrowRight: [r, c + 1],
      Home: [r, 0], End: [r, state.cols.length - 1],
    };
    if (moves[event.key]) {
      event.preventDefault();
      focusCell(...moves[event.key]);
    } else if (event.key === "Enter" || event.key === " ") {
      event.preventDefault();
      window.location.assign(cellHref(td.dataset.intervention, td.dataset.outcome));
    } else if (event.key === "Escape") {
      hideTooltip();
    }
  });

  grid.addEventListener("click", (event) => {
    const td = event.target.closest("td.cell");
    if (td && !event.target.closest("a")) {
      window.location.assign(cellHref(td.dataset.intervention, td.dataset.outcome));
    }
  });

  // ---------------------------------------------------------------- loading and filters

  function formQuery() {
    const params = new URLSearchParams();
    new FormData(form).forEach((value, key) => {
      const text = String(value).trim();
      if (text) {
        params.append(key, text);
      }
    });
    return params.toString();
  }

  function setForm(query) {
    const params = new URLSearchParams(query);
    Array.from(form.elements).forEach((field) => {
      if (!field.name) {
        return;
      }
      const values = params.getAll(field.name).flatMap((v) => v.split(","));
      if (field.type === "checkbox") {
        field.checked = values.includes(field.value);
      } else if (field.tagName === "SELECT") {
        Array.from(field.options).forEach((option) => {
          option.selected = values.includes(option.value);
        });
      } else if (field.type !== "submit" && field.type !== "button") {
        field.value = params.get(field.name) || "";
      }
    });
  }

  function showError(message) {
    errorBox.replaceChildren(el("p", { text: message }));
    errorBox.hidden = false;
    statusLine.textContent = "The map was not updated.";
  }

  async function load(query, how) {
    const id = state.request + 1;
    state.request = id;
    statusLine.textContent = "Updating the map…";
    let response;
    let body = null;
    try {
      response = await fetch(dataUrl + (query ? `?${query}` : ""), { headers: { Accept: "application/json" } });
      body = await response.json();
    } catch (error) {
      if (id === state.request) {
        showError("The map could not be loaded. Please try again.");
      }
      return;
    }
    if (id !== state.request) {
      return; // a newer request has been sent
    }
    if (!response.ok) {
      const label = body && body.field ? `${FIELD_LABELS[body.field] || body.field}: ` : "";
      showError(body && body.error ? `${label}${body.error}` : "The map could not be loaded.");
      return;
    }
    errorBox.hidden = true;
    state.data = body;
    state.cells = new Map(body.cells.map((cell) => [`${cell.i}:${cell.o}`, cell]));
    const page = body.urls.page;
    if (how && page !== window.location.pathname + window.location.search) {
      window.history[how]({ query: body.query }, "", page);
    }
    document.getElementById("export-csv").setAttribute("href", body.urls.studies_csv);
    document.getElementById("export-ris").setAttribute("href", body.urls.studies_ris);
    render();
  }

  let typing = null;
  form.addEventListener("change", (event) => {
    if (event.target.name === "q") {
      return; // the search box updates as you type (below) and on Enter
    }
    load(formQuery(), "pushState");
  });
  form.addEventListener("input", (event) => {
    if (event.target.name !== "q") {
      return;
    }
    window.clearTimeout(typing);
    typing = window.setTimeout(() => load(formQuery(), "replaceState"), 450);
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    window.clearTimeout(typing);
    load(formQuery(), "pushState");
  });
  document.getElementById("clear-filters").addEventListener("click", (event) => {
    event.preventDefault();
    setForm("");
    load("", "pushState");
  });
  window.addEventListener("popstate", () => {
    const query = window.location.search.replace(/^\?/, "");
    setForm(query);
    load(query, null);
  });

  document.querySelectorAll("input[name='colour']").forEach((radio) => {
    radio.addEventListener("change", () => {
      state.colour = radio.value;
      if (state.data) {
        render();
      }
    });
  });
  document.getElementById("show-designs").addEventListener("change", (event) => {
    state.designs = event.target.checked;
    if (state.data) {
      render();
    }
  });
  document.getElementById("expand-all").addEventListener("click", () => {
    state.collapsedRows.clear();
    state.collapsedCols.clear();
    render();
  });
  document.getElementById("collapse-all").addEventListener("click", () => {
    state.data.interventions.filter((n) => n.children.length).forEach((n) => state.collapsedRows.add(n.id));
    state.data.outcomes.filter((n) => n.children.length).forEach((n) => state.collapsedCols.add(n.id));
    render();
  });

  // ---------------------------------------------------------------- SVG and PNG export

  function mapSvg() {
    const rows = state.rows;
    const cols = state.cols;
    const labelWidth = 300;
    const colWidth = 96;
    const headHeight = 150;
    const rowHeight = 54;
    const width = labelWidth + cols.length * colWidth + 20;
    const height = headHeight + rows.length * rowHeight + 60;
    const svg = svgEl("svg", {
      xmlns: SVG_NS, width, height, viewBox: `0 0 ${width} ${height}`, "font-family": "Arial, Helvetica, sans-serif",
    });
    svg.append(svgEl("rect", { x: 0, y: 0, width, height, fill: "#ffffff" }));
    svg.append(svgEl("text", { x: 10, y: 24, "font-size": 16, "font-weight": "bold", text: state.data.map.title }));
    svg.append(svgEl("text", {
      x: 10, y: 44, "font-size": 11, fill: "#555555",
      text: `${plural(state.data.totals.studies, "study", "studies")}${state.data.query ? `; filters: ${decodeURIComponent(state.data.query.replace(/\+/g, " "))}` : ""}. Bubble area = number of studies.`,
    }));
    cols.forEach((col, c) => {
      const x = labelWidth + c * colWidth + colWidth / 2;
      svg.append(svgEl("text", {
        x, y: headHeight - 8, "font-size": 11, transform: `rotate(-35 ${x} ${headHeight - 8})`, text: col.name,
      }));
    });
    rows.forEach((row, r) => {
      const y = headHeight + r * rowHeight;
      svg.append(svgEl("line", { x1: 0, x2: width, y1: y, y2: y, stroke: "#dddddd" }));
      svg.append(svgEl("text", { x: 10 + row.depth * 12, y: y + rowHeight / 2 + 4, "font-size": 12, text: row.name }));
      cols.forEach((col, c) => {
        const cell = cellOf(row.id, col.id);
        const cx = labelWidth + c * colWidth + colWidth / 2;
        if (!cell) {
          svg.append(svgEl("text", { x: cx, y: y + rowHeight / 2 + 4, "font-size": 10, fill: "#999999", "text-anchor": "middle", text: "gap" }));
          return;
        }
        append(svg, bubbleShapes(cell, cx - 14, y + rowHeight / 2));
        svg.append(svgEl("text", { x: cx + 8, y: y + rowHeight / 2, "font-size": 11, "font-weight": "bold", text: String(cell.studies) }));
        svg.append(svgEl("text", { x: cx + 8, y: y + rowHeight / 2 + 13, "font-size": 9, text: shortText(cell) }));
      });
    });
    return svg;
  }

  function download(blob, name) {
    const url = URL.createObjectURL(blob);
    const link = el("a", { href: url, download: name, className: "visually-hidden" });
    document.body.append(link);
    link.click();
    link.remove();
    window.setTimeout(() => URL.revokeObjectURL(url), 1000);
  }

  function svgBlob() {
    const text = new XMLSerializer().serializeToString(mapSvg());
    return new Blob([`<?xml version="1.0" encoding="UTF-8"?>\n${text}`], { type: "image/svg+xml" });
  }

  document.getElementById("export-svg").addEventListener("click", () => {
    download(svgBlob(), `${state.data.map.slug}-map.svg`);
  });
  document.getElementById("export-png").addEventListener("click", () => {
    const svg = mapSvg();
    const url = URL.createObjectURL(svgBlob());
    const image = new Image();
    image.addEventListener("load", () => {
      const scale = 2;
      const canvas = el("canvas", { width: svg.getAttribute("width") * scale, height: svg.getAttribute("height") * scale });
      const context = canvas.getContext("2d");
      context.scale(scale, scale);
      context.drawImage(image, 0, 0);
      URL.revokeObjectURL(url);
      canvas.toBlob((blob) => download(blob, `${state.data.map.slug}-map.png`), "image/png");
    });
    image.src = url;
  });

  // On a phone the filters start folded away so that the map is on the first screen.
  const panel = document.getElementById("filters-panel");
  if (panel && window.matchMedia("(max-width: 640px)").matches) {
    panel.open = false;
  }

  setForm(window.location.search.replace(/^\?/, ""));
  load(window.location.search.replace(/^\?/, ""), "replaceState");
}());
