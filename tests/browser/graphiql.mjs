// GraphiQL against a running `pulse demo`, as a developer uses it: the page loads with
// nothing from the internet, a query without a token is refused with UNAUTHENTICATED, a
// token pasted into the Headers tab makes the query work, and a `dashboardUpdated`
// subscription over graphql-transport-ws shows a new dashboard after the built-in Odoo
// changes a deal (pulse demo --interval makes one change per interval).

import { BASE_URL, demoTokens, screenshot, step, waitFor, withPage } from "./lib.mjs";

const QUERY = `query AdminDashboard {
  viewer { name }
  dashboard {
    scope
    asOf
    metrics { openCount pipelineValue winRate }
  }
}
`;

const SUBSCRIPTION = `subscription LiveDashboard {
  dashboardUpdated {
    scope
    asOf
    updatedAt
    metrics { openCount wonCount lostCount pipelineValue wonValue }
  }
}
`;

const QUERY_EDITOR = ".graphiql-query-editor .CodeMirror";
const HEADERS_EDITOR = ".graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror";
const RESPONSE = ".result-window .CodeMirror";

async function editorValue(page, selector) {
  return page.$eval(selector, (element) => element.CodeMirror.getValue());
}

/** Replaces an editor's text the way a person pastes: focus, select all, insert. */
async function paste(page, selector, text) {
  await page.click(`${selector} .CodeMirror-lines`);
  await page.keyboard.press("Control+A");
  await page.keyboard.insertText(text);
  const value = await editorValue(page, selector);
  if (value.trim() !== text.trim()) throw new Error(`the editor holds ${JSON.stringify(value)}`);
  const operation = /^(?:query|mutation|subscription)\s+(\w+)/m.exec(text)?.[1];
  if (operation) {
    // GraphiQL reads the operation name from the editor a moment after an edit (the tab
    // shows it): running before that would send the previous name.
    await page.locator(".graphiql-tab", { hasText: operation }).first().waitFor();
    await page.waitForTimeout(300);
  }
}

async function response(page) {
  const text = await editorValue(page, RESPONSE);
  try {
    return JSON.parse(text);
  } catch {
    return null; // empty, or a non-JSON message
  }
}

async function run(page) {
  await page.getByRole("button", { name: /Execute query/ }).click();
}

await withPage("graphiql", async (page) => {
  step("open GraphiQL");
  await page.goto(`${BASE_URL}/graphql`, { waitUntil: "networkidle" });
  await page.waitForSelector(QUERY_EDITOR);
  await page.waitForSelector(HEADERS_EDITOR);
  const template = await editorValue(page, HEADERS_EDITOR);
  if (!template.includes("<paste a token here>")) throw new Error(`headers template: ${template}`);

  step("a query without a token is refused with a code");
  await paste(page, QUERY_EDITOR, QUERY);
  await run(page);
  const refused = await waitFor("the refusal", async () => (await response(page))?.errors);
  const codes = refused.map((e) => e.extensions?.code);
  if (!codes.includes("UNAUTHENTICATED")) throw new Error(`codes: ${JSON.stringify(codes)}`);

  step("paste an admin token into the Headers tab and run the query");
  const admin = (await demoTokens()).find((u) => u.role === "admin");
  await paste(page, HEADERS_EDITOR, `{\n  "Authorization": "Bearer ${admin.token}"\n}`);
  await run(page);
  const answered = await waitFor("the query's data", async () => (await response(page))?.data);
  if (answered.dashboard.scope !== "ALL" || answered.viewer?.name !== admin.name) {
    throw new Error(`unexpected answer ${JSON.stringify(answered)}`);
  }
  await screenshot(page, "graphiql-query.png");

  step("start a dashboardUpdated subscription");
  await paste(page, QUERY_EDITOR, SUBSCRIPTION);
  await run(page);
  const first = await waitFor(
    "the subscription's first dashboard",
    async () => (await response(page))?.data?.dashboardUpdated,
  );
  step(`first dashboard at asOf=${first.asOf}, pipeline ${first.metrics.pipelineValue}`);
  await page.getByRole("button", { name: /Stop/ }).waitFor({ timeout: 5_000 });
  await screenshot(page, "graphiql-subscription-first.png");

  step("wait for a change in the built-in Odoo to arrive live");
  const next = await waitFor(
    "a live dashboard after a change",
    async () => {
      const live = (await response(page))?.data?.dashboardUpdated;
      return live && live.asOf > first.asOf ? live : null;
    },
    60_000,
  );
  step(`live dashboard at asOf=${next.asOf}, pipeline ${next.metrics.pipelineValue}`);
  await screenshot(page, "graphiql-subscription-live.png");

  step("stop the subscription");
  await page.getByRole("button", { name: /Stop/ }).click();
  await page.getByRole("button", { name: /Execute query/ }).waitFor({ timeout: 5_000 });
});

step("GraphiQL: ok");
