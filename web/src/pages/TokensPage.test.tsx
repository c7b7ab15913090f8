import { describe, expect, it, vi } from "vitest";
import { act, fireEvent, render, screen, within } from "@testing-library/react";
import TokensPage from "./TokensPage";
import { ApiClient } from "../lib/api";
import { PREFERENCES_KEY } from "../lib/preferences";
import { toRows, type TokenItem } from "../lib/tokens";
import { SessionContext, type Session } from "../session";
import type { TokenStore } from "../tokenStore";
import { deleteNotice } from "../messages";

function item(i: number, over: Partial<TokenItem> = {}): TokenItem {
  return {
    tokenUUID: `00000000-0000-4000-8000-${String(i).padStart(12, "0")}`,
    tokenExpiration: 4_000_000_000 + i,
    createdDate: 1_700_000_000 + i,
    username: `user${i}`,
    createdBy: "admin",
    name: `token ${i}`,
    groups: [],
    isSystemToken: false,
    isExpired: false,
    isLegacy: false,
    ...over,
  };
}

function setup(items: TokenItem[], deleteToken = vi.fn(async () => ({ message: "ok", tokenUUID: "" }))) {
  const api = new ApiClient({ baseUrl: "http://x", getToken: () => "j" });
  api.deleteToken = deleteToken;
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
  const session = {
    api,
    config: { revocationSeconds: 3 },
    timeZone: "UTC",
    notify: vi.fn(),
  } as unknown as Session;
  const ui = render(
    <SessionContext.Provider value={session}>
      <TokensPage store={store} />
    </SessionContext.Provider>,
  );
  return { ui, store, deleteToken };
}

const names = () =>
  screen
    .getAllByRole("row")
    .slice(1)
    .map((r) => r.querySelectorAll("td, th")[1]?.textContent);

describe("TokensPage", () => {
  it("filters on name, username, creator and groups, and sorts for real", async () => {
    localStorage.removeItem(PREFERENCES_KEY);
    setup([
      item(1, { name: "beta", groups: ["devs"] }),
      item(2, { name: "Alpha", createdBy: "carol" }),
      item(3, { name: "gamma", isLegacy: true, tokenUUID: "legacy-0123456789abcdef" }),
    ]);
    // Newest first by default.
    expect(names()).toEqual(["gamma", "Alpha", "beta"]);
    expect(screen.getByText("Legacy")).toBeTruthy();

    await act(async () => {
      fireEvent.click(screen.getAllByText("Token name")[0]);
    });
    expect(names()).toEqual(["Alpha", "beta", "gamma"]);

    const filter = screen.getByLabelText("Find tokens");
    fireEvent.change(filter, { target: { value: "devs" } });
    expect(names()).toEqual(["beta"]);
    fireEvent.change(filter, { target: { value: "carol" } });
    expect(names()).toEqual(["Alpha"]);
    fireEvent.change(filter, { target: { value: "nothing-like-this" } });
    expect(screen.getByText("No matches")).toBeTruthy();
  });

  it("says No tokens with a Create token action when empty", () => {
    setup([]);
    expect(screen.getByText("No tokens")).toBeTruthy();
    expect(screen.getAllByRole("button", { name: "Create token" }).length).toBe(2);
  });

  it("deletes the selected token after confirmation", async () => {
    const { deleteToken, store } = setup([item(1), item(2)]);
    const del = screen.getByRole("button", { name: "Delete" }) as HTMLButtonElement;
    expect(del.disabled).toBe(true);
    fireEvent.click(screen.getByRole("radio", { name: "Select token token 2" }));
    fireEvent.click(screen.getByRole("button", { name: "Delete" }));
    const dialog = screen.getByRole("dialog");
    expect(within(dialog).getByText(deleteNotice(3))).toBeTruthy();
    expect(within(dialog).getByText("token 2")).toBeTruthy();
    await act(async () => {
      fireEvent.click(within(dialog).getByRole("button", { name: "Delete" }));
    });
    expect(deleteToken).toHaveBeenCalledWith(item(2).tokenUUID);
    expect(store.remove).toHaveBeenCalledWith(item(2).tokenUUID);
  });
});
