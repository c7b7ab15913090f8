import { describe, expect, it } from "vitest";
import { act, fireEvent, render, screen, within } from "@testing-library/react";
import TokenHistoryModal from "./TokenHistoryModal";
import type { TokenEvent } from "../lib/events";
import { fakeApi } from "../testing/fakeApi";

const UUID = "550e8400-e29b-41d4-a716-446655440000";

function ev(i: number, over: Partial<TokenEvent> = {}): TokenEvent {
  return {
    eventId: `e${i}`,
    time: 1764633600 - i * 60,
    action: "update",
    actor: "alice",
    authType: "jwt",
    sourceIp: "203.0.113.7",
    userAgent: "curl/8.5.0",
    tokenUUID: UUID,
    username: "bob",
    changes: [],
    ...over,
  };
}

function setup() {
  const fake = fakeApi({
    [`GET /api-tokens/${UUID}/events`]: (c) =>
      c.query.get("nextToken") === "page2"
        ? { status: 200, body: { events: [ev(3, { action: "create", actor: "admin", changes: [{ field: "name", new: "ci" }] })] } }
        : {
            status: 200,
            body: {
              events: [
                ev(1, { changes: [{ field: "name", old: "ci", new: "ci-2" }, { field: "disabled", old: "false", new: "true" }] }),
                ev(2, { action: "rotate", authType: "9f8e7d6c-0000-4000-8000-000000000000", sourceIp: "198.51.100.2" }),
              ],
              nextToken: "page2",
            },
          },
  });
  render(<TokenHistoryModal token={{ tokenUUID: UUID, name: "ci-2", username: "bob" }} timeZone="UTC" load={(u, n) => fake.api.tokenEvents(u, n)} onClose={() => undefined} />);
  return fake;
}

describe("TokenHistoryModal", () => {
  it("lists events with time, action, actor, how they signed in, source IP and changes", async () => {
    setup();
    const table = await screen.findByRole("table", { name: "Token history" });
    await within(table).findByText("name: ci → ci-2");
    expect(within(table).getByText("disabled: false → true")).toBeTruthy();
    expect(within(table).getByText("2025-12-01 23:59:00")).toBeTruthy();
    expect(within(table).getByText("Updated")).toBeTruthy();
    expect(within(table).getByText("Rotated")).toBeTruthy();
    expect(within(table).getAllByText("alice").length).toBe(2);
    expect(within(table).getByText("JWT")).toBeTruthy();
    expect(within(table).getByText("API token 9f8e7d6c")).toBeTruthy();
    expect(within(table).getByText("198.51.100.2")).toBeTruthy();
    expect(screen.getByText("History of ci-2")).toBeTruthy();
  });

  it("loads the next page with nextToken and stops at the last", async () => {
    const fake = setup();
    await screen.findByText("name: ci → ci-2");
    await act(async () => {
      fireEvent.click(screen.getByRole("button", { name: "Load more" }));
    });
    await screen.findByText("name: ci");
    expect(fake.calls.map((c) => c.query.get("nextToken"))).toEqual([null, "page2"]);
    // The first page is kept; the last page has no nextToken, so no button.
    expect(screen.getByText("name: ci → ci-2")).toBeTruthy();
    expect(screen.getByText("Created")).toBeTruthy();
    expect(screen.queryByRole("button", { name: "Load more" })).toBeNull();
  });

  it("shows the API's error", async () => {
    const fake = fakeApi({ [`GET /api-tokens/${UUID}/events`]: { status: 404, body: { message: "token not found" } } });
    render(<TokenHistoryModal token={{ tokenUUID: UUID, name: "x", username: "bob" }} timeZone="UTC" load={(u, n) => fake.api.tokenEvents(u, n)} onClose={() => undefined} />);
    expect(await screen.findByText("token not found")).toBeTruthy();
  });
});
