// A fetch stand-in for unit tests: answers by "METHOD /path" and records
// every call with its parsed body, behind a real ApiClient.
import { ApiClient } from "../lib/api";

export interface Call {
  method: string;
  path: string;
  query: URLSearchParams;
  body: unknown;
}

export type Answer = { status: number; body?: unknown };
export type Handler = (call: Call) => Answer | Promise<Answer>;

export function fakeApi(routes: Record<string, Handler | Answer>) {
  const calls: Call[] = [];
  const fetchFn = (async (url: string | URL | Request, init?: RequestInit) => {
    const u = new URL(String(url));
    const call: Call = {
      method: init?.method ?? "GET",
      path: u.pathname,
      query: u.searchParams,
      body: init?.body ? JSON.parse(String(init.body)) : undefined,
    };
    calls.push(call);
    const route = routes[`${call.method} ${call.path}`];
    const answer: Answer = route === undefined ? { status: 404, body: { message: `no route ${call.method} ${call.path}` } } : typeof route === "function" ? await route(call) : route;
    return new Response(answer.body === undefined ? "" : JSON.stringify(answer.body), {
      status: answer.status,
      headers: { "Content-Type": "application/json" },
    });
  }) as typeof fetch;
  const api = new ApiClient({ baseUrl: "http://api.test", getToken: () => "jwt", fetchFn });
  /** The calls other than GETs (the changes sent). */
  const changes = () => calls.filter((c) => c.method !== "GET");
  return { api, calls, changes };
}
