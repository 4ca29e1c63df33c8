// report.html opens offline in Chromium: no console errors, no request to the
// network, and every chart is an SVG that has drawn something.
// Usage: node report.mjs REPORT_HTML SCREENSHOT_DIR [SEGMENTATION TREND_POINTS]
// (TREND_POINTS: the points the state store holds for SEGMENTATION's
// segments over the recorded runs, one mark each in every trend chart but
// NRR's, which leaves out the segments without an NRR.)
import { pathToFileURL } from "node:url";
import { launch, watchErrors, fail, checkOverlap, checkTrends } from "./common.mjs";

const [report, shots, trendSegmentation, trendPoints] = process.argv.slice(2);
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
  // The decision comes first.
  const first = await page.locator("section").first().getAttribute("id");
  if (first !== "decision") fail(`the first section is ${first}, not the decision`);
  // Every segmentation ends its table with its quality verdict, collapsed.
  const sections = await page.locator("section.segmentation").count();
  const verdicts = await page.locator("section.segmentation details.verdict summary").allTextContents();
  if (sections === 0 || verdicts.length !== sections || !verdicts.every((v) => /^Quality, judged as an? \w+ segmentation: (passes \d of \d tests|no test)/.test(v))) {
    fail(`quality verdicts: ${sections} segmentations, ${JSON.stringify(verdicts)}`);
  }
  // Segment flows (after two runs): each band's width is proportional to
  // its accounts; two bands of the first Sankey are checked.
  if ((await page.locator("#flows").count()) > 0) {
    const bands = await page.locator("#flows svg.sankey").first().locator("path.flow").evaluateAll((paths) =>
      paths.map((p) => ({ value: Number(p.dataset.value), width: Number(p.getAttribute("stroke-width")) })));
    if (bands.length < 2) fail(`the Sankey has ${bands.length} bands`);
    const [a, b] = bands;
    if (Math.abs(a.width / b.width - a.value / b.value) > 0.02 * (a.value / b.value)) {
      fail(`band widths ${a.width}, ${b.width} are not proportional to ${a.value}, ${b.value}`);
    }
    console.log("flow bands:", bands.length);
  }
  // Trends: accounts and ARR per segment, a mark per recorded point.
  if (trendSegmentation) await checkTrends(page, trendSegmentation, Number(trendPoints));
  // Overlap: a cell per pair of rows of the two crossed segmentations'
  // tables, holding every account once.
  await checkOverlap(page, "#overlap svg.overlap");
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: `${shots}/report-first-screen.png` });
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
