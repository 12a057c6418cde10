// The live demo page at / against a running `pulse demo`, as a first-time visitor uses it:
// pick a manager with the keyboard-reachable "View as" picker, see the KPIs, the by-stage
// chart, the team table and the opportunity list, then watch a change made in the built-in
// Odoo move a number without reloading. Screenshots before and after the change.

import { BASE_URL, screenshot, step, waitFor, withPage } from "./lib.mjs";

const MANAGER = "Maria Lopez";

async function kpiValues(page) {
  return page.$$eval("#kpis [data-kpi]", (cells) =>
    Object.fromEntries(cells.map((c) => [c.dataset.kpi, c.querySelector(".value").textContent])),
  );
}

async function asOf(page) {
  return Number(await page.getAttribute("#as-of", "data-as-of"));
}

await withPage("demo-page", async (page) => {
  step("open the demo page");
  await page.goto(`${BASE_URL}/`, { waitUntil: "networkidle" });
  const picker = page.getByLabel("View as");
  await waitFor("the demo users", async () => (await picker.isEnabled()) || null, 15_000);

  step("keyboard: the skip link, then the picker");
  await page.keyboard.press("Tab");
  const first = await page.evaluate(() => document.activeElement?.textContent?.trim());
  if (first !== "Skip to the dashboard") throw new Error(`first Tab stop: ${first}`);
  await page.keyboard.press("Tab");
  if ((await page.evaluate(() => document.activeElement?.id)) !== "user") {
    throw new Error("the second Tab stop is not the user picker");
  }
  await screenshot(page, "demo-page-picker.png");

  step(`pick the manager ${MANAGER}`);
  await picker.selectOption({ label: MANAGER });
  await page.waitForSelector("#kpis [data-kpi] .value");
  await page.locator("#stage-chart svg [data-stage]").first().waitFor();
  await page.locator("#team tbody tr").first().waitFor();
  await page.locator("#opportunities tbody tr").first().waitFor();
  await waitFor("the live connection", async () =>
    (await page.textContent("#connection")).startsWith("Live") || null,
  );
  const heading = await page.textContent("#viewer-line");
  if (!heading.includes(MANAGER) || !heading.includes("team")) {
    throw new Error(`dashboard heading: ${heading}`);
  }
  if (!(await page.isHidden("#error"))) {
    throw new Error(`the page shows an error: ${await page.textContent("#error")}`);
  }
  const teamRows = await page.locator("#team tbody tr").count();
  const opportunityRows = await page.locator("#opportunities tbody tr").count();
  const chartLabel = await page.getAttribute("#stage-chart svg", "aria-label");
  step(`team rows: ${teamRows}, opportunity rows: ${opportunityRows}; chart: ${chartLabel}`);
  if (teamRows < 2) throw new Error("a manager's team table should list their team");

  const before = await kpiValues(page);
  const beforeAsOf = await asOf(page);
  step(`before: asOf=${beforeAsOf} ${JSON.stringify(before)}`);
  await screenshot(page, "demo-page-before.png", { fullPage: true });

  step("wait for a change in the built-in Odoo to move a number");
  const moved = await waitFor(
    "a KPI to change",
    async () => {
      const now = await kpiValues(page);
      const changed = Object.keys(now).filter((k) => now[k] !== before[k]);
      return changed.length ? { now, changed } : null;
    },
    90_000,
  );
  const afterAsOf = await asOf(page);
  step(`after: asOf=${afterAsOf}, changed ${moved.changed.join(", ")}: ${JSON.stringify(moved.now)}`);
  if (!(afterAsOf > beforeAsOf)) throw new Error(`asOf did not advance: ${afterAsOf}`);
  await page.waitForTimeout(300); // let the highlight show
  await screenshot(page, "demo-page-after.png", { fullPage: true });
});

step("demo page: ok");
