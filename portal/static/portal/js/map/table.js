// The table view: one row per shown cell with studies, with its counts, pooled g, CI and confidence.
import { el, fmt, said } from "./dom.js";

const CONFIDENCE = { high: gettext("high"), medium: gettext("medium"), low: gettext("low") };
import { cellHref, cellOf } from "./state.js";

const HEADINGS = [
  gettext("Intervention"), gettext("Outcome"), gettext("Studies"), gettext("Effect sizes"), gettext("Pooled g"),
  gettext("95% CI low"), gettext("95% CI high"), gettext("Effect"), gettext("Confidence"),
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
    el("td", { text: pooled ? cell.label : gettext("No pooled effect") }),
    el("td", { text: cell.confidence ? CONFIDENCE[cell.confidence] || cell.confidence : "" }),
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
  const caption = el("caption", {
    text: said(gettext("Cells with studies, for the rows and columns shown above (%(n)s cells)"), { n: body.children.length }),
  });
  table.replaceChildren(caption, head, body);
}
