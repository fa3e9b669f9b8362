// The tooltip beside a grid cell, shown on hover and on keyboard focus; placed through the CSSOM
// (element.style), which the Content-Security-Policy does not restrict.
import { el } from "./dom.js";
import { state, cellOf } from "./state.js";
import { describe } from "./cells.js";

export function showTooltip(tooltip, td) {
  const row = state.rows[Number(td.dataset.r)];
  const col = state.cols[Number(td.dataset.c)];
  if (!row || !col) {
    return;
  }
  const lines = describe(cellOf(row.id, col.id), row, col, state.data, state.designIndex, state.segmentList);
  tooltip.replaceChildren(el("strong", { text: lines[0] }), ...lines.slice(1).map((line) => el("span", { text: line })));
  tooltip.hidden = false;
  const box = td.getBoundingClientRect();
  const width = tooltip.offsetWidth;
  const left = Math.min(window.scrollX + box.right + 6, window.scrollX + document.documentElement.clientWidth - width - 8);
  tooltip.style.left = `${Math.max(window.scrollX + 4, left)}px`;
  tooltip.style.top = `${window.scrollY + box.top}px`;
}

export function hideTooltip(tooltip) {
  tooltip.hidden = true;
}

export function wireTooltip(grid, tooltip) {
  grid.addEventListener("mouseover", (event) => {
    const td = event.target.closest("td.cell");
    if (td) {
      showTooltip(tooltip, td);
    }
  });
  grid.addEventListener("mouseleave", () => hideTooltip(tooltip));
  grid.addEventListener("focusin", (event) => {
    const td = event.target.closest("td.cell");
    if (td) {
      showTooltip(tooltip, td);
    }
  });
  grid.addEventListener("focusout", () => hideTooltip(tooltip));
}
