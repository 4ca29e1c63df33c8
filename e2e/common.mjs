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
