// The legend: bubble sizes, the colour key (effect or confidence), the segments and the gap mark;
// in the heat map, the shades (by number of studies or by pooled g) and the gap mark.
import { el, said, studies, svgEl } from "./dom.js";
import { BANDS } from "./cells.js";
import { state } from "./state.js";
import { PALETTE, bandIndex, radius, segmentColour, squareSwatch, studyBands, swatch } from "./bubbles.js";
import { cellSegments, segmentTitle } from "./segments.js";

// The sizes shown in the key: 1, half the largest and the largest, without repeats.
export function legendSizes(largest) {
  return [...new Set([1, Math.round(largest / 2), largest])].filter((n) => n >= 1);
}

// [label, fill] pairs for the colour key.
export function legendColours(colour, bands) {
  if (colour === "confidence") {
    return [
      [gettext("High confidence (High)"), PALETTE.confidence.high],
      [gettext("Medium confidence (Med)"), PALETTE.confidence.medium],
      [gettext("Low confidence (Low)"), PALETTE.confidence.low],
      [gettext("No pooled effect, not rated (n/r)"), PALETTE.unpooled],
    ];
  }
  const list = bands || [];
  const items = [];
  list.slice().reverse().forEach((band) => {
    items.push([said(gettext("%(band)s beneficial effect (▲)"), { band: BANDS[band] || band }), PALETTE.positive[bandIndex(band, list)]]);
  });
  list.slice().reverse().forEach((band) => {
    items.push([said(gettext("%(band)s harmful effect (▼)"), { band: BANDS[band] || band }), PALETTE.negative[bandIndex(band, list)]]);
  });
  items.push([gettext("Studies but no pooled effect (no g)"), PALETTE.unpooled]);
  return items;
}

// [label, fill] pairs for the heat map's shades.
export function heatColours(shade, largest, bands) {
  if (shade === "g") {
    return legendColours("effect", bands);
  }
  return studyBands(largest).map(([low, high, fill]) => [low === high ? studies(low) : said(gettext("%(low)s to %(high)s studies"), { low, high }), fill]);
}

function gapBlock() {
  return el("div", { className: "legend-block" }, [
    el("p", { className: "legend-title", text: gettext("Gap") }),
    el("span", { className: "gap-sample", text: gettext("gap") }),
    ` ${gettext("no study in this cell")}`,
  ]);
}

function renderHeatLegend(legend) {
  const title = state.shade === "g" ? gettext("Pooled effect (Hedges' g), cell shade") : gettext("Number of studies, cell shade");
  legend.replaceChildren(el("div", { className: "legend-block" }, [
    el("p", { className: "legend-title", text: title }),
    el("ul", { className: "legend-list" }, heatColours(state.shade, state.largest, state.data.bands)
      .map(([label, fill]) => el("li", {}, [squareSwatch(fill), ` ${label}`]))),
  ]), gapBlock());
}

export function renderLegend(legend) {
  if (state.view === "heat") {
    renderHeatLegend(legend);
    return;
  }
  const data = state.data;
  const largest = state.largest;
  const sizes = legendSizes(largest);
  const sizeSvg = svgEl("svg", { width: sizes.length * 52, height: 48, "aria-hidden": "true", focusable: "false" });
  sizes.forEach((n, index) => {
    const cx = 26 + index * 52;
    sizeSvg.append(svgEl("circle", { cx, cy: 22, r: radius(n, largest), fill: "#ffffff", stroke: PALETTE.stroke, "stroke-width": 1 }));
    sizeSvg.append(svgEl("text", { x: cx, y: 46, "text-anchor": "middle", "font-size": 11, text: String(n) }));
  });
  const sizeBlock = el("div", { className: "legend-block" }, [
    el("p", { className: "legend-title", text: gettext("Number of studies (bubble area)") }),
    sizeSvg,
    el("span", { className: "visually-hidden", text: said(gettext("Bubbles are scaled by area from 1 to %(n)s studies."), { n: largest }) }),
  ]);
  const colourBlock = el("div", { className: "legend-block" }, [
    el("p", { className: "legend-title", text: state.colour === "confidence" ? gettext("Cell confidence") : gettext("Pooled effect (Hedges' g)") }),
    el("ul", { className: "legend-list" }, legendColours(state.colour, data.bands).map(([label, fill]) => el("li", {}, [swatch(fill), ` ${label}`]))),
  ]);
  const blocks = [sizeBlock, colourBlock];
  if (state.segments) {
    const used = new Set(data.cells.flatMap((c) => cellSegments(c, data, state.designIndex).map(([index]) => index)));
    blocks.push(el("div", { className: "legend-block" }, [
      el("p", { className: "legend-title", text: said(gettext("%(title)s (segments; ring shows the colour above)"), { title: segmentTitle(data) }) }),
      el("ul", { className: "legend-list" }, state.segmentList
        .map((segment, index) => [segment, index])
        .filter(([, index]) => used.has(index))
        .map(([segment, index]) => el("li", {}, [swatch(segmentColour(index)), ` ${segment.label}`]))),
    ]));
  }
  blocks.push(gapBlock());
  legend.replaceChildren(...blocks);
}
