// A cell's bubble (or its heat map square) as SVG shapes (area = number of studies, fill = effect or confidence, segments
// by the map's segmenting code set or by study design); shared by the grid, the legend and the
// exported map.
import { svgEl } from "./dom.js";
import { state } from "./state.js";
import { cellSegments } from "./segments.js";

export const BUBBLE = 44; // the bubble's box in the grid, in px
const MAX_R = 19;
const MIN_R = 3.5;

// Colours are set as SVG fill attributes so that the same values serve the page and the
// exported SVG/PNG file. Text beside each bubble carries the same meaning.
export const PALETTE = {
  positive: ["#c7e9c0", "#74c476", "#31a354", "#006d2c"],
  negative: ["#fdd0a2", "#fd8d3c", "#e6550d", "#a63603"],
  none: "#bdbdbd",
  unpooled: "#ffffff",
  confidence: { high: "#08519c", medium: "#6baed6", low: "#deebf7" },
  studies: ["#eff3ff", "#bdd7e7", "#6baed6", "#3182bd", "#08519c"], // the heat map, fewest first
  stroke: "#4a4a4a",
  segments: [
    "#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02",
    "#a6761d", "#666666", "#1f78b4", "#b2df8a", "#fb9a99",
  ],
};

export function bandIndex(band, bands) {
  const list = bands || [];
  const index = list.indexOf(band);
  // Shade from the darkest end so that the largest band is always the darkest.
  return index < 0 ? 0 : PALETTE.positive.length - list.length + index;
}

export function fillFor(cell, colour, bands) {
  if (colour === "confidence") {
    return cell.confidence ? PALETTE.confidence[cell.confidence] : PALETTE.unpooled;
  }
  if (cell.g === null || cell.g === undefined) {
    return PALETTE.unpooled;
  }
  if (cell.direction === "positive") {
    return PALETTE.positive[bandIndex(cell.band, bands)];
  }
  if (cell.direction === "negative") {
    return PALETTE.negative[bandIndex(cell.band, bands)];
  }
  return PALETTE.none;
}

// The colour of the segment with this index (segments.js).
export function segmentColour(index) {
  return PALETTE.segments[index % PALETTE.segments.length];
}

// The radius for n studies when the largest cell has `largest`: area proportional to n.
export function radius(n, largest) {
  return Math.max(MIN_R, MAX_R * Math.sqrt(n / largest));
}

export function slicePath(cx, cy, r, start, end) {
  const x1 = cx + r * Math.sin(start);
  const y1 = cy - r * Math.cos(start);
  const x2 = cx + r * Math.sin(end);
  const y2 = cy - r * Math.cos(end);
  const large = end - start > Math.PI ? 1 : 0;
  return `M${cx},${cy} L${x1.toFixed(2)},${y1.toFixed(2)} A${r},${r} 0 ${large} 1 ${x2.toFixed(2)},${y2.toFixed(2)} Z`;
}

// The bubble as SVG shapes centred on (cx, cy), drawn as the current state says.
export function bubbleShapes(cell, cx, cy) {
  const r = radius(cell.studies, state.largest);
  const fill = fillFor(cell, state.colour, state.data.bands);
  const entries = state.segments ? cellSegments(cell, state.data, state.designIndex) : [];
  if (entries.length < 2) {
    const shapes = [];
    if (entries.length === 1) {
      shapes.push(svgEl("circle", { cx, cy, r: r + 2.5, fill, stroke: PALETTE.stroke, "stroke-width": 1 }));
      shapes.push(svgEl("circle", { cx, cy, r, fill: segmentColour(entries[0][0]), stroke: "#ffffff", "stroke-width": 1 }));
      return shapes;
    }
    shapes.push(svgEl("circle", { cx, cy, r, fill, stroke: PALETTE.stroke, "stroke-width": 1 }));
    return shapes;
  }
  // Segmented: a pie inside a ring in the effect (or confidence) colour. A study coded in
  // several segments counts in each, so the slices share out the counts, not the studies.
  const shapes = [svgEl("circle", { cx, cy, r: r + 2.5, fill, stroke: PALETTE.stroke, "stroke-width": 1 })];
  const total = entries.reduce((sum, [, n]) => sum + n, 0);
  let angle = 0;
  entries.forEach(([index, n]) => {
    const end = angle + (2 * Math.PI * n) / total;
    shapes.push(svgEl("path", { d: slicePath(cx, cy, r, angle, end), fill: segmentColour(index), stroke: "#ffffff", "stroke-width": 0.75 }));
    angle = end;
  });
  return shapes;
}

// A small legend circle.
export function swatch(fill) {
  const svg = svgEl("svg", { width: 18, height: 18, viewBox: "0 0 18 18", "aria-hidden": "true", focusable: "false" });
  svg.append(svgEl("circle", { cx: 9, cy: 9, r: 7.5, fill, stroke: PALETTE.stroke, "stroke-width": 1 }));
  return svg;
}

// The heat map's bands of the number of studies: [low, high] for each shade that is used, the
// largest cell's in the darkest.
export function studyBands(largest) {
  const shades = PALETTE.studies.length;
  const bands = [];
  let low = 1;
  for (let k = 1; k <= shades && low <= largest; k += 1) {
    const high = Math.max(low, Math.round((largest * k) / shades));
    bands.push([low, high]);
    low = high + 1;
  }
  // With fewer bands than shades, the darkest ones: the largest cell is always the darkest.
  return bands.map(([from, to], index) => [from, to, PALETTE.studies[shades - bands.length + index]]);
}

// The heat map's shade of a cell: by its number of studies or by its pooled g (as the bubbles'
// effect colour).
export function heatFill(cell, shade, largest, bands) {
  if (shade === "g") {
    return fillFor(cell, "effect", bands);
  }
  const found = studyBands(largest).find(([, high]) => cell.studies <= high);
  return found ? found[2] : PALETTE.studies[PALETTE.studies.length - 1];
}

// The cell's mark as SVG shapes centred on (cx, cy): a bubble, or in the heat map a square.
export function cellShapes(cell, cx, cy) {
  if (state.view !== "heat") {
    return bubbleShapes(cell, cx, cy);
  }
  const half = MAX_R + 2;
  return [svgEl("rect", {
    x: cx - half, y: cy - half, width: 2 * half, height: 2 * half,
    fill: heatFill(cell, state.shade, state.largest, state.data.bands), stroke: PALETTE.stroke, "stroke-width": 1,
  })];
}

// A small legend square (the heat map's).
export function squareSwatch(fill) {
  const svg = svgEl("svg", { width: 18, height: 18, viewBox: "0 0 18 18", "aria-hidden": "true", focusable: "false" });
  svg.append(svgEl("rect", { x: 1.5, y: 1.5, width: 15, height: 15, fill, stroke: PALETTE.stroke, "stroke-width": 1 }));
  return svg;
}
