// The map's shared state and its data model: cell lookup, the folded trees and the rows and columns shown.
import { segmentList } from "./segments.js";

export const state = {
  data: null,
  cells: new Map(),
  collapsedRows: new Set(),
  collapsedCols: new Set(),
  view: "bubbles", // or "heat"
  colour: "effect", // the bubbles' colour: "effect" or "confidence"
  shade: "studies", // the heat map's shade: "studies" or "g"
  segments: false, // whether the bubbles show their segments
  segmentBy: "design", // what they are segmented by: "design" or a code set's slug
  loaded: null, // data.json's query of the data shown
  focus: { r: 0, c: 0 },
  request: 0,
  rows: [],
  cols: [],
  largest: 1, // the most studies in any cell: every bubble is scaled against it
  designIndex: new Map(), // study design code -> its place in data.designs (its segment index)
  segmentList: [], // every segment's label, by index (segments.js)
};

export function cellKey(rowId, colId) {
  return `${rowId}:${colId}`;
}

export function indexCells(cells) {
  return new Map(cells.map((cell) => [cellKey(cell.i, cell.o), cell]));
}

// The most studies in any one cell (at least 1), in one pass over the cells.
export function largestCell(cells) {
  let largest = 1;
  cells.forEach((cell) => {
    if (cell.studies > largest) {
      largest = cell.studies;
    }
  });
  return largest;
}

// A new data.json document: everything derived from it alone is worked out here, once, and
// every render (and every bubble in it) reuses it.
export function setData(data) {
  state.data = data;
  state.cells = indexCells(data.cells);
  state.largest = largestCell(data.cells);
  state.designIndex = new Map(Object.keys(data.designs).map((code, index) => [code, index]));
  state.segmentList = segmentList(data);
}

export function cellOf(rowId, colId) {
  return state.cells.get(cellKey(rowId, colId)) || null;
}

export function cellHref(rowId, colId) {
  const query = state.data.query;
  return state.data.cell_url.replace("{i}", rowId).replace("{o}", colId) + (query ? `?${query}` : "");
}

// The tree's nodes (parents before children) that are not inside a folded node; a folded
// node is a leaf, standing for everything beneath it.
export function visible(nodes, collapsed) {
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

export function leaves(shown) {
  return shown.filter((v) => v.leaf).map((v) => v.node);
}

// The rows and columns shown for the current fold state; keeps the focused cell inside them.
export function layout() {
  const data = state.data;
  const rowsVisible = visible(data.interventions, state.collapsedRows);
  const colsVisible = visible(data.outcomes, state.collapsedCols);
  const rows = leaves(rowsVisible);
  const cols = leaves(colsVisible);
  state.rows = rows;
  state.cols = cols;
  state.focus.r = Math.min(state.focus.r, Math.max(0, rows.length - 1));
  state.focus.c = Math.min(state.focus.c, Math.max(0, cols.length - 1));
  return { rowsVisible, colsVisible, rows, cols };
}

export function toggleFold(collapsed, id) {
  if (collapsed.has(id)) {
    collapsed.delete(id);
  } else {
    collapsed.add(id);
  }
}

export function expandAll() {
  state.collapsedRows.clear();
  state.collapsedCols.clear();
}

export function collapseAll() {
  state.data.interventions.filter((n) => n.children.length).forEach((n) => state.collapsedRows.add(n.id));
  state.data.outcomes.filter((n) => n.children.length).forEach((n) => state.collapsedCols.add(n.id));
}
