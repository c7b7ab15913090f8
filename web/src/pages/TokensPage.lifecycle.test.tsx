import { describe, expect, it, vi } from "vitest";
import { act, fireEvent, render, screen, within } from "@testing-library/react";
import TokensPage from "./TokensPage";
import { toRows, type TokenItem } from "../lib/tokens";
import { endOfDayUnix } from "../lib/dates";
import { SessionContext, type Session } from "../session";
import type { TokenStore } from "../tokenStore";
import { fakeApi, type Answer, type Handler } from "../testing/fakeApi";
import { NOT_SHOWN_AGAIN, SAVED_CHECKBOX } from "../messages";

const NOW = Math.floor(Date.now() / 1000);

function item(i: number, over: Partial<TokenItem> = {}): TokenItem {
  return {
    tokenUUID: `00000000-0000-4000-8000-${String(i).padStart(12, "0")}`,
    tokenExpiration: endOfDayUnix("2099-06-30", "UTC"),
    createdDate: 1_700_000_000 + i,
    username: `user${i}`,
    createdBy: "admin",
    name: `token ${i}`,
    groups: [],
    isSystemToken: false,
    isExpired: false,
    isLegacy: false,
    status: "active",
    disabled: false,
    ...over,
  };
}

function setup(items: TokenItem[], routes: Record<string, Handler | Answer> = {}, { isAdmin = true } = {}) {
  const fake = fakeApi(routes);
  const store: TokenStore = {
    rows: toRows(items),
    loading: false,
    loaded: items.length,
    loadedOnce: true,
    reload: vi.fn(),
    ensureLoaded: vi.fn(),
    add: vi.fn(),
    remove: vi.fn(),
  };
  const notify = vi.fn();
  const session = {
    api: fake.api,
    config: { revocationSeconds: 3 },
    roles: { isAdmin, isApiUser: true, groups: [] },
    username: "admin",
    timeZone: "UTC",
    notify,
  } as unknown as Session;
  render(
    <SessionContext.Provider value={session}>
      <TokensPage store={store} />
    </SessionContext.Provider>,
  );
  return { ...fake, store, notify };
}

async function click(el: HTMLElement) {
  await act(async () => {
    fireEvent.click(el);
  });
}

async function select(name: string) {
  await click(screen.getByRole("radio", { name: `Select token ${name}` }));
}

/** Opens the Actions menu and picks an item. */
async function action(text: string) {
  await click(screen.getByRole("button", { name: "Actions" }));
  await click(screen.getByRole("menuitem", { name: text }));
}

const patchPath = (i: number) => `/api-tokens/${item(i).tokenUUID}`;

describe("TokensPage: status and last used", () => {
  it("shows each status and when a token was last used", () => {
    setup([
      item(1, { lastUsedAt: NOW - 5 * 60 }),
      item(2, { status: "disabled", disabled: true }),
      item(3, { status: "rotated", rotatedTo: "n" }),
      item(4, { status: "expired", isExpired: true }),
      // An older server: no status, only isExpired.
      item(5, { status: undefined, disabled: undefined, isExpired: true }),
    ]);
    expect(screen.getByText("Disabled")).toBeTruthy();
    expect(screen.getByText("Rotated (grace period)")).toBeTruthy();
    expect(screen.getAllByText("Expired").length).toBe(2);
    expect(screen.getByText("Active")).toBeTruthy();
    const used = screen.getByText("5 minutes ago");
    expect(used.getAttribute("title")).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} UTC$/);
    expect(screen.getAllByText("Never").length).toBe(4);
    expect(screen.getAllByText("Last used").length).toBeGreaterThan(0);
  });
});

