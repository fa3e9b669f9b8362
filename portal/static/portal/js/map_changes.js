// The map's highlight of the cells that changed since the previous release: outlines them in
// the grid, adds the change to each cell's accessible name, and lists them as text. It only
// watches the grid that map.js draws (redrawn on every filter, fold or colour change), so the
// map script itself knows nothing of it.

const root = document.getElementById("map-changes");
const grid = document.getElementById("map-grid");
const toggle = document.getElementById("show-changes");
const detail = document.getElementById("changes-detail");
const list = document.getElementById("changes-list");
const summaryText = document.getElementById("changes-summary");
let changes = null;

function describe(change) {
  const [before, after] = change.label;
  const studies = interpolate(gettext("studies %(before)s → %(after)s"), { before: change.studies[0], after: change.studies[1] }, true);
  const effects = interpolate(gettext("effect sizes %(before)s → %(after)s"), { before: change.effects[0], after: change.effects[1] }, true);
  return `${before} → ${after} (${studies}, ${effects})`;
}

function mark() {
  grid.querySelectorAll("td.cell-changed").forEach((td) => td.classList.remove("cell-changed"));
  if (!toggle.checked || !changes) {
    return;
  }
  changes.cells.forEach((change) => {
    const td = grid.querySelector(`td[data-intervention="${change.i}"][data-outcome="${change.o}"]`);
    if (!td) {
      return; // folded away or filtered out
    }
    td.classList.add("cell-changed");
    if (!td.dataset.changeNoted) {
      td.dataset.changeNoted = "1";
      td.setAttribute("aria-label", `${td.getAttribute("aria-label")}. ${interpolate(gettext("Changed since release %(since)s: %(change)s"), { since: changes.since, change: describe(change) }, true)}`);
    }
  });
}

function showList() {
  list.replaceChildren();
  const n = changes.cells.length;
  if (changes.since === null) {
    summaryText.textContent = gettext("There is no earlier release to compare with.");
  } else {
    const what = changes.release === null ? gettext("the working copy") : interpolate(gettext("release %(n)s"), { n: changes.release }, true);
    summaryText.textContent = interpolate(ngettext("%(n)s cell changed from release %(since)s to %(what)s (outlined in the map):", "%(n)s cells changed from release %(since)s to %(what)s (outlined in the map):", n), { n, since: changes.since, what }, true);
  }
  changes.cells.forEach((change) => {
    const item = document.createElement("li");
    const name = `${change.intervention} × ${change.outcome}`;
    if (change.url) {
      const link = document.createElement("a");
      link.href = change.url;
      link.textContent = name;
      item.append(link);
    } else {
      item.append(name);
    }
    item.append(`: ${describe(change)}`);
    list.append(item);
  });
  detail.hidden = false;
}

function rememberInUrl() {
  const url = new URL(window.location.href);
  if (toggle.checked) {
    url.searchParams.set("changes", "previous");
  } else {
    url.searchParams.delete("changes");
  }
  window.history.replaceState(window.history.state, "", url);
}

async function update() {
  rememberInUrl();
  if (!toggle.checked) {
    detail.hidden = true;
    mark();
    return;
  }
  if (!changes) {
    const response = await fetch(root.dataset.changesUrl, { headers: { Accept: "application/json" } });
    if (!response.ok) {
      summaryText.textContent = gettext("The changes could not be loaded.");
      detail.hidden = false;
      return;
    }
    changes = await response.json();
  }
  showList();
  mark();
}

if (root && grid && toggle) {
  new MutationObserver(mark).observe(grid, { childList: true });
  toggle.addEventListener("change", update);
  if (toggle.checked) {
    update();
  }
}
