// The dashboard end to end: overview lists the demo's segments, the rule
// editor previews a rule through the API, a segment page lists members.
// Usage: node dashboard.mjs URL SEGMENTATION SEGMENT SCREENSHOT_DIR
import { launch, watchErrors, fail } from "./common.mjs";

const [url, segmentation, segment, shots] = process.argv.slice(2);
const browser = await launch();
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const errors = watchErrors(page);

  // Overview: every segmentation's table, with the first segment linked.
  await page.goto(url + "/", { waitUntil: "load" });
  const headings = await page.locator("section h2").allTextContents();
  if (!headings.some((h) => h.startsWith(segmentation))) fail(`no section for ${segmentation}: ${headings}`);
  const link = page.locator(`a[href="/segments/${encodeURIComponent(segmentation)}/${encodeURIComponent(segment)}"]`);
  if ((await link.count()) === 0) fail(`no link to segment ${segment}`);
  if ((await page.locator("svg").count()) === 0) fail("the overview has no chart");
  await page.screenshot({ path: `${shots}/dashboard-overview.png`, fullPage: true });
  console.log("overview sections:", headings.length);

  // Rule editor: type a rule, wait for the live preview's count.
  await page.goto(url + "/editor", { waitUntil: "load" });
  await page.locator("#rule").pressSequentially("employees < 200", { delay: 20 });
  const count = page.locator("#preview-count");
  await count.waitFor({ timeout: 15000 });
  const matched = Number(await count.textContent());
  if (!(matched > 0)) fail(`preview count is ${await count.textContent()}`);
  console.log("preview count:", matched);
  // A typo shows the error with its position. The API's 400 is the answer
  // expected here; Chromium logs every 4xx response, so only those are allowed.
  if (errors.length) fail(errors.join("\n"));
  await page.locator("#rule").fill("");
  await page.locator("#rule").pressSequentially("employes < 200", { delay: 10 });
  await page.locator("#preview-position").waitFor({ timeout: 15000 });
  const position = await page.locator("#preview-position").textContent();
  if (!position.includes("line 1, column 1")) fail(`unexpected position: ${position}`);
  await page.screenshot({ path: `${shots}/dashboard-editor.png`, fullPage: true });
  const unexpected = errors.filter((e) => !e.includes("status of 400"));
  if (unexpected.length) fail(unexpected.join("\n"));
  errors.length = 0;

  // Segment page: members load into the table.
  await page.goto(url + "/", { waitUntil: "load" });
  await link.first().click();
  await page.waitForURL(/\/segments\//);
  await page.locator("#members tbody tr").first().waitFor({ timeout: 15000 });
  const rows = await page.locator("#members tbody tr").count();
  const range = await page.locator("#members-range").textContent();
  if (rows === 0) fail("the segment page lists no members");
  console.log("segment members shown:", rows, range);
  await page.screenshot({ path: `${shots}/dashboard-segment.png`, fullPage: true });

  // The other pages open without errors.
  for (const [path, heading] of [["/transitions", "Transitions"], ["/icp", "Ideal customer profile"], ["/backtest", "Backtest"], ["/definitions", "Definitions"]]) {
    await page.goto(url + path, { waitUntil: "load" });
    const text = await page.locator("h1, h2").first().textContent();
    if (!text.startsWith(heading)) fail(`${path}: heading is ${text}`);
    await page.screenshot({ path: `${shots}/dashboard-${path.slice(1)}.png`, fullPage: true });
    if (path === "/backtest" && (await page.locator("#backtest rect.bar").count()) === 0) {
      fail("the backtest page draws no bars");
    }
  }
  if (errors.length) fail(errors.join("\n"));
} finally {
  await browser.close();
}
