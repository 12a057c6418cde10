// Shared helpers for the browser tests: Debian's Chromium driven by playwright-core (from
// frontend-contract/node_modules; no browser is ever downloaded), a guard that fails on any
// request leaving the machine (the pages must work offline), screenshots as artefacts.

import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";

const require = createRequire(new URL("../../frontend-contract/package.json", import.meta.url));
const { chromium } = require("playwright-core");

export const BASE_URL = required("PULSE_URL").replace(/\/$/, "");
export const ARTIFACTS = required("PULSE_ARTIFACTS");
export const CHROMIUM = process.env.PULSE_CHROMIUM || "/usr/bin/chromium";

export const FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

function required(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
}

export function step(message) {
  console.log(`[${new Date().toISOString().slice(11, 23)}] ${message}`);
}

function isLocal(url) {
  if (url.startsWith("data:") || url.startsWith("blob:") || url.startsWith("about:")) return true;
  const { hostname } = new URL(url);
  return hostname === "127.0.0.1" || hostname === "localhost" || hostname === "[::1]";
}

/**
 * Runs `body(page, context)` in a fresh Chromium profile; fails on a request to another
 * host, an uncaught page error or a console error. Screenshots go to ARTIFACTS.
 */
export async function withPage(name, body) {
  mkdirSync(ARTIFACTS, { recursive: true });
  rmSync(join(ARTIFACTS, `${name}-failure.png`), { force: true });
  const profile = mkdtempSync(join(tmpdir(), "pulse-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: FLAGS,
    viewport: { width: 1366, height: 900 },
    locale: "en-US",
    timezoneId: "UTC",
  });
  const problems = [];
  const offsite = [];
  await context.route("**/*", (route) => {
    const url = route.request().url();
    if (isLocal(url)) return route.continue();
    offsite.push(url);
    return route.abort();
  });
  const page = context.pages()[0] ?? (await context.newPage());
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  page.on("console", (message) => {
    if (message.type() === "error") problems.push(`console error: ${message.text()}`);
  });
  try {
    await body(page, context);
    if (offsite.length) throw new Error(`requests left the machine: ${offsite.join(", ")}`);
    if (problems.length) throw new Error(`the page reported errors:\n  ${problems.join("\n  ")}`);
  } catch (error) {
    await page
      .screenshot({ path: join(ARTIFACTS, `${name}-failure.png`), fullPage: true })
      .catch(() => {});
    throw error;
  } finally {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
  }
}

export async function screenshot(page, file, options = {}) {
  const path = join(ARTIFACTS, file);
  await page.screenshot({ path, ...options });
  step(`screenshot ${path}`);
  return path;
}

export async function demoTokens() {
  const response = await fetch(`${BASE_URL}/demo/tokens`);
  if (!response.ok) throw new Error(`GET /demo/tokens: ${response.status}`);
  return (await response.json()).users;
}

/** Polls `probe` until it returns a truthy value; throws with `what` after `timeout` ms. */
export async function waitFor(what, probe, timeout = 60_000, every = 250) {
  const deadline = Date.now() + timeout;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, every));
  }
}
