import { describe, expect, it } from "vitest";
import { ApiError } from "./api";
import { fillDays, hasCost, isUsageUnavailable, lastDays, monthLabel, monthRange, normalizeTotals, recentMonths } from "./usage";

const NOW = Date.UTC(2026, 2, 15, 23, 30); // 2026-03-15 23:30 UTC

describe("usage ranges", () => {
  it("counts the last n UTC days including today", () => {
    expect(lastDays(30, NOW)).toEqual({ from: "2026-02-14", to: "2026-03-15" });
    expect(lastDays(1, NOW)).toEqual({ from: "2026-03-15", to: "2026-03-15" });
  });

  it("names months and their days", () => {
    expect(monthRange("2024-02")).toEqual({ from: "2024-02-01", to: "2024-02-29" });
    expect(monthRange("2026-12")).toEqual({ from: "2026-12-01", to: "2026-12-31" });
    expect(recentMonths(4, NOW)).toEqual(["2026-03", "2026-02", "2026-01", "2025-12"]);
    expect(monthLabel("2026-03")).toBe("March 2026");
  });
});

describe("fillDays", () => {
  it("gives every day of the range, with zeros where the API has none", () => {
    const days = fillDays([{ day: "2026-03-02", requests: 3, errors: 1, promptTokens: 10, completionTokens: 5, totalTokens: 15 }], "2026-03-01", "2026-03-03");
    expect(days.map((d) => [d.day, d.requests, d.totalTokens])).toEqual([
      ["2026-03-01", 0, 0],
      ["2026-03-02", 3, 15],
      ["2026-03-03", 0, 0],
    ]);
  });

  it("computes total tokens when the API leaves them out, and keeps the cost", () => {
    expect(normalizeTotals({ promptTokens: 2, completionTokens: 3, cost: 0.5 } as never)).toEqual({
      requests: 0,
      errors: 0,
      promptTokens: 2,
      completionTokens: 3,
      totalTokens: 5,
      cost: 0.5,
    });
    expect(hasCost([{ cost: 0 }, {}])).toBe(false);
    expect(hasCost([{ cost: 0.01 }])).toBe(true);
  });
});

describe("isUsageUnavailable", () => {
  it("takes 404, 405, 501 and 503 for a gateway without usage, not other errors", () => {
    for (const s of [404, 405, 501, 503]) expect(isUsageUnavailable(new ApiError(s, "x"))).toBe(true);
    for (const s of [0, 400, 401, 403, 500]) expect(isUsageUnavailable(new ApiError(s, "x"))).toBe(false);
    expect(isUsageUnavailable(new Error("x"))).toBe(false);
  });
});
