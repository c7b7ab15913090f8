import { describe, expect, it, vi } from "vitest";
import { act, fireEvent, render, screen, within } from "@testing-library/react";
import MyTokenPage from "./MyTokenPage";
import type { TokenItem } from "../lib/tokens";
import { SessionContext, type Session } from "../session";
import { fakeApi, type Answer } from "../testing/fakeApi";
import { NOT_SHOWN_AGAIN } from "../messages";

const OWN: TokenItem = {
  tokenUUID: "11111111-0000-4000-8000-000000000001",
  tokenExpiration: 4_000_000_000,
  createdDate: 1_700_000_000,
  username: "jane",
  createdBy: "jane",
  name: "my laptop",
  groups: ["lisa-api-users"],
  isSystemToken: false,
  isExpired: false,
  isLegacy: false,
  status: "active",
  disabled: false,
};

function setup(list: () => Answer, extra: Record<string, Answer> = {}) {
  const fake = fakeApi({ "GET /api-tokens/": list, ...extra });
  const session = {
    api: fake.api,
    config: { apiGroup: "lisa-api-users" },
    roles: { isAdmin: false, isApiUser: true, groups: ["lisa-api-users"] },
    username: "jane",
    timeZone: "UTC",
    settings: { loading: false, allowUserManagedTokens: true },
    notify: vi.fn(),
    showCreated: vi.fn(),
  } as unknown as Session;
  render(
    <SessionContext.Provider value={session}>
      <MyTokenPage />
    </SessionContext.Provider>,
  );
  return fake;
}

async function click(el: HTMLElement) {
  await act(async () => {
    fireEvent.click(el);
  });
}

describe("MyTokenPage: lifecycle actions", () => {
  it("offers a user the actions on their own token and no admin action", async () => {
    setup(() => ({ status: 200, body: { tokens: [{ ...OWN, lastUsedAt: Math.floor(Date.now() / 1000) - 600 }] } }));
    await screen.findByText("my laptop");
    for (const name of ["History", "Edit", "Disable", "Rotate", "Delete"]) expect(screen.getByRole("button", { name })).toBeTruthy();
    expect(screen.getByText("10 minutes ago")).toBeTruthy();
    expect(screen.queryByRole("button", { name: "Revoke all tokens of a user" })).toBeNull();
    expect(screen.queryByRole("button", { name: "Actions" })).toBeNull();
  });

  it("rotates the token, shows the new one once and reloads to show it", async () => {
    let tokens = [OWN];
    const fake = setup(() => ({ status: 200, body: { tokens } }), {
      [`POST /api-tokens/${OWN.tokenUUID}/rotate`]: {
        status: 201,
        body: { ...OWN, tokenUUID: "new", token: "ef".repeat(64), rotatedFrom: OWN.tokenUUID, previousTokenExpiration: Math.floor(Date.now() / 1000) },
      },
    });
    await screen.findByText("my laptop");
    tokens = [
      { ...OWN, status: "rotated", rotatedTo: "new" },
      { ...OWN, tokenUUID: "22222222-0000-4000-8000-000000000002", createdDate: OWN.createdDate + 1, rotatedFrom: OWN.tokenUUID },
    ];
    await click(screen.getByRole("button", { name: "Rotate" }));
    await click(within(screen.getByRole("dialog")).getByRole("radio", { name: /None/ }));
    await click(within(screen.getByRole("dialog")).getByRole("button", { name: "Rotate" }));
    expect(fake.changes().map((c) => c.body)).toEqual([{ gracePeriod: "0s" }]);
    const display = screen.getByRole("dialog");
    expect(within(display).getByText(NOT_SHOWN_AGAIN)).toBeTruthy();
    expect(within(display).getByText("The old token has stopped working.")).toBeTruthy();
    await screen.findByText("22222222-0000-4000-8000-000000000002");
    expect(fake.calls.filter((c) => c.method === "GET" && c.path === "/api-tokens/").length).toBe(2);
  });

  it("offers Enable, not Disable or Rotate, for a disabled token", async () => {
    setup(() => ({ status: 200, body: { tokens: [{ ...OWN, status: "disabled", disabled: true }] } }));
    await screen.findByText("my laptop");
    expect(screen.getByText("Disabled")).toBeTruthy();
    expect(screen.getByRole("button", { name: "Enable" })).toBeTruthy();
    expect(screen.queryByRole("button", { name: "Disable" })).toBeNull();
    expect((screen.getByRole("button", { name: "Rotate" }) as HTMLButtonElement).getAttribute("aria-disabled")).toBe("true");
  });
});
