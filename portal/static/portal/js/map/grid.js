// The grid: tree headers with ▸/▾ fold buttons, one cell per row × column, a bubble (or in the
// heat map a shaded square) in each cell with studies and a "gap" mark in each cell without.
import { append, effectSizes, el, said, studies, svgEl } from "./dom.js";
import { state, cellHref, cellOf, toggleFold } from "./state.js";
import { describe, markText } from "./cells.js";
import { BUBBLE, cellShapes } from "./bubbles.js";

// How many of the shown columns sit beneath each column category.
export function leafCounts(cols, outcomes) {
  const outcomeById = new Map(outcomes.map((n) => [n.id, n]));
  const counts = new Map();
  cols.forEach((col) => {
    let id = col.parent;
    while (id !== null) {
      counts.set(id, (counts.get(id) || 0) + 1);
      id = outcomeById.get(id).parent;
    }
  });
  return counts;
}

function toggleButton(grid, node, collapsed, axis, rerender) {
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
    toggleFold(collapsed, node.id);
    rerender();
    const again = grid.querySelector(`button[data-axis="${axis}"][data-node="${node.id}"]`);
    if (again) {
      again.focus();
    }
  });
  return button;
}

function nodeLabel(grid, node, collapsed, axis, rerender) {
  if (node.children.length) {
    return toggleButton(grid, node, collapsed, axis, rerender);
  }
  return el("span", { className: "node-name", title: node.description || null, text: node.name });
}

function gridCell(row, col, r, c) {
  const cell = cellOf(row.id, col.id);
  const lines = describe(cell, row, col, state.data, state.designIndex, state.segmentList);
  if (cell) {
    // The name also holds what the cell shows, so that the visible words name it too
    // (WCAG 2.5.3, label in name), without the arrow symbols.
    const code = markText(cell, state).replace(/^[▲▼●]\s*/u, "");
    lines.push(code ? said(gettext("Shown as %(n)s, %(code)s"), { n: cell.studies, code }) : said(gettext("Shown as %(n)s"), { n: cell.studies }));
  }
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
    td.append(el("span", { className: "gap-mark", "aria-hidden": "true", text: gettext("gap") }));
    return td;
  }
  const link = el("a", { href: cellHref(row.id, col.id), tabindex: -1, "aria-hidden": "true", className: "cell-link" });
  const svg = svgEl("svg", { width: BUBBLE, height: BUBBLE, viewBox: `0 0 ${BUBBLE} ${BUBBLE}`, "aria-hidden": "true", focusable: "false" });
  append(svg, cellShapes(cell, BUBBLE / 2, BUBBLE / 2));
  link.append(svg);
  link.append(el("span", { className: "cell-text" }, [
    el("span", { className: "cell-count", text: String(cell.studies) }),
    " ",
    el("span", { className: "cell-code", text: markText(cell, state) }),
  ]));
  td.append(link);
  return td;
}

// Draws the grid for `view` (from state.layout()); a fold button calls `rerender` afterwards.
export function drawGrid(grid, view, rerender) {
  const { rowsVisible, colsVisible, cols } = view;
  const leafCount = leafCounts(cols, state.data.outcomes);
  const depth = Math.max(0, ...colsVisible.map((v) => v.node.depth));

  const thead = el("thead");
  const headRows = [];
  for (let d = 0; d <= depth; d += 1) {
    headRows.push(el("tr"));
  }
  headRows[0].append(el("th", { className: "corner", rowspan: depth + 1, scope: "col" }, [
    el("span", { text: gettext("Interventions ↓") }), el("br"), el("span", { text: gettext("Outcomes →") }),
  ]));
  colsVisible.forEach(({ node, leaf }) => {
    const attrs = { scope: leaf ? "col" : "colgroup", className: `col-head depth-${node.depth}` };
    if (leaf) {
      attrs.rowspan = depth + 1 - node.depth;
    } else {
      attrs.colspan = leafCount.get(node.id) || 1;
    }
    headRows[node.depth].append(el("th", attrs, [nodeLabel(grid, node, state.collapsedCols, "col", rerender)]));
  });
  append(thead, headRows);

  const tbody = el("tbody");
  let r = 0;
  rowsVisible.forEach(({ node, leaf }) => {
    if (!leaf) {
      tbody.append(el("tr", { className: "group-row" }, [
        el("th", { scope: "rowgroup", colspan: cols.length + 1, className: `row-head depth-${node.depth}` }, [
          nodeLabel(grid, node, state.collapsedRows, "row", rerender),
        ]),
      ]));
      return;
    }
    const tr = el("tr", {}, [
      el("th", { scope: "row", className: `row-head depth-${node.depth}` }, [nodeLabel(grid, node, state.collapsedRows, "row", rerender)]),
    ]);
    cols.forEach((col, c) => tr.append(gridCell(node, col, r, c)));
    tbody.append(tr);
    r += 1;
  });

  grid.replaceChildren(thead, tbody);
}

// The status line under the filters: what the map counts and how much of it is shown.
export function summary(data, rowCount, colCount) {
  const counts = { studies: studies(data.totals.studies), effects: effectSizes(data.totals.effects) };
  const found = data.filtered
    ? said(gettext("%(studies)s and %(effects)s that pass the filters"), counts)
    : said(gettext("%(studies)s and %(effects)s"), counts);
  const empty = data.cells.length ? "" : `${gettext("no cell has evidence.")} `;
  return `${found}; ${empty}${said(gettext("%(rows)s rows × %(cols)s columns shown."), { rows: rowCount, cols: colCount })}`;
}
