// A small Pulse GraphQL client for pages served by Pulse: queries over HTTP POST with a bearer
// token, subscriptions over graphql-transport-ws (graphql-ws) with the token in the
// connection_init payload, and the frontend contract's operations loaded as committed.

import { createClient } from "../vendor/graphql-ws/client.js";

const operationsBase = new URL("../operations/", import.meta.url);
const operations = new Map();

/** The text of frontend-contract/operations/<file>.graphql, exactly as committed. */
export function loadOperation(file) {
  if (!operations.has(file)) {
    const text = fetch(new URL(`${file}.graphql`, operationsBase)).then((response) => {
      if (!response.ok) throw new Error(`Could not load the ${file} operation (${response.status})`);
      return response.text();
    });
    operations.set(file, text);
  }
  return operations.get(file);
}

/** An error answered by the API; ``codes`` holds each error's extensions.code. */
export class GraphQLRequestError extends Error {
  constructor(errors) {
    super(errors.map((e) => e.message).join("; "));
    this.name = "GraphQLRequestError";
    this.codes = errors.map((e) => e.extensions?.code ?? "INTERNAL");
  }
}

export class PulseConnection {
  /**
   * @param {object} options
   * @param {URL|string} options.graphqlUrl  the /graphql endpoint
   * @param {() => Promise<string>} options.getToken  a valid token (called again on reconnect)
   * @param {(state: "connecting"|"connected"|"closed", detail?: string) => void} [options.onStatus]
   */
  constructor({ graphqlUrl, getToken, onStatus = () => {} }) {
    this.httpUrl = new URL(graphqlUrl, window.location.href);
    const wsUrl = new URL(this.httpUrl);
    wsUrl.protocol = this.httpUrl.protocol === "https:" ? "wss:" : "ws:";
    this.getToken = getToken;
    this.disposed = false;
    this.ws = createClient({
      url: wsUrl.href,
      // Called on every (re)connection, so a new socket always gets a current token. A
      // close with 4401 (at the token's expiry) is final for graphql-ws: it ends the
      // subscriptions with that CloseEvent, and the page subscribes again.
      connectionParams: async () => ({ Authorization: `Bearer ${await getToken()}` }),
      lazy: true,
      retryAttempts: 1000,
      shouldRetry: () => !this.disposed,
      on: {
        connecting: () => onStatus("connecting"),
        connected: () => onStatus("connected"),
        closed: (event) =>
          onStatus("closed", event?.code ? `${event.code} ${event.reason ?? ""}`.trim() : ""),
      },
    });
  }

  async query(file, operationName, variables = {}) {
    const query = await loadOperation(file);
    const response = await fetch(this.httpUrl, {
      method: "POST",
      headers: {
        "Content-Type": "application/json",
        Accept: "application/json",
        Authorization: `Bearer ${await this.getToken()}`,
      },
      body: JSON.stringify({ query, operationName, variables }),
    });
    const body = await response.json();
    if (body.errors?.length) throw new GraphQLRequestError(body.errors);
    return body.data;
  }

  /** Runs a subscription; returns a function that stops it. */
  subscribe(file, operationName, { next, error = () => {} }) {
    let stop = () => {};
    let stopped = false;
    loadOperation(file).then(
      (query) => {
        if (stopped) return;
        stop = this.ws.subscribe(
          { query, operationName },
          {
            next: (result) => {
              if (result.errors?.length) error(new GraphQLRequestError(result.errors));
              else if (result.data) next(result.data);
            },
            error,
            complete: () => {},
          },
        );
      },
      (problem) => error(problem),
    );
    return () => {
      stopped = true;
      stop();
    };
  }

  dispose() {
    this.disposed = true;
    return this.ws.dispose();
  }
}
