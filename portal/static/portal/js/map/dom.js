// Small DOM helpers: HTML and SVG elements from attribute objects, numbers and plurals as text.

export const SVG_NS = "http://www.w3.org/2000/svg";

export function setAttrs(node, attrs) {
  Object.entries(attrs || {}).forEach(([key, value]) => {
    if (value === null || value === undefined || value === false) {
      return;
    }
    if (key === "text") {
      node.textContent = value;
    } else if (key === "className") {
      node.setAttribute("class", value);
    } else {
      node.setAttribute(key, value === true ? "" : String(value));
    }
  });
}

export function append(node, children) {
  (children || []).forEach((child) => {
    if (child === null || child === undefined) {
      return;
    }
    node.append(typeof child === "string" ? document.createTextNode(child) : child);
  });
}

export function el(tag, attrs, children) {
  const node = document.createElement(tag);
  setAttrs(node, attrs);
  append(node, children);
  return node;
}

export function svgEl(tag, attrs, children) {
  const node = document.createElementNS(SVG_NS, tag);
  setAttrs(node, attrs);
  append(node, children);
  return node;
}

export function fmt(value, digits) {
  return value === null || value === undefined ? gettext("n/a") : Number(value).toFixed(digits === undefined ? 3 : digits);
}

// A translated message with its named %(name)s parameters filled in. The messages come from the
// page's script catalogue (the JavaScriptCatalog view: gettext, ngettext and interpolate).
export function said(message, params) {
  return interpolate(message, params, true);
}

// "3 studies", "1 effect size": the counts the map speaks of, in the reader's language.
export function studies(n) {
  return said(ngettext("%(n)s study", "%(n)s studies", n), { n });
}

export function effectSizes(n) {
  return said(ngettext("%(n)s effect size", "%(n)s effect sizes", n), { n });
}
