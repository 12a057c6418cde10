// Pulse's GraphiQL page: React, ReactDOM and GraphiQL come from UMD bundles served by Pulse
// (/assets/vendor), the graphql-ws client from its ES module. No CDN, no build step.
//
// The fetcher sends queries and mutations by HTTP POST with the headers of GraphiQL's
// "Headers" tab, and runs subscriptions over graphql-transport-ws, passing that tab's
// Authorization header in the connection_init payload (PRODUCT.md §5).

import { createClient } from "../vendor/graphql-ws/client.js";

const config = JSON.parse(document.getElementById("pulse-graphiql-config").textContent);

const httpUrl = new URL(config.graphqlPath, window.location.href);
const wsUrl = new URL(httpUrl);
wsUrl.protocol = httpUrl.protocol === "https:" ? "wss:" : "ws:";

function headerValue(headers, name) {
  if (!headers || typeof headers !== "object") return undefined;
  const wanted = name.toLowerCase();
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() === wanted && typeof value === "string") return value;
  }
  return undefined;
}

function isPlaceholder(authorization) {
  return !authorization || authorization.includes("<paste");
}

// The operation GraphiQL is about to run: the named one, else the only one.
function operationKind(documentAST, operationName) {
  const operations = (documentAST?.definitions ?? []).filter(
    (d) => d.kind === "OperationDefinition",
  );
  const chosen = operationName
    ? operations.find((d) => d.name?.value === operationName)
    : operations.length === 1
      ? operations[0]
      : undefined;
  return chosen?.operation;
}

// One lazy graphql-ws client per Authorization value: it connects on the first
// subscription and closes when the last one stops, so a new token means a new socket.
const clients = new Map();
function clientFor(authorization) {
  const key = authorization ?? "";
  let client = clients.get(key);
  if (!client) {
    client = createClient({
      url: wsUrl.href,
      connectionParams: authorization ? { Authorization: authorization } : {},
      lazy: true,
      retryAttempts: 0,
    });
    clients.set(key, client);
  }
  return client;
}

function closeMessage(event) {
  const code = event?.code;
  const reason = event?.reason ? ` ${event.reason}` : "";
  if (code === 4401) {
    return `The subscription socket was closed: ${code}${reason}. Put a valid token in the Headers tab: {"Authorization": "Bearer <token>"}.`;
  }
  if (code === 4403) {
    return `The subscription socket was closed: ${code}${reason}. This token's user may not use Pulse.`;
  }
  if (code !== undefined) return `The subscription socket was closed: ${code}${reason}.`;
  return `The subscription failed: ${event?.message ?? event}`;
}

async function* subscribe(params, authorization) {
  const iterator = clientFor(authorization).iterate({
    query: params.query,
    variables: params.variables ?? undefined,
    operationName: params.operationName ?? undefined,
  });
  try {
    for await (const result of iterator) yield result;
  } catch (problem) {
    yield { errors: [{ message: closeMessage(problem) }] };
  } finally {
    await iterator.return?.();
  }
}

async function post(params, headers) {
  const response = await fetch(httpUrl, {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/json", ...headers },
    body: JSON.stringify(params),
  });
  const text = await response.text();
  try {
    return JSON.parse(text);
  } catch {
    return { errors: [{ message: `HTTP ${response.status}: ${text.slice(0, 500)}` }] };
  }
}

function fetcher(params, options = {}) {
  const headers = { ...(options.headers ?? {}) };
  const authorization = headerValue(headers, "Authorization");
  if (isPlaceholder(authorization)) {
    // The untouched template: send no Authorization rather than a broken one.
    for (const key of Object.keys(headers)) {
      if (key.toLowerCase() === "authorization") delete headers[key];
    }
  }
  if (operationKind(options.documentAST, params.operationName) === "subscription") {
    return subscribe(params, isPlaceholder(authorization) ? undefined : authorization);
  }
  return post(params, headers);
}

const GraphiQLComponent =
  typeof window.GraphiQL === "function" ? window.GraphiQL : window.GraphiQL.GraphiQL;

const root = window.ReactDOM.createRoot(document.getElementById("graphiql"));
root.render(
  window.React.createElement(GraphiQLComponent, {
    fetcher,
    defaultQuery: config.defaultQuery,
    defaultHeaders: config.headersTemplate,
    defaultTabs: [{ query: config.defaultQuery, headers: config.headersTemplate }],
    defaultEditorToolsVisibility: "headers",
    isHeadersEditorEnabled: true,
    shouldPersistHeaders: false,
    showPersistHeadersSettings: true,
  }),
);
