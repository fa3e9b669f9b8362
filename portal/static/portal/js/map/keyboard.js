// Keyboard use of the grid: one cell in the tab order (a roving tabindex), arrow keys, Home and
// End move between cells, Enter or Space (or a click on the cell) opens it, Escape hides the tooltip.
import { state, cellHref } from "./state.js";

// The cell [r, c] a key moves to from (r, c), or null for a key that does not move.
export function moveFor(key, r, c, colCount) {
  const moves = {
    ArrowUp: [r - 1, c], ArrowDown: [r + 1, c], ArrowLeft: [r, c - 1], ArrowRight: [r, c + 1],
    Home: [r, 0], End: [r, colCount - 1],
  };
  return moves[key] || null;
}

export function clamp(value, count) {
  return Math.max(0, Math.min(count - 1, value));
}

export function focusCell(grid, r, c) {
  const rows = state.rows.length;
  const cols = state.cols.length;
  if (!rows || !cols) {
    return;
  }
  const target = grid.querySelector(`td.cell[data-r="${clamp(r, rows)}"][data-c="${clamp(c, cols)}"]`);
  if (target) {
    target.focus();
  }
}

// A page framed by another site (the embed page) names where links open with <base target>:
// a cell opens there too, not inside the frame.
function openCell(td) {
  const href = cellHref(td.dataset.intervention, td.dataset.outcome);
  const base = document.querySelector("base[target]");
  if (base) {
    window.open(href, base.getAttribute("target"), "noopener");
  } else {
    window.location.assign(href);
  }
}

export function wireKeyboard(grid, onEscape) {
  grid.addEventListener("focusin", (event) => {
    const td = event.target.closest("td.cell");
    if (td) {
      state.focus = { r: Number(td.dataset.r), c: Number(td.dataset.c) };
      grid.querySelectorAll("td.cell[tabindex='0']").forEach((other) => other.setAttribute("tabindex", "-1"));
      td.setAttribute("tabindex", "0");
    }
  });
  grid.addEventListener("keydown", (event) => {
    const td = event.target.closest("td.cell");
    if (!td) {
      return;
    }
    const move = moveFor(event.key, Number(td.dataset.r), Number(td.dataset.c), state.cols.length);
    if (move) {
      event.preventDefault();
      focusCell(grid, ...move);
    } else if (event.key === "Enter" || event.key === " ") {
      event.preventDefault();
      openCell(td);
    } else if (event.key === "Escape") {
      onEscape();
    }
  });
  grid.addEventListener("click", (event) => {
    const td = event.target.closest("td.cell");
    if (td && !event.target.closest("a")) {
      openCell(td);
    }
  });
}
