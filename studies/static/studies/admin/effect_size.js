/* The admin's effect-size forms (the effect-size page and each effect size of a study's page):
 * only the chosen input kind's boxes show, and Hedges' g, its SE and 95% CI appear as soon as
 * the boxes hold valid inputs.
 *
 * Which boxes each kind reads comes from the registry (studies/effect_sizes/registry.py), on
 * the kind's drop-down as data-input-kinds; the numbers come from the admin's compute endpoint
 * (data-compute-url), which runs the model's own validation and conversion. Without this
 * script every box shows, with a guide that names each kind's boxes, and the form works the
 * same. Boxes of other kinds are disabled while hidden, so they are not sent. */
(function () {
  "use strict";

  const DELAY_MS = 400;
  const KIND = "input_kind";

  function boxOf(input) {
    // A box of a multi-field line: its wrapper holds the errors, the label, the input, the help.
    const box = input.closest(".fieldBox");
    return box ? box.parentElement : input.closest(".form-row");
  }

  function labelText(scope, input) {
    const label = scope.querySelector(`label[for="${input.id}"]`);
    return label ? label.textContent.replace(/:\s*$/, "").trim() : input.name;
  }

  function markOptional(label, optional) {
    if (!label) {
      return;
    }
    if (label.dataset.esText === undefined) {
      label.dataset.esText = label.textContent;
    }
    const text = label.dataset.esText;
    label.textContent = optional ? `${text.replace(/:\s*$/, "")} (optional):` : text;
  }

  function message(parent, className) {
    let element = parent.querySelector(`:scope > .${className}`);
    if (!element) {
      element = document.createElement("p");
      element.className = className;
      parent.append(element);
    }
    return element;
  }

  function setUp(select) {
    if (select.dataset.esReady || select.name.includes("__prefix__")) {
      return;
    }
    select.dataset.esReady = "1";
    const kinds = JSON.parse(select.dataset.inputKinds);
    const prefix = select.name.slice(0, select.name.length - KIND.length);
    const form = select.form;
    const scope = select.closest(".inline-related") || form;
    const names = [];
    Object.values(kinds).forEach((kind) => {
      kind.required.concat(kind.optional).forEach((name) => {
        if (!names.includes(name)) {
          names.push(name);
        }
      });
    });
    const inputs = {};
    names.forEach((name) => {
      const input = form.elements.namedItem(prefix + name);
      if (input) {
        inputs[name] = input;
      }
    });
    const inputSet = scope.querySelector(".es-inputs");
    const computedSet = scope.querySelector(".es-computed");
    const hint = inputSet ? message(inputSet, "es-hint") : null;
    const status = computedSet ? message(computedSet, "es-live") : null;
    if (status) {
      status.setAttribute("role", "status");
    }
    const shown = {};
    if (computedSet) {
      computedSet.querySelectorAll(".fieldBox .readonly").forEach((cell) => {
        shown[cell.closest(".fieldBox").className] = cell.textContent;
      });
    }
    let timer = null;
    let controller = null;

    function chosen() {
      return kinds[select.value] || null;
    }

    function showBoxes() {
      const kind = chosen();
      Object.entries(inputs).forEach(([name, input]) => {
        const on = kind !== null && (kind.required.includes(name) || kind.optional.includes(name));
        const box = boxOf(input);
        box.classList.toggle("es-off", !on);
        markOptional(scope.querySelector(`label[for="${input.id}"]`), on && kind.optional.includes(name));
        input.disabled = !on;
      });
      if (hint) {
        hint.textContent = kind === null ? "Choose the input kind (what the study reports) to see the boxes it needs." : "";
        hint.hidden = kind !== null;
      }
    }

    function readonlyCell(name) {
      return computedSet ? computedSet.querySelector(`.fieldBox.field-${name} .readonly`) : null;
    }

    function showNumbers(display) {
      Object.entries(display).forEach(([name, text]) => {
        const cell = readonlyCell(name);
        if (cell) {
          cell.textContent = text;
        }
      });
    }

    function restoreNumbers() {
      if (!computedSet) {
        return;
      }
      computedSet.querySelectorAll(".fieldBox .readonly").forEach((cell) => {
        const key = cell.closest(".fieldBox").className;
        if (key in shown) {
          cell.textContent = shown[key];
        }
      });
    }

    function say(text, invalid) {
      if (status) {
        status.textContent = text;
        status.classList.toggle("es-live-errors", Boolean(invalid));
      }
    }

    function markInvalid(fields) {
      Object.entries(inputs).forEach(([name, input]) => {
        if (fields.includes(name)) {
          input.setAttribute("aria-invalid", "true");
        } else {
          input.removeAttribute("aria-invalid");
        }
      });
    }

    function mapOf() {
      const study = form.elements.namedItem("study");
      if (study && study.value) {
        return ["study", study.value];
      }
      const evidenceMap = form.elements.namedItem("evidence_map");
      if (evidenceMap && evidenceMap.value) {
        return ["evidence_map", evidenceMap.value];
      }
      return null;
    }

    function explain(errors) {
      const needed = [];
      const wrong = [];
      const fields = [];
      Object.entries(errors).forEach(([name, texts]) => {
        const input = inputs[name];
        if (input && input.value.trim() === "") {
          needed.push(labelText(scope, input));
        } else {
          const what = input ? labelText(scope, input) : name === KIND ? "Input kind" : "";
          texts.forEach((text) => wrong.push(what ? `${what}: ${text}` : text));
          if (input) {
            fields.push(name);
          }
        }
      });
      markInvalid(fields);
      if (wrong.length) {
        say(`Not computable yet. ${wrong.join(" ")}`, true);
      } else {
        say(`Hedges' g appears once these are filled: ${needed.join(", ")}.`, false);
      }
    }

    async function compute() {
      const kind = chosen();
      if (controller) {
        controller.abort();
        controller = null;
      }
      const filled = kind ? kind.required.concat(kind.optional).filter((name) => inputs[name] && inputs[name].value.trim() !== "") : [];
      if (!kind || filled.length === 0) {
        restoreNumbers();
        markInvalid([]);
        say("", false);
        return;
      }
      const where = mapOf();
      if (!where) {
        say("Choose the study (or its map) to see Hedges' g computed as you type.", false);
        return;
      }
      const body = new FormData();
      body.append(where[0], where[1]);
      body.append(KIND, select.value);
      filled.forEach((name) => body.append(name, inputs[name].value));
      const token = form.elements.namedItem("csrfmiddlewaretoken");
      controller = new AbortController();
      let answer;
      try {
        const response = await fetch(select.dataset.computeUrl, {
          method: "POST",
          body,
          credentials: "same-origin",
          headers: { "X-CSRFToken": token ? token.value : "", Accept: "application/json" },
          signal: controller.signal,
        });
        answer = await response.json();
        if (!response.ok) {
          say(`Hedges' g cannot be computed here: ${answer.detail || Object.values(answer.errors || {}).flat().join(" ")}`, true);
          return;
        }
      } catch (error) {
        if (error.name !== "AbortError") {
          say("Hedges' g cannot be computed right now; it will be on save.", true);
        }
        return;
      }
      if (answer.valid) {
        markInvalid([]);
        showNumbers(answer.display);
        say(`Computed from the inputs above: g = ${answer.display.g_display}, SE ${answer.display.se_g_display}, 95% CI ${answer.display.ci_display} (saved when you save).`, false);
      } else {
        restoreNumbers();
        explain(answer.errors);
      }
    }

    function schedule() {
      window.clearTimeout(timer);
      timer = window.setTimeout(compute, DELAY_MS);
    }

    select.addEventListener("change", () => {
      showBoxes();
      schedule();
    });
    Object.values(inputs).forEach((input) => {
      input.addEventListener("input", schedule);
      input.addEventListener("change", schedule);
    });
    // The study (or the new study's map) decides who may ask; its autocomplete box tells of a
    // change through jQuery only.
    ["study", "evidence_map"].forEach((name) => {
      const owner = form.elements.namedItem(name);
      if (owner && owner.addEventListener) {
        owner.addEventListener("change", schedule);
        if (window.django && window.django.jQuery) {
          window.django.jQuery(owner).on("change", schedule);
        }
      }
    });
    showBoxes();
    // Boxes that the server marked wrong stay in view whatever the kind, to be corrected.
    Object.values(inputs).forEach((input) => {
      const box = boxOf(input);
      if (box.querySelector(".errorlist")) {
        box.classList.remove("es-off");
        input.disabled = false;
      }
    });
  }

  function setUpWithin(root) {
    root.querySelectorAll("select[data-input-kinds]").forEach(setUp);
  }

  document.addEventListener("formset:added", (event) => setUpWithin(event.target));
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", () => setUpWithin(document));
  } else {
    setUpWithin(document);
  }
})();
