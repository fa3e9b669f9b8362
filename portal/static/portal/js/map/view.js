// The map's view settings in the page's URL, beside the filters, so that a shared link or the
// back button shows the same view. Each setting has a short query parameter, documented in
// portal/views.py (VIEW_PARAMETERS) and the README; the server's filters ignore them. A setting
// at its default is left out of the URL.
import { state } from "./state.js";

export const PARAMS = {
  view: "view", colour: "colour", shade: "shade", seg: "seg", foldRows: "fold_i", foldCols: "fold_o", changes: "changes",
};
const NAMES = new Set(Object.values(PARAMS));
const CHOICES = { view: ["bubbles", "heat"], colour: ["effect", "confidence"], shade: ["studies", "g"] };

// A query string split into the filters' part and the view's (URLSearchParams).
export function splitQuery(query) {
  const filters = new URLSearchParams();
  const view = new URLSearchParams();
  new URLSearchParams(query).forEach((value, key) => (NAMES.has(key) ? view : filters).append(key, value));
  return { filters: filters.toString(), view };
}

function choice(params, name) {
  const value = params.get(PARAMS[name]);
  return CHOICES[name].includes(value) ? value : CHOICES[name][0];
}

function ids(text) {
  return (text || "").split(",").map(Number).filter((n) => Number.isInteger(n) && n > 0);
}

function refill(set, values) {
  set.clear();
  values.forEach((value) => set.add(value));
}

// Sets the state from the view's parameters; `segmentDefault` is what the map segments by
// when the URL names nothing ("design" or the map's code set's slug).
export function readView(params, segmentDefault) {
  state.view = choice(params, "view");
  state.colour = choice(params, "colour");
  state.shade = choice(params, "shade");
  const seg = params.get(PARAMS.seg);
  state.segments = seg !== null;
  state.segmentBy = seg || segmentDefault;
  refill(state.collapsedRows, ids(params.get(PARAMS.foldRows)));
  refill(state.collapsedCols, ids(params.get(PARAMS.foldCols)));
}

function sorted(set) {
  return Array.from(set).sort((a, b) => a - b).join(",");
}

// The view's part of the URL for the current state ("" when every setting is at its default).
export function viewQuery() {
  const parts = [];
  if (state.view !== CHOICES.view[0]) {
    parts.push(`${PARAMS.view}=${state.view}`);
  }
  if (state.colour !== CHOICES.colour[0]) {
    parts.push(`${PARAMS.colour}=${state.colour}`);
  }
  if (state.shade !== CHOICES.shade[0]) {
    parts.push(`${PARAMS.shade}=${state.shade}`);
  }
  if (state.segments) {
    parts.push(`${PARAMS.seg}=${encodeURIComponent(state.segmentBy)}`);
  }
  if (state.collapsedRows.size) {
    parts.push(`${PARAMS.foldRows}=${sorted(state.collapsedRows)}`);
  }
  if (state.collapsedCols.size) {
    parts.push(`${PARAMS.foldCols}=${sorted(state.collapsedCols)}`);
  }
  // The highlight of the cells changed since the previous release (portal/js/map_changes.js
  // keeps it in the URL): kept as it is.
  if (new URLSearchParams(window.location.search).get(PARAMS.changes) === "previous") {
    parts.push(`${PARAMS.changes}=previous`);
  }
  return parts.join("&");
}

// The page's URL: the filtered map's (`page`, from data.json) with the view's settings.
export function withView(page) {
  const view = viewQuery();
  if (!view) {
    return page;
  }
  return page + (page.includes("?") ? "&" : "?") + view;
}

// data.json's query for the filters' query: with the segmenting code set when it is not the
// map's default (each set's counts come in their own document, cached on the server).
export function dataQuery(filters, segmentDefault) {
  if (!state.segments || state.segmentBy === segmentDefault) {
    return filters;
  }
  const seg = `${PARAMS.seg}=${encodeURIComponent(state.segmentBy)}`;
  return filters ? `${filters}&${seg}` : seg;
}
