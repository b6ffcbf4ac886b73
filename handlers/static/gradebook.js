// The grade book: sort by any column, filter (search, below 60, absent twice in a row), expand a row to that
// student's answers. Text from the server is set with textContent, never parsed as HTML.
"use strict";
(function () {
  const grades = document.querySelector("#grades tbody");
  const grid = document.querySelector("#grid tbody");
  if (!grades) return;
  const rows = Array.from(grades.querySelectorAll("tr[data-uid]"));
  const gridRows = new Map(Array.from(grid.querySelectorAll("tr[data-uid]")).map((tr) => [tr.dataset.uid, tr]));
  const collator = new Intl.Collator(document.documentElement.lang, { numeric: true });
  let filter = "all";

  function value(tr, index, text) {
    const v = tr.children[index].dataset.v;
    return text ? v : parseFloat(v);
  }

  function closeDetails() {
    grades.querySelectorAll("tr.detail").forEach((tr) => tr.remove());
    grades.querySelectorAll("button.who[aria-expanded=true]").forEach((b) => b.setAttribute("aria-expanded", "false"));
  }

  document.querySelectorAll("#grades thead th").forEach((th, index) => {
    th.querySelector("button").addEventListener("click", () => {
      const text = th.dataset.type === "text";
      const ascending = th.getAttribute("aria-sort") !== "ascending";
      document.querySelectorAll("#grades thead th").forEach((other) => other.removeAttribute("aria-sort"));
      th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
      closeDetails();
      rows.sort((a, b) => {
        const x = value(a, index, text), y = value(b, index, text);
        const order = text ? collator.compare(x, y) : x - y;
        return ascending ? order : -order;
      });
      rows.forEach((tr) => {
        grades.appendChild(tr);
        grid.appendChild(gridRows.get(tr.dataset.uid));
      });
    });
  });

  const search = document.getElementById("q");
  const shown = document.getElementById("shown");
  function apply() {
    const words = search.value.trim().toLowerCase();
    let n = 0;
    closeDetails();
    rows.forEach((tr) => {
      const text = (tr.children[0].textContent + " " + tr.children[1].textContent).toLowerCase();
      const keep = (!words || text.includes(words))
        && (filter !== "below" || tr.dataset.below === "1")
        && (filter !== "streak" || parseInt(tr.dataset.streak, 10) >= 2);
      tr.hidden = !keep;
      gridRows.get(tr.dataset.uid).hidden = !keep;
      n += keep ? 1 : 0;
    });
    shown.textContent = document.body.dataset.shown.replace("{n}", n).replace("{total}", rows.length);
  }
  search.addEventListener("input", apply);
  document.querySelectorAll("[data-filter]").forEach((button) => {
    button.addEventListener("click", () => {
      filter = button.dataset.filter;
      document.querySelectorAll("[data-filter]").forEach((b) => b.setAttribute("aria-pressed", String(b === button)));
      apply();
    });
  });
  document.getElementById("print").addEventListener("click", () => window.print());

  grades.addEventListener("click", async (event) => {
    const button = event.target.closest("button.who");
    if (!button) return;
    const tr = button.closest("tr");
    const open = tr.nextElementSibling && tr.nextElementSibling.classList.contains("detail");
    if (open) {
      tr.nextElementSibling.remove();
      button.setAttribute("aria-expanded", "false");
      return;
    }
    const detail = document.createElement("tr");
    detail.className = "detail";
    const cell = document.createElement("td");
    cell.colSpan = tr.children.length;
    cell.textContent = document.body.dataset.loading;
    detail.appendChild(cell);
    tr.after(detail);
    button.setAttribute("aria-expanded", "true");
    const response = await fetch(location.pathname + "/student/" + tr.dataset.uid, { credentials: "omit" });
    if (!response.ok) { cell.textContent = response.status === 404 ? "404" : String(response.status); return; }
    const table = document.createElement("table");
    for (const item of await response.json()) {
      const line = table.insertRow();
      for (const text of [item.lesson, item.kind, item.question, item.answer]) line.insertCell().textContent = text;
      const mark = line.insertCell();
      if (item.right !== null) { mark.textContent = item.right ? "✓" : "✗"; mark.className = item.right ? "right" : "wrong"; }
    }
    cell.textContent = "";
    cell.appendChild(table);
  });
  apply();
})();
