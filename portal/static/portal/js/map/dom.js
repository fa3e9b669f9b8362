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
  return value === null || value === undefined ? "n/a" : Number(value).toFixed(digits === undefined ? 3 : digits);
}

export function plural(n, one, many) {
  return `${n} ${n === 1 ? one : many}`;
}
