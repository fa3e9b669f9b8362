// Saving the map as shown: an SVG file drawn from the current rows, columns and colours, and a
// PNG rendered from that SVG at twice the size.
import { SVG_NS, append, el, said, studies, svgEl } from "./dom.js";
import { state, cellOf } from "./state.js";
import { markText } from "./cells.js";
import { cellShapes } from "./bubbles.js";

export function mapSvg() {
  const rows = state.rows;
  const cols = state.cols;
  const labelWidth = 300;
  const colWidth = 96;
  const headHeight = 150;
  const rowHeight = 54;
  const width = labelWidth + cols.length * colWidth + 20;
  const height = headHeight + rows.length * rowHeight + 60;
  const svg = svgEl("svg", {
    xmlns: SVG_NS, width, height, viewBox: `0 0 ${width} ${height}`, "font-family": "Arial, Helvetica, sans-serif",
  });
  svg.append(svgEl("rect", { x: 0, y: 0, width, height, fill: "#ffffff" }));
  svg.append(svgEl("text", { x: 10, y: 24, "font-size": 16, "font-weight": "bold", text: state.data.map.title }));
  svg.append(svgEl("text", {
    x: 10, y: 44, "font-size": 11, fill: "#555555",
    text: said(state.data.query ? gettext("%(studies)s; filters: %(filters)s. %(view)s.") : gettext("%(studies)s. %(view)s."), {
      studies: studies(state.data.totals.studies),
      filters: state.data.query ? decodeURIComponent(state.data.query.replace(/\+/g, " ")) : "",
      view: state.view === "heat" ? gettext("Heat map") : gettext("Bubble area = number of studies"),
    }),
  }));
  cols.forEach((col, c) => {
    const x = labelWidth + c * colWidth + colWidth / 2;
    svg.append(svgEl("text", {
      x, y: headHeight - 8, "font-size": 11, transform: `rotate(-35 ${x} ${headHeight - 8})`, text: col.name,
    }));
  });
  rows.forEach((row, r) => {
    const y = headHeight + r * rowHeight;
    svg.append(svgEl("line", { x1: 0, x2: width, y1: y, y2: y, stroke: "#dddddd" }));
    svg.append(svgEl("text", { x: 10 + row.depth * 12, y: y + rowHeight / 2 + 4, "font-size": 12, text: row.name }));
    cols.forEach((col, c) => {
      const cell = cellOf(row.id, col.id);
      const cx = labelWidth + c * colWidth + colWidth / 2;
      if (!cell) {
        svg.append(svgEl("text", { x: cx, y: y + rowHeight / 2 + 4, "font-size": 10, fill: "#999999", "text-anchor": "middle", text: "gap" }));
        return;
      }
      append(svg, cellShapes(cell, cx - 14, y + rowHeight / 2));
      svg.append(svgEl("text", { x: cx + 8, y: y + rowHeight / 2, "font-size": 11, "font-weight": "bold", text: String(cell.studies) }));
      svg.append(svgEl("text", { x: cx + 8, y: y + rowHeight / 2 + 13, "font-size": 9, text: markText(cell, state) }));
    });
  });
  return svg;
}

export function download(blob, name) {
  const url = URL.createObjectURL(blob);
  const link = el("a", { href: url, download: name, className: "visually-hidden" });
  document.body.append(link);
  link.click();
  link.remove();
  window.setTimeout(() => URL.revokeObjectURL(url), 1000);
}

function svgBlob(svg) {
  const text = new XMLSerializer().serializeToString(svg);
  return new Blob([`<?xml version="1.0" encoding="UTF-8"?>\n${text}`], { type: "image/svg+xml" });
}

export function wireMapDownloads(svgButton, pngButton) {
  svgButton.addEventListener("click", () => {
    download(svgBlob(mapSvg()), `${state.data.map.slug}-map.svg`);
  });
  pngButton.addEventListener("click", () => {
    const svg = mapSvg(); // drawn once: its size sets the canvas, its text is the image
    const url = URL.createObjectURL(svgBlob(svg));
    const image = new Image();
    image.addEventListener("load", () => {
      const scale = 2;
      const canvas = el("canvas", { width: svg.getAttribute("width") * scale, height: svg.getAttribute("height") * scale });
      const context = canvas.getContext("2d");
      context.scale(scale, scale);
      context.drawImage(image, 0, 0);
      URL.revokeObjectURL(url);
      canvas.toBlob((blob) => download(blob, `${state.data.map.slug}-map.png`), "image/png");
    });
    image.src = url;
  });
}
