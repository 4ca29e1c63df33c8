// strata dashboard: the live rule editor, member search and paging, the
// flows' band lists, keyboard moves in the sidebar, and the token form. Plain browser JavaScript, no dependencies, same-origin only.
"use strict";

(function () {
  function el(tag, attrs, text) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, value);
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function money(value) {
    if (value >= 1e6) return "$" + (value / 1e6).toFixed(2) + "M";
    if (value >= 1e3) return "$" + (value / 1e3).toFixed(0) + "k";
    return "$" + value.toFixed(0);
  }

  function percent(value) {
    return value === null || value === undefined ? "–" : (value * 100).toFixed(1) + "%";
  }

  // Rule editor: preview the rule 250 ms after the last keystroke; a newer
  // answer always replaces an older one, never the other way round.
  const rule = document.getElementById("rule");
  const preview = document.getElementById("preview");
  if (rule && preview) {
    let timer = null;
    let latest = 0;
    const show = (nodes) => preview.replaceChildren(...nodes);
    const run = async () => {
      const text = rule.value.trim();
      const ticket = ++latest;
      if (!text) {
        show([el("p", { class: "muted" }, "The preview appears as you type.")]);
        return;
      }
      let response, body;
      try {
        response = await fetch("/v1/rules/preview", {
          method: "POST",
          headers: { "Content-Type": "application/json" },
          body: JSON.stringify({ rule: text }),
        });
        body = await response.json();
      } catch (error) {
        if (ticket === latest) show([el("p", { class: "error" }, "The server did not answer: " + error)]);
        return;
      }
      if (ticket !== latest) return;
      if (!response.ok) {
        const error = body.error || {};
        const nodes = [el("p", { class: "error", id: "preview-error" }, error.message || "error")];
        if (error.position) {
          nodes.push(el("pre", { id: "preview-position" }, error.position.snippet +
            "\nline " + error.position.line + ", column " + error.position.column));
        }
        if (error.help) nodes.push(el("p", { class: "muted" }, error.help));
        show(nodes);
        return;
      }
      const figure = el("p", {}, "");
      figure.append(el("span", { class: "figure", id: "preview-count" }, String(body.accounts)),
        " accounts (" + percent(body.share_of_accounts) + " of all)");
      const table = el("table", { id: "preview-economics" });
      for (const [label, value] of [
        ["ARR", money(body.arr)], ["% ARR", percent(body.share_of_arr)], ["NRR", percent(body.nrr)],
        ["GRR", percent(body.grr)], ["logo churn", percent(body.logo_churn)],
        ["NPS", body.nps === null ? "–" : body.nps.toFixed(0) + " (n=" + body.nps_answers + ")"],
      ]) {
        const row = el("tr");
        row.append(el("th", {}, label), el("td", {}, value));
        table.append(row);
      }
      const nodes = [figure, table];
      if (body.sample.length) nodes.push(el("p", { class: "muted" }, "e.g. " + body.sample.join(", ")));
      show(nodes);
    };
    rule.addEventListener("input", () => {
      clearTimeout(timer);
      timer = setTimeout(run, 250);
    });
  }

  // Segment page: members, 50 at a time, searchable by account id.
  const members = document.getElementById("members");
  if (members) {
    const api = members.dataset.api;
    const search = document.getElementById("member-search");
    const range = document.getElementById("members-range");
    const prev = document.getElementById("members-prev");
    const next = document.getElementById("members-next");
    const pageSize = 50;
    let offset = 0;
    let total = 0;
    const load = async () => {
      const params = new URLSearchParams({ limit: String(pageSize), offset: String(offset) });
      if (search.value.trim()) params.set("q", search.value.trim());
      const response = await fetch(api + "?" + params.toString());
      const body = await response.json();
      const rows = members.querySelector("tbody");
      if (!response.ok) {
        rows.replaceChildren(el("tr", {}, ""));
        range.textContent = (body.error && body.error.message) || "error";
        return;
      }
      total = body.total;
      rows.replaceChildren(...body.members.map((m) => {
        const row = el("tr");
        for (const value of [m.account_id, money(m.arr), m.plan, m.industry, m.employees, m.owner]) {
          row.append(el("td", {}, value === null || value === undefined ? "–" : String(value)));
        }
        return row;
      }));
      range.textContent = total === 0 ? "no members" :
        (offset + 1) + "–" + (offset + body.members.length) + " of " + total;
      prev.disabled = offset === 0;
      next.disabled = body.next_offset === null;
    };
    let timer = null;
    search.addEventListener("input", () => {
      clearTimeout(timer);
      timer = setTimeout(() => { offset = 0; load(); }, 250);
    });
    prev.addEventListener("click", () => { offset = Math.max(0, offset - pageSize); load(); });
    next.addEventListener("click", () => { offset += pageSize; load(); });
    load();
  }

  // Flows: a band of the Sankey opens the list of its accounts below it,
  // on a click or on Enter/Space once focused with Tab.
  for (const band of document.querySelectorAll("svg.sankey path.flow")) {
    const list = Array.from(document.querySelectorAll("details.band-list")).find(
      (d) => d.dataset.from === band.dataset.from && d.dataset.to === band.dataset.to);
    if (!list) continue;
    band.setAttribute("tabindex", "0");
    band.setAttribute("role", "button");
    band.setAttribute("aria-label", band.dataset.from + " to " + band.dataset.to + ": list the accounts");
    const open = () => {
      for (const other of document.querySelectorAll("details.band-list[open]")) other.open = false;
      list.open = true;
      list.scrollIntoView({ block: "nearest" });
      list.querySelector("summary").focus();
    };
    band.addEventListener("click", open);
    band.addEventListener("keydown", (event) => {
      if (event.key === "Enter" || event.key === " ") { event.preventDefault(); open(); }
    });
  }

  // Sidebar: arrow keys move between its links, Home and End to the ends.
  const sidebar = document.getElementById("sidebar");
  if (sidebar) {
    sidebar.addEventListener("keydown", (event) => {
      const links = Array.from(sidebar.querySelectorAll("a"));
      const at = links.indexOf(document.activeElement);
      if (at < 0) return;
      const to = { ArrowDown: at + 1, ArrowUp: at - 1, Home: 0, End: links.length - 1 }[event.key];
      if (to === undefined) return;
      event.preventDefault();
      links[Math.max(0, Math.min(links.length - 1, to))].focus();
    });
  }
})();
