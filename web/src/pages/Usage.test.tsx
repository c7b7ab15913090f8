import { describe, expect, it, vi } from "vitest";
import { act, cleanup, fireEvent, render, screen, within } from "@testing-library/react";
import TokensPage from "./TokensPage";
import MyTokenPage from "./MyTokenPage";
import UsagePage from "./UsagePage";
import { ApiError } from "../lib/api";
import { endOfDayUnix } from "../lib/dates";
import { toRows, type TokenItem } from "../lib/tokens";
import { lastDays, USAGE_UNAVAILABLE } from "../lib/usage";
import { SessionContext, type Session } from "../session";
import type { TokenStore } from "../tokenStore";
import { fakeApi, type Answer, type Handler } from "../testing/fakeApi";

const TOKEN: TokenItem = {
  tokenUUID: "00000000-0000-4000-8000-000000000007",
  tokenExpiration: endOfDayUnix("2099-06-30", "UTC"),
  createdDate: 1_700_000_000,
  username: "jane",
  createdBy: "admin",
  name: "jane's token",
  groups: ["lisa-api-users"],
  isSystemToken: false,
  isExpired: false,
  isLegacy: false,
  status: "active",
  disabled: false,
  limits: { requestsPerMinute: 60 },
  effectiveLimits: { requestsPerMinute: 60, tokensPerDay: 100000 },
};

const usagePath = `/api-tokens/${TOKEN.tokenUUID}/usage`;

function usageBody(from: string, to: string, cost?: number) {
  return {
    tokenUUID: TOKEN.tokenUUID,
    from,
    to,
    days: [
      { day: to, requests: 3, errors: 1, promptTokens: 30, completionTokens: 12, totalTokens: 42, ...(cost ? { cost } : {}) },
      { day: from, requests: 2, errors: 0, promptTokens: 20, completionTokens: 8, totalTokens: 28 },
    ],
    totals: { requests: 5, errors: 1, promptTokens: 50, completionTokens: 20, totalTokens: 70, ...(cost ? { cost } : {}) },
  };
}

const okUsage: Handler = (c) => ({ status: 200, body: usageBody(c.query.get("from")!, c.query.get("to")!) });

function session(api: Session["api"], isAdmin: boolean): Session {
  return {
    api,
    config: { revocationSeconds: 3, apiGroup: "lisa-api-users" },
    roles: { isAdmin, isApiUser: true, groups: ["lisa-api-users"] },
    username: isAdmin ? "admin" : "jane",
    timeZone: "UTC",
    settings: { loading: false, allowUserManagedTokens: true },
    notify: vi.fn(),
    showCreated: vi.fn(),
  } as unknown as Session;
}

function renderWith(s: Session, ui: React.ReactNode) {
  render(<SessionContext.Provider value={s}>{ui}</SessionContext.Provider>);
}

function tokensPage(routes: Record<string, Handler | Answer>) {
  const fake = fakeApi(routes);
  const store: TokenStore = {
    rows: toRows([TOKEN]),
    loading: false,
    loaded: 1,
    loadedOnce: true,
    reload: vi.fn(),
    ensureLoaded: vi.fn(),
    add: vi.fn(),
    remove: vi.fn(),
  };
  renderWith(session(fake.api, true), <TokensPage store={store} />);
  return fake;
}

async function click(el: HTMLElement) {
  await act(async () => {
    fireEvent.click(el);
  });
}

async function openUsage() {
  await click(screen.getByRole("radio", { name: `Select token ${TOKEN.name}` }));
  await click(screen.getByRole("button", { name: "Actions" }));
  await click(screen.getByRole("menuitem", { name: "Usage" }));
  return screen.getByRole("dialog");
}