describe("TokensPage: edit", () => {
  it("sends only the fields that changed and reloads", async () => {
    const { changes, store, notify } = setup([item(1), item(2)], { [`PATCH ${patchPath(2)}`]: { status: 200, body: item(2, { name: "renamed" }) } });
    await select("token 2");
    await action("Edit");
    const dialog = screen.getByRole("dialog");
    expect((within(dialog).getByLabelText("Expiration date") as HTMLInputElement).value).toBe("2099/06/30");
    fireEvent.change(within(dialog).getByLabelText("Token name"), { target: { value: " renamed " } });
    await click(within(dialog).getByRole("button", { name: "Save changes" }));
    expect(changes()).toEqual([expect.objectContaining({ method: "PATCH", path: patchPath(2), body: { name: "renamed" } })]);
    expect(store.reload).toHaveBeenCalled();
    expect(notify).toHaveBeenCalledWith(expect.objectContaining({ type: "success" }));
    expect(screen.queryByRole("dialog")).toBeNull();
  });

  it("sends only the expiry when only the day changed", async () => {
    const { changes } = setup([item(1)], { [`PATCH ${patchPath(1)}`]: { status: 200, body: item(1) } });
    await select("token 1");
    await action("Edit");
    const dialog = screen.getByRole("dialog");
    fireEvent.change(within(dialog).getByLabelText("Expiration date"), { target: { value: "2099/07/15" } });
    await click(within(dialog).getByRole("button", { name: "Save changes" }));
    expect(changes().map((c) => c.body)).toEqual([{ tokenExpiration: endOfDayUnix("2099-07-15", "UTC") }]);
  });

  it("sends nothing when nothing changed", async () => {
    const { changes } = setup([item(1)]);
    await select("token 1");
    await action("Edit");
    await click(within(screen.getByRole("dialog")).getByRole("button", { name: "Save changes" }));
    expect(changes()).toEqual([]);
    expect(screen.getByText("Change the name or the expiration date first.")).toBeTruthy();
  });

  it.each([
    [400, "tokenExpiration is beyond the longest lifetime allowed (365 days)"],
    [403, "only an administrator can change this token"],
    [409, "the token was changed at the same time; try again"],
  ])("shows the API's message on %i", async (status, message) => {
    const { store } = setup([item(1)], { [`PATCH ${patchPath(1)}`]: { status, body: { message, code: "x" } } });
    await select("token 1");
    await action("Edit");
    const dialog = screen.getByRole("dialog");
    fireEvent.change(within(dialog).getByLabelText("Token name"), { target: { value: "other" } });
    await click(within(dialog).getByRole("button", { name: "Save changes" }));
    expect(within(dialog).getAllByText(message).length).toBeGreaterThanOrEqual(1);
    expect(within(dialog).getByText("The token was not changed")).toBeTruthy();
    expect(store.reload).not.toHaveBeenCalled();
  });
});

describe("TokensPage: disable and enable", () => {
  it("asks before disabling, then sends disabled: true", async () => {
    const { changes, store } = setup([item(1)], { [`PATCH ${patchPath(1)}`]: { status: 200, body: item(1, { status: "disabled", disabled: true }) } });
    await select("token 1");
    await action("Disable");
    const dialog = screen.getByRole("dialog");
    expect(within(dialog).getByText(/until it is enabled again/)).toBeTruthy();
    expect(changes()).toEqual([]);
    // Cancel sends nothing.
    await click(within(dialog).getByRole("button", { name: "Cancel" }));
    expect(changes()).toEqual([]);
    await action("Disable");
    await click(within(screen.getByRole("dialog")).getByRole("button", { name: "Disable" }));
    expect(changes()).toEqual([expect.objectContaining({ method: "PATCH", body: { disabled: true } })]);
    expect(store.reload).toHaveBeenCalledTimes(1);
  });

  it("enables a disabled token at once, and shows a refusal", async () => {
    let answer: Answer = { status: 403, body: { message: "an administrator disabled this token; only an administrator can enable it" } };
    const { changes, notify, store } = setup([item(1, { status: "disabled", disabled: true, disabledByAdmin: true })], {
      [`PATCH ${patchPath(1)}`]: () => answer,
    });
    await select("token 1");
    await action("Enable");
    expect(changes()).toEqual([expect.objectContaining({ body: { disabled: false } })]);
    expect(notify).toHaveBeenCalledWith(
      expect.objectContaining({ type: "error", content: "an administrator disabled this token; only an administrator can enable it" }),
    );
    answer = { status: 200, body: item(1) };
    await action("Enable");
    expect(notify).toHaveBeenLastCalledWith(expect.objectContaining({ type: "success" }));
    expect(store.reload).toHaveBeenCalledTimes(2);
  });
});

describe("TokensPage: rotate", () => {
  const secret = "cd".repeat(64);
  const previous = NOW + 24 * 3600;

  it("rotates with the chosen grace period and shows the new token once, storing it nowhere", async () => {
    localStorage.clear();
    sessionStorage.clear();
    const { changes, store } = setup([item(1)], {
      [`POST ${patchPath(1)}/rotate`]: {
        status: 201,
        body: { ...item(9), token: secret, rotatedFrom: item(1).tokenUUID, previousTokenExpiration: previous },
      },
    });
    await select("token 1");
    await action("Rotate");
    const dialog = screen.getByRole("dialog");
    expect((within(dialog).getByRole("radio", { name: "1 hour" }) as HTMLInputElement).checked).toBe(true);
    await click(within(dialog).getByRole("radio", { name: "24 hours" }));
    await click(within(dialog).getByRole("button", { name: "Rotate" }));
    expect(changes()).toEqual([expect.objectContaining({ method: "POST", path: `${patchPath(1)}/rotate`, body: { gracePeriod: "24h" } })]);
    expect(store.reload).toHaveBeenCalled();

    const display = screen.getByRole("dialog");
    expect(within(display).getByText(NOT_SHOWN_AGAIN)).toBeTruthy();
    expect((within(display).getByLabelText("API token") as HTMLInputElement).value).toBe(secret);
    expect(within(display).getByText(/The old token keeps working until \d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} UTC/)).toBeTruthy();
    // Kept in memory only.
    const stored = [localStorage, sessionStorage].flatMap((s) => Array.from({ length: s.length }, (_, i) => s.getItem(s.key(i)!) ?? ""));
    expect(stored.some((v) => v.includes(secret))).toBe(false);

    await click(within(display).getByRole("checkbox", { name: SAVED_CHECKBOX }));
    await click(within(display).getByRole("button", { name: "Close" }));
    expect(screen.queryByDisplayValue(secret)).toBeNull();
    expect(document.body.innerHTML.includes(secret)).toBe(false);
  });

  it("shows the API's refusal and shows no token", async () => {
    setup([item(1)], { [`POST ${patchPath(1)}/rotate`]: { status: 409, body: { message: "the token was rotated at the same time" } } });
    await select("token 1");
    await action("Rotate");
    await click(within(screen.getByRole("dialog")).getByRole("button", { name: "Rotate" }));
    expect(screen.getByText("the token was rotated at the same time")).toBeTruthy();
    expect(screen.queryByText(NOT_SHOWN_AGAIN)).toBeNull();
  });

  it.each([
    ["disabled", { status: "disabled", disabled: true }],
    ["expired", { status: "expired", isExpired: true }],
    ["rotated", { status: "rotated", rotatedTo: "x" }],
  ] as [string, Partial<TokenItem>][])("offers no rotation for a %s token", async (_s, over) => {
    setup([item(1, over)]);
    await select("token 1");
    await click(screen.getByRole("button", { name: "Actions" }));
    const rotate = screen.getByRole("menuitem", { name: /Rotate/ });
    expect(rotate.getAttribute("aria-disabled")).toBe("true");
  });
});

