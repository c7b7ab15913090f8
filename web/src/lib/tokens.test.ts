import { describe, expect, it } from "vitest";
import { COLUMNS, STATUS_LABEL, columnSpec, matchesFilter, ownToken, rankedComparators, tokenStatus, toRow, toRows, type TokenItem } from "./tokens";

const NOW = 1_800_000_000;

function item(over: Partial<TokenItem>): TokenItem {
  return {
    tokenUUID: "00000000-0000-4000-8000-000000000000",
    tokenExpiration: NOW + 1000,
    createdDate: NOW - 1000,
    username: "alice",
    createdBy: "admin",
    createdVia: "jwt",
    name: "Token",
    groups: [],
    isSystemToken: false,
    isExpired: false,
    isLegacy: false,
    ...over,
  };
}

describe("tokenStatus", () => {
  it("says Legacy, Expired or Active", () => {
    expect(tokenStatus(item({ isLegacy: true, isExpired: true }), NOW)).toBe("Legacy");
    expect(tokenStatus(item({ isExpired: true }), NOW)).toBe("Expired");
    expect(tokenStatus(item({ tokenExpiration: NOW - 1 }), NOW)).toBe("Expired");
    expect(tokenStatus(item({}), NOW)).toBe("Active");
  });

  it("takes the API's status, Disabled winning over Expired", () => {
    expect(tokenStatus(item({ status: "active" }), NOW)).toBe("Active");
    expect(tokenStatus(item({ status: "disabled", disabled: true, isExpired: true }), NOW)).toBe("Disabled");
    expect(tokenStatus(item({ status: "expired", isExpired: true }), NOW)).toBe("Expired");
    expect(tokenStatus(item({ status: "rotated", rotatedTo: "n" }), NOW)).toBe("Rotated");
    // A rotated token whose grace period ended before a reload.
    expect(tokenStatus(item({ status: "rotated", tokenExpiration: NOW - 1 }), NOW)).toBe("Expired");
    expect(tokenStatus(item({ isLegacy: true, status: "active" }), NOW)).toBe("Legacy");
    expect(STATUS_LABEL.Rotated).toBe("Rotated (grace period)");
  });

  it("falls back to isExpired and the flags from older servers without status", () => {
    expect(tokenStatus(item({ isExpired: true }), NOW)).toBe("Expired");
    expect(tokenStatus(item({ disabled: true }), NOW)).toBe("Disabled");
    expect(tokenStatus(item({ rotatedTo: "n" }), NOW)).toBe("Rotated");
  });
});

describe("matchesFilter", () => {
  const row = toRow(item({ name: "CI Pipeline", username: "bob", createdBy: "carol", groups: ["developers", "lisa-api-users"] }), NOW);
  it("matches name, username, creator and groups, ignoring case", () => {
    expect(matchesFilter(row, "pipeline")).toBe(true);
    expect(matchesFilter(row, "BOB")).toBe(true);
    expect(matchesFilter(row, "carol")).toBe(true);
    expect(matchesFilter(row, "developers")).toBe(true);
    expect(matchesFilter(row, "api-users")).toBe(true);
    expect(matchesFilter(row, "")).toBe(true);
  });
  it("needs every word to match somewhere", () => {
    expect(matchesFilter(row, "bob developers")).toBe(true);
    expect(matchesFilter(row, "bob zebra")).toBe(false);
  });
  it("does not match the token UUID or other fields", () => {
    expect(matchesFilter(row, "00000000")).toBe(false);
    expect(matchesFilter(row, "jwt")).toBe(false);
  });
});

