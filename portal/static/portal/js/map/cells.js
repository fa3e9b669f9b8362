// What a cell says in words: the short code beside its bubble and its full description
// (the grid's aria-label and the tooltip).
import { effectSizes, fmt, said, studies } from "./dom.js";
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
    return cell.confidence ? CONFIDENCE_CODES[cell.confidence] : gettext("n/r");
  }
  if (cell.g === null || cell.g === undefined) {
    return gettext("no g");
  }
  const band = BANDS[cell.band] || cell.band || "";
  if (cell.direction === "positive") {
    return `▲ ${band}`;
  }
  if (cell.direction === "negative") {
    return `▼ ${band}`;
  }
  return `● ${gettext("none")}`;
}

// The short codes beside a bubble: the confidence levels, and the size bands of every preset.
const CONFIDENCE_CODES = { high: gettext("High"), medium: gettext("Med"), low: gettext("Low") };
export const BANDS = {
  Negligible: gettext("Negligible"),
  "Very small": gettext("Very small"),
  Small: gettext("Small"),
  Moderate: gettext("Moderate"),
  Medium: gettext("Medium"),
  Large: gettext("Large"),
};
const CONFIDENCE_NAMES = {
  high: gettext("High confidence"), medium: gettext("Medium confidence"), low: gettext("Low confidence"),
};

// Lines of text: where the cell is, then its studies, pooled effect, confidence, designs and,
// with a segmenting code set, its segments. `data` is data.json, `designIndex` and `segments`
// come from state (state.js).
export function describe(cell, row, col, data, designIndex, segments) {
  const where = `${row.name} × ${col.name}`;
  if (!cell) {
    return [where, gettext("No studies: an evidence gap.")];
  }
  const lines = [where, `${studies(cell.studies)}; ${effectSizes(cell.effects)}`];
  if (cell.g !== null && cell.g !== undefined) {
    lines.push(said(gettext("%(label)s (g = %(g)s, 95% CI %(low)s to %(high)s)"), {
      label: cell.label, g: fmt(cell.g), low: fmt(cell.ci[0]), high: fmt(cell.ci[1]),
    }));
    if (cell.note) {
      lines.push(cell.note); // which outcomes' effect sizes an aggregate reverses
    }
  } else {
    lines.push(gettext("No pooled effect (no effect sizes)"));
  }
  if (cell.confidence) {
    lines.push(CONFIDENCE_NAMES[cell.confidence] || cell.confidence);
  }
  const designs = Object.entries(cell.designs).map(([code, n]) => `${data.designs[code] || code} ${n}`);
  if (designs.length) {
    lines.push(said(gettext("Designs: %(designs)s"), { designs: designs.join(", ") }));
  }
  if (data.segments) {
    const text = segmentText(cell, data, designIndex, segments);
    if (text) {
      lines.push(`${segmentTitle(data)}: ${text}`);
    }
  }
  return lines;
}