describe("TokensPage: revoke all tokens of a user", () => {
  it("needs the username typed again, then revokes and says how many", async () => {
    const { changes, notify, store } = setup([item(1)], { "DELETE /api-tokens/": { status: 200, body: { deleted: 2, tokenUUIDs: ["a", "b"] } } });
    await click(screen.getByRole("button", { name: "Revoke all tokens of a user" }));
    const dialog = screen.getByRole("dialog");
    const revoke = () => within(dialog).getByRole("button", { name: "Revoke all" }) as HTMLButtonElement;
    expect(revoke().disabled).toBe(true);
    fireEvent.change(within(dialog).getByLabelText("Username"), { target: { value: "bob" } });
    expect(revoke().disabled).toBe(true);
    fireEvent.change(within(dialog).getByLabelText("Type the username to confirm"), { target: { value: "bo" } });
    expect(revoke().disabled).toBe(true);
    await click(revoke());
    expect(changes()).toEqual([]);
    fireEvent.change(within(dialog).getByLabelText("Type the username to confirm"), { target: { value: "bob" } });
    await click(within(dialog).getByRole("checkbox", { name: /Include system tokens/ }));
    expect(revoke().disabled).toBe(false);
    await click(revoke());
    expect(changes()).toHaveLength(1);
    const call = changes()[0];
    expect(call.method).toBe("DELETE");
    expect(call.query.get("username")).toBe("bob");
    expect(call.query.get("includeSystemTokens")).toBe("true");
    expect(notify).toHaveBeenCalledWith(expect.objectContaining({ type: "success", content: "Revoked 2 tokens of bob." }));
    expect(store.reload).toHaveBeenCalled();
  });

  it("sends includeSystemTokens=false unless ticked, and shows an error", async () => {
    const { changes } = setup([], { "DELETE /api-tokens/": { status: 403, body: { message: "admin access required" } } });
    await click(screen.getByRole("button", { name: "Revoke all tokens of a user" }));
    const dialog = screen.getByRole("dialog");
    fireEvent.change(within(dialog).getByLabelText("Username"), { target: { value: "carol" } });
    fireEvent.change(within(dialog).getByLabelText("Type the username to confirm"), { target: { value: "carol" } });
    await click(within(dialog).getByRole("button", { name: "Revoke all" }));
    expect(changes()[0].query.get("includeSystemTokens")).toBe("false");
    expect(within(dialog).getByText("admin access required")).toBeTruthy();
  });

  it("is not offered to a user who is not an admin", () => {
    setup([item(1)], {}, { isAdmin: false });
    expect(screen.queryByRole("button", { name: "Revoke all tokens of a user" })).toBeNull();
  });
});

describe("TokensPage: history", () => {
  it("opens the selected token's history from the Actions menu", async () => {
    const { calls } = setup([item(1)], {
      [`GET ${patchPath(1)}/events`]: {
        status: 200,
        body: { events: [{ eventId: "e", time: NOW, action: "disable", actor: "admin", authType: "jwt", sourceIp: "203.0.113.7", tokenUUID: item(1).tokenUUID, changes: [{ field: "disabled", old: "false", new: "true" }] }] },
      },
    });
    await select("token 1");
    await action("History");
    const dialog = screen.getByRole("dialog");
    expect(await within(dialog).findByText("disabled: false → true")).toBeTruthy();
    expect(calls.map((c) => `${c.method} ${c.path}`)).toEqual([`GET ${patchPath(1)}/events`]);
  });
});