describe("column comparators", () => {
  const a = toRow(item({ tokenUUID: "a", name: "alpha", username: "zed", createdBy: "m", createdDate: 3, tokenExpiration: NOW + 5, groups: ["b"], isSystemToken: true }), NOW);
  const b = toRow(item({ tokenUUID: "b", name: "Beta", username: "amy", createdBy: "n", createdDate: 1, tokenExpiration: NOW - 5, groups: ["a"], isSystemToken: false }), NOW);
  const c = toRow(item({ tokenUUID: "c", name: "gamma 10", username: "Bo", createdBy: "l", createdDate: 2, tokenExpiration: NOW + 1, groups: [], isLegacy: true }), NOW);
  const sortBy = (id: string) => [a, b, c].sort(columnSpec(id)!.compare).map((r) => r.tokenUUID).join("");

  it("has one sortable spec per column, with the table's headers", () => {
    expect(COLUMNS.map((c) => c.header)).toEqual([
      "Token name",
      "Username",
      "Created by",
      "Created",
      "Expires",
      "Status",
      "Last used",
      "Groups",
      "System token",
      "Token UUID",
    ]);
  });
  it("sorts strings case-insensitively", () => {
    expect(sortBy("name")).toBe("abc");
    expect(sortBy("username")).toBe("bca");
    expect(sortBy("createdBy")).toBe("cab");
    expect(sortBy("groups")).toBe("cba");
  });
  it("sorts dates as numbers", () => {
    expect(sortBy("created")).toBe("bca");
    expect(sortBy("expires")).toBe("bca");
  });
  it("sorts status Active, Expired, Legacy", () => {
    expect(sortBy("status")).toBe("abc");
  });
  it("sorts last used as a time, never used first", () => {
    const used = toRow(item({ tokenUUID: "u", lastUsedAt: NOW - 10 }), NOW);
    const older = toRow(item({ tokenUUID: "o", lastUsedAt: NOW - 1000 }), NOW);
    const never = toRow(item({ tokenUUID: "n" }), NOW);
    expect([used, never, older].sort(columnSpec("lastUsed")!.compare).map((r) => r.tokenUUID)).toEqual(["n", "o", "u"]);
  });
  it("sorts booleans false first", () => {
    expect(sortBy("system")).toBe("bca");
  });
  it("breaks ties by token UUID", () => {
    expect(sortBy("tokenUUID")).toBe("abc");
    const x = toRow(item({ tokenUUID: "x", name: "same" }), NOW);
    const y = toRow(item({ tokenUUID: "y", name: "same" }), NOW);
    expect([y, x].sort(columnSpec("name")!.compare).map((r) => r.tokenUUID)).toEqual(["x", "y"]);
  });
  it("ranked comparators sort like the column comparators, and re-sort 10,000 rows cheaply", () => {
    const rows = toRows(
      Array.from({ length: 10_000 }, (_, i) =>
        item({ tokenUUID: `u${i}`, name: `token ${(i * 7919) % 10_000}`, username: `user${i % 37}`, createdDate: (i * 31) % 997, isSystemToken: i % 3 === 0 }),
      ),
      NOW,
    );
    const ranked = rankedComparators(rows);
    for (const col of COLUMNS) {
      expect([...rows].sort(ranked[col.id]).map((r) => r.tokenUUID)).toEqual([...rows].sort(col.compare).map((r) => r.tokenUUID));
    }
    const t0 = performance.now();
    for (let i = 0; i < 10; i++) [...rows].sort(ranked.name);
    expect((performance.now() - t0) / 10).toBeLessThan(200);
  });
});

describe("ownToken", () => {
  it("picks the newest non-system, non-legacy token", () => {
    const items = [
      item({ tokenUUID: "sys", isSystemToken: true, createdDate: 9 }),
      item({ tokenUUID: "leg", isLegacy: true, createdDate: 8 }),
      item({ tokenUUID: "old", createdDate: 1 }),
      item({ tokenUUID: "new", createdDate: 2 }),
      item({ tokenUUID: "bob", username: "bob", createdDate: 3 }),
    ];
    expect(ownToken(items, "alice")?.tokenUUID).toBe("new");
    expect(ownToken(items)?.tokenUUID).toBe("bob");
    expect(ownToken([], "alice")).toBeUndefined();
  });
});
