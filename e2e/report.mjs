// report.html opens offline in Chromium: no console errors, no request to the
// network, and every chart is an SVG that has drawn something.
// Usage: node report.mjs REPORT_HTML SCREENSHOT_DIR
import { pathToFileURL } from "node:url";
import { launch, watchErrors, fail } from "./common.mjs";

const [report, shots] = process.argv.slice(2);
const browser = await launch();
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const errors = watchErrors(page);
  const remote = [];
  page.on("request", (request) => {
    if (!request.url().startsWith("file:")) remote.push(request.url());
  });
  await page.goto(pathToFileURL(report).href, { waitUntil: "load" });
  const charts = await page.locator("svg").evaluateAll((svgs) =>
    svgs.map((svg) => {
      const box = svg.getBoundingClientRect();
      return { width: box.width, height: box.height, marks: svg.querySelectorAll("rect,polyline,path,circle,line").length };
    }));
  if (charts.length < 2) fail(`expected charts, found ${charts.length}`);
  charts.forEach((chart, idx) => {
    if (chart.width < 100 || chart.height < 50 || chart.marks === 0) fail(`chart ${idx} did not render: ${JSON.stringify(chart)}`);
  });
  // The backtest section: one bar per segment observed, with its whisker.
  const bars = await page.locator("#backtest rect.bar").count();
  const whiskers = await page.locator("#backtest line.whisker").count();
  if (bars === 0 || bars !== whiskers) fail(`backtest chart: ${bars} bars, ${whiskers} whiskers`);
  await page.locator("#backtest").screenshot({ path: `${shots}/report-backtest.png` });
  await page.screenshot({ path: `${shots}/report.png`, fullPage: true });
  if (remote.length) fail("the report requested " + remote.join(", "));
  if (errors.length) fail(errors.join("\n"));
  console.log("charts rendered:", charts.length);
} finally {
  await browser.close();
}