describe("the Usage action", () => {
  it("loads the last 30 days and shows the totals, the charts, the rows and the limits", async () => {
    const fake = tokensPage({ [`GET ${usagePath}`]: okUsage });
    const dialog = await openUsage();
    expect(within(dialog).getByText(`Usage of ${TOKEN.name}`)).toBeTruthy();
    const totals = await within(dialog).findByLabelText("Usage totals");
    for (const [label, value] of [["Requests", "5"], ["Errors", "1"], ["Prompt tokens", "50"], ["Completion tokens", "20"], ["Total tokens", "70"]]) {
      expect(totals.textContent).toContain(label + value);
    }
    // No prices: no cost.
    expect(within(totals).queryByText("Cost")).toBeNull();
    const call = fake.calls.find((c) => c.path === usagePath)!;
    expect({ from: call.query.get("from"), to: call.query.get("to") }).toEqual(lastDays(30));
    // The charts carry accessible names.
    expect(dialog.querySelector(`[aria-label="Requests per day of ${TOKEN.name}"]`)).toBeTruthy();
    expect(dialog.querySelector(`[aria-label="Model tokens per day of ${TOKEN.name}"]`)).toBeTruthy();
    // The rows: every day of the range, newest first, the API's figures on its days.
    await click(within(dialog).getByRole("button", { name: "Usage per day" }));
    const table = within(dialog).getByRole("table", { name: "Usage per day" });
    const rows = within(table).getAllByRole("row").slice(1);
    expect(rows.length).toBe(30);
    expect(rows[0].textContent).toContain(lastDays(30).to);
    expect(rows[0].textContent).toContain("42");
    expect(rows[29].textContent).toContain(lastDays(30).from);
    expect(rows[1].textContent).toContain("0");
    // The limits in force, with the token's own marked.
    expect(within(dialog).getByText("100,000 tokens / day")).toBeTruthy();
    expect(within(dialog).getByText(/60 requests \/ minute/).textContent).toContain("(this token)");
  });

  it("asks again for another period and shows the cost when there are prices", async () => {
    const fake = tokensPage({ [`GET ${usagePath}`]: (c) => ({ status: 200, body: usageBody(c.query.get("from")!, c.query.get("to")!, 0.125) }) });
    const dialog = await openUsage();
    await within(dialog).findByLabelText("Usage totals");
    expect(within(within(dialog).getByLabelText("Usage totals")).getByText("Cost")).toBeTruthy();
    await click(within(dialog).getByText("Last 7 days"));
    await within(dialog).findByText(`${lastDays(7).from} to ${lastDays(7).to} (UTC days)`);
    const calls = fake.calls.filter((c) => c.path === usagePath);
    expect(calls.map((c) => c.query.get("from"))).toEqual([lastDays(30).from, lastDays(7).from]);
  });

  it("says usage is not available on a gateway without it (404 or 503)", async () => {
    for (const status of [404, 503]) {
      tokensPage({ [`GET ${usagePath}`]: { status, body: { message: "nope" } } });
      const dialog = await openUsage();
      await within(dialog).findByText(USAGE_UNAVAILABLE);
      expect(within(dialog).queryByText("nope")).toBeNull();
      cleanup();
    }
  });

  it("shows any other error with its message", async () => {
    tokensPage({ [`GET ${usagePath}`]: { status: 500, body: { message: "the usage store failed" } } });
    const dialog = await openUsage();
    await within(dialog).findByText("the usage store failed");
    expect(within(dialog).getByText("The usage could not be loaded")).toBeTruthy();
  });
});

describe("My API Token: limits and usage", () => {
  it("shows the effective limits and the token's usage", async () => {
    const fake = fakeApi({ "GET /api-tokens/": { status: 200, body: { tokens: [TOKEN] } }, [`GET ${usagePath}`]: okUsage });
    renderWith(session(fake.api, false), <MyTokenPage />);
    await screen.findByText(TOKEN.name);
    expect(screen.getByText("Limits")).toBeTruthy();
    expect(screen.getByText("100,000 tokens / day")).toBeTruthy();
    expect(screen.getByRole("heading", { name: "Usage" })).toBeTruthy();
    const totals = await screen.findByLabelText("Usage totals");
    expect(within(totals).getByText("70")).toBeTruthy();
  });

  it("leaves the limits out and says usage is not available against an older API", async () => {
    const old = { ...TOKEN, limits: undefined, effectiveLimits: undefined };
    const fake = fakeApi({ "GET /api-tokens/": { status: 200, body: { tokens: [old] } } });
    renderWith(session(fake.api, false), <MyTokenPage />);
    await screen.findByText(TOKEN.name);
    await screen.findByText(USAGE_UNAVAILABLE);
    expect(screen.queryByText("Limits")).toBeNull();
  });
});

const OVERVIEW = {
  from: "2026-03-01",
  to: "2026-03-31",
  // Top consumers first, as the API ranks them (by cost, then tokens): not alphabetical.
  users: [
    { username: "zoe", requests: 10, errors: 0, promptTokens: 900, completionTokens: 100, totalTokens: 1000, cost: 2.5 },
    { username: "adam", requests: 40, errors: 2, promptTokens: 400, completionTokens: 100, totalTokens: 500, cost: 1 },
  ],
  tokens: [
    { tokenUUID: TOKEN.tokenUUID, username: "zoe", requests: 10, errors: 0, promptTokens: 900, completionTokens: 100, totalTokens: 1000, cost: 2.5 },
    { tokenUUID: "00000000-0000-4000-8000-0000000000aa", username: "adam", requests: 40, errors: 2, promptTokens: 400, completionTokens: 100, totalTokens: 500, cost: 1 },
  ],
};

