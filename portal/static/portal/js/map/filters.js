// The filters and the URL: form <-> query string, loading data.json for a query and the page's
// history (pushState/replaceState); the view's own settings are in view.js.
import { el } from "./dom.js";
import { state, setData } from "./state.js";
import { splitQuery } from "./view.js";

// The filters' part of the page's query string, without the "?".
export function currentQuery() {
  return splitQuery(window.location.search.replace(/^\?/, "")).filters;
}

export function formQuery(form) {
  const params = new URLSearchParams();
  new FormData(form).forEach((value, key) => {
    const text = String(value).trim();
    if (text) {
      params.append(key, text);
    }
  });
  return params.toString();
}

export function setForm(form, query) {
  const params = new URLSearchParams(query);
  Array.from(form.elements).forEach((field) => {
    if (!field.name) {
      return;
    }
    const values = params.getAll(field.name).flatMap((v) => v.split(","));
    if (field.type === "checkbox") {
      field.checked = values.includes(field.value);
    } else if (field.tagName === "SELECT") {
      Array.from(field.options).forEach((option) => {
        option.selected = values.includes(option.value);
      });
    } else if (field.type !== "submit" && field.type !== "button") {
      field.value = params.get(field.name) || "";
    }
  });
}

// The label the form shows for a filter (each filter's wrapper carries it as data-label).
function filterLabel(form, name) {
  const wrapper = Array.from(form.querySelectorAll("[data-filter]")).find((node) => node.dataset.filter === name);
  return wrapper ? wrapper.dataset.label : name;
}

// The message for a rejected query: the field's label, then the server's words.
export function errorText(form, body) {
  const label = body && body.field ? `${filterLabel(form, body.field)}: ` : "";
  return body && body.error ? `${label}${body.error}` : gettext("The map could not be loaded.");
}

// Wires the form to the map; returns load(query, how), where `query` is the filters' and `how`
// is "pushState", "replaceState" or null (the history is already right). `onData` draws the new
// data; `urls.data(query)` gives data.json's query for the filters' and `urls.page(page)` the
// page's URL for the filtered map's.
export function wireFilters(form, statusLine, errorBox, onData, urls) {
  const dataUrl = form.dataset.dataUrl;

  function showError(message) {
    errorBox.replaceChildren(el("p", { text: message }));
    errorBox.hidden = false;
    statusLine.textContent = gettext("The map was not updated.");
  }

  async function load(query, how) {
    const id = state.request + 1;
    state.request = id;
    const asked = urls.data(query);
    statusLine.textContent = gettext("Updating the map…");
    let response;
    let body = null;
    try {
      response = await fetch(dataUrl + (asked ? `?${asked}` : ""), { headers: { Accept: "application/json" } });
      body = await response.json();
    } catch (error) {
      if (id === state.request) {
        showError(gettext("The map could not be loaded. Please try again."));
      }
      return;
    }
    if (id !== state.request) {
      return; // a newer request has been sent
    }
    if (!response.ok) {
      showError(errorText(form, body));
      return;
    }
    errorBox.hidden = true;
    setData(body);
    state.loaded = asked;
    const page = urls.page(body.urls.page);
    if (how && page !== window.location.pathname + window.location.search) {
      window.history[how]({ query: body.query }, "", page);
    }
    document.getElementById("export-csv").setAttribute("href", body.urls.studies_csv);
    document.getElementById("export-ris").setAttribute("href", body.urls.studies_ris);
    const overviewLink = document.getElementById("overview-link");
    if (overviewLink) {
      overviewLink.search = new URL(page, window.location.href).search; // the overview keeps the filters
    }
    onData();
  }

  let typing = null;
  form.addEventListener("change", (event) => {
    if (event.target.name === "q") {
      return; // the search box updates as you type (below) and on Enter
    }
    load(formQuery(form), "pushState");
  });
  form.addEventListener("input", (event) => {
    if (event.target.name !== "q") {
      return;
    }
    window.clearTimeout(typing);
    typing = window.setTimeout(() => load(formQuery(form), "replaceState"), 450);
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    window.clearTimeout(typing);
    load(formQuery(form), "pushState");
  });
  document.getElementById("clear-filters").addEventListener("click", (event) => {
    event.preventDefault();
    setForm(form, "");
    load("", "pushState");
  });
  return load;
}
