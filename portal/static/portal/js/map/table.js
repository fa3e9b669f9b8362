// The table view: one row per shown cell with studies, with its counts, pooled g, CI and confidence.
import { el, fmt } from "./dom.js";
import { cellHref, cellOf } from "./state.js";

const HEADINGS = [
  "Intervention", "Outcome", "Studies", "Effect sizes", "Pooled g", "95% CI low", "95% CI high", "Effect", "Confidence",
];

function tableRow(row, col, cell) {
  const pooled = cell.g !== null && cell.g !== undefined;
  return el("tr", {}, [
    el("th", { scope: "row" }, [el("a", { href: cellHref(row.id, col.id), text: row.name })]),
    el("td", { text: col.name }),
    el("td", { className: "num", text: String(cell.studies) }),
    el("td", { className: "num", text: String(cell.effects) }),
    el("td", { className: "num", text: pooled ? fmt(cell.g) : "" }),
    el("td", { className: "num", text: pooled ? fmt(cell.ci[0]) : "" }),
    el("td", { className: "num", text: pooled ? fmt(cell.ci[1]) : "" }),
    el("td", { text: pooled ? cell.label : "No pooled effect" }),
    el("td", { text: cell.confidence || "" }),
  ]);
}

export function renderTable(table, rows, cols) {
  const head = el("thead", {}, [el("tr", {}, HEADINGS.map((text) => el("th", { scope: "col", text })))]);
  const body = el("tbody");
  rows.forEach((row) => {
    cols.forEach((col) => {
      const cell = cellOf(row.id, col.id);
      if (cell) {
        body.append(tableRow(row, col, cell));
      }
    });
  });
  const caption = el("caption", { text: `Cells with studies, for the rows and columns shown above (${body.children.length} cells)` });
  table.replaceChildren(caption, head, body);
}
