// Launches Debian's Chromium headless through playwright-core, with the flags
// that keep it off the network (this machine has none besides the registries).
import { chromium } from "playwright-core";

export async function launch() {
  return chromium.launch({
    executablePath: process.env.STRATA_CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}

// Collects console errors and uncaught page errors of a page.
export function watchErrors(page) {
  const errors = [];
  page.on("console", (message) => {
    if (message.type() === "error") errors.push("console: " + message.text());
  });
  page.on("pageerror", (error) => errors.push("page error: " + error.message));
  return errors;
}

export function fail(message) {
  console.error("FAILED: " + message);
  process.exit(1);
}

// The id of a segmentation's section (report::section_id).
export function sectionId(name) {
  return "segmentation-" + name.replace(/[^A-Za-z0-9_-]/g, "-");
}

// Trends of a segmentation: its accounts and ARR charts each have one mark
// per recorded point; NRR's no more than that.
export async function checkTrends(page, segmentation, points) {
  const section = page.locator(`section#${sectionId(segmentation)}`);
  const marks = {};
  for (const measure of ["accounts", "ARR", "NRR"]) {
    marks[measure] = await section.locator(`figure.trend[data-measure="${measure}"] circle.mark`).count();
  }
  if (marks.accounts !== points || marks.ARR !== points || marks.NRR > points) {
    fail(`trend marks of ${segmentation}: ${JSON.stringify(marks)}, expected ${points} recorded points`);
  }
  console.log("trend marks:", JSON.stringify(marks));
}

// An overlap heat map next to the segmentations' tables: a cell for every
// pair of rows of the two tables (unassigned included), and the cells'
// accounts adding up to the rows segmentation's.
export async function checkOverlap(page, selector) {
  const svg = page.locator(selector).first();
  if ((await svg.count()) === 0) fail(`no overlap heat map (${selector})`);
  const rows = await svg.getAttribute("data-rows");
  const columns = await svg.getAttribute("data-columns");
  const tableRows = async (name) => page.locator(`section#${sectionId(name)} > table tbody tr`).evaluateAll(
    (trs) => trs.map((tr) => Number(tr.children[1].textContent)));
  const [a, b] = [await tableRows(rows), await tableRows(columns)];
  const cells = await svg.locator("rect.cell").count();
  if (a.length === 0 || b.length === 0 || cells !== a.length * b.length) {
    fail(`overlap ${rows} x ${columns}: ${cells} cells for ${a.length} x ${b.length} table rows`);
  }
  const inCells = await svg.locator("rect.cell:not(.empty)").evaluateAll(
    (rects) => rects.reduce((sum, r) => sum + Number(r.dataset.accounts), 0));
  const total = a.reduce((x, y) => x + y, 0);
  if (inCells !== total) fail(`overlap cells hold ${inCells} accounts, the table ${total}`);
  console.log("overlap cells:", cells);
}
