// What a cell says in words: the short code beside its bubble and its full description
// (the grid's aria-label and the tooltip).
import { fmt, plural } from "./dom.js";
import { segmentText, segmentTitle } from "./segments.js";

// The short code beside a cell's mark in the current view: the bubbles' colour, or the heat
// map's shade (by studies: none, the count is beside it).
export function markText(cell, view) {
  if (view.view === "heat") {
    return view.shade === "g" ? shortText(cell, "effect") : "";
  }
  return shortText(cell, view.colour);
}

export function shortText(cell, colour) {
  if (colour === "confidence") {
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

// Lines of text: where the cell is, then its studies, pooled effect, confidence, designs and,
// with a segmenting code set, its segments. `data` is data.json, `designIndex` and `segments`
// come from state (state.js).
export function describe(cell, row, col, data, designIndex, segments) {
  const where = `${row.name} × ${col.name}`;
  if (!cell) {
    return [where, "No studies: an evidence gap."];
  }
  const lines = [where, `${plural(cell.studies, "study", "studies")}; ${plural(cell.effects, "effect size", "effect sizes")}`];
  if (cell.g !== null && cell.g !== undefined) {
    lines.push(`${cell.label} (g = ${fmt(cell.g)}, 95% CI ${fmt(cell.ci[0])} to ${fmt(cell.ci[1])})`);
    if (cell.note) {
      lines.push(cell.note); // which outcomes' effect sizes an aggregate reverses
    }
  } else {
    lines.push("No pooled effect (no effect sizes)");
  }
  if (cell.confidence) {
    lines.push(`${cell.confidence.charAt(0).toUpperCase()}${cell.confidence.slice(1)} confidence`);
  }
  const designs = Object.entries(cell.designs).map(([code, n]) => `${data.designs[code] || code} ${n}`);
  if (designs.length) {
    lines.push(`Designs: ${designs.join(", ")}`);
  }
  if (data.segments) {
    const text = segmentText(cell, data, designIndex, segments);
    if (text) {
      lines.push(`${segmentTitle(data)}: ${text}`);
    }
  }
  return lines;
}