describe("UsagePage", () => {
  it("shows this month's top users and tokens in the API's order, with a chart", async () => {
    const fake = fakeApi({ "GET /api-token-usage": { status: 200, body: OVERVIEW } });
    renderWith(session(fake.api, true), <UsagePage rows={toRows([TOKEN])} />);
    const users = await screen.findByRole("table", { name: "Top users" });
    await within(users).findByText("zoe");
    const names = within(users).getAllByRole("row").slice(1).map((r) => r.textContent);
    expect(names[0]).toMatch(/^1zoe/);
    expect(names[1]).toMatch(/^2adam/);
    const tokens = screen.getByRole("table", { name: "Top tokens" });
    const rows = within(tokens).getAllByRole("row").slice(1);
    expect(rows[0].textContent).toContain(TOKEN.name); // named from the token list
    expect(rows[1].textContent).toContain("00000000-0000-4000-8000-0000000000aa");
    expect(within(users).getByText("2.50")).toBeTruthy();
    expect(document.querySelector('[aria-label="Model tokens of the top 10 users"]')).toBeTruthy();
    expect(document.querySelector('[aria-label="Cost of the top 10 users"]')).toBeTruthy();
    const totals = screen.getByLabelText("Usage totals");
    expect(within(totals).getByText("1,500")).toBeTruthy();
    const call = fake.calls[0];
    const now = new Date();
    const month = `${now.getUTCFullYear()}-${String(now.getUTCMonth() + 1).padStart(2, "0")}`;
    expect(call.query.get("from")).toBe(`${month}-01`);
    expect(call.query.get("to")?.startsWith(month)).toBe(true);
    expect(call.query.get("username")).toBeNull();
  });

  it("names a token whose usage is kept under its user's key", async () => {
    const key = "00000000-0000-5000-8000-0000000000aa";
    const adams = { ...TOKEN, tokenUUID: "00000000-0000-4000-8000-0000000000bb", name: "adam's laptop", username: "adam", usageKey: key };
    const retired = { ...adams, tokenUUID: "00000000-0000-4000-8000-0000000000cc", name: "adam's old laptop", rotatedTo: adams.tokenUUID };
    const body = { ...OVERVIEW, tokens: [OVERVIEW.tokens[0], { ...OVERVIEW.tokens[1], tokenUUID: key }] };
    const fake = fakeApi({ "GET /api-token-usage": { status: 200, body } });
    renderWith(session(fake.api, true), <UsagePage rows={toRows([TOKEN, adams, retired])} />);
    const tokens = await screen.findByRole("table", { name: "Top tokens" });
    await within(tokens).findByText("adam's laptop"); // the live one, not the one in its grace period
    expect(within(tokens).queryByText(key)).toBeNull();
    expect(within(tokens).queryByText("adam's old laptop")).toBeNull();
  });

  it("asks for one user's usage", async () => {
    const fake = fakeApi({ "GET /api-token-usage": { status: 200, body: OVERVIEW } });
    renderWith(session(fake.api, true), <UsagePage />);
    await screen.findByRole("table", { name: "Top users" });
    fireEvent.change(screen.getByLabelText("Username"), { target: { value: " adam " } });
    await click(screen.getByRole("button", { name: "Apply" }));
    expect(fake.calls.at(-1)!.query.get("username")).toBe("adam");
  });

  it("says usage is not available on a gateway without it", async () => {
    const fake = fakeApi({});
    renderWith(session(fake.api, true), <UsagePage />);
    await screen.findByText(USAGE_UNAVAILABLE);
    expect(screen.queryByRole("table", { name: "Top users" })).toBeNull();
  });

  it("shows other errors with their message", async () => {
    const fake = fakeApi({ "GET /api-token-usage": { status: 403, body: { message: "admins only" } } });
    renderWith(session(fake.api, true), <UsagePage />);
    await screen.findByText("admins only");
  });
});

describe("ApiClient", () => {
  it("keeps the code of an error answer", async () => {
    const fake = fakeApi({ [`PATCH /api-tokens/${TOKEN.tokenUUID}`]: { status: 400, body: { message: "limits may not be raised", code: "limits_raised" } } });
    const err = await fake.api.updateToken(TOKEN.tokenUUID, { limits: null }).catch((e) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err.code).toBe("limits_raised");
    expect(fake.calls[0].body).toEqual({ limits: null });
  });
});
