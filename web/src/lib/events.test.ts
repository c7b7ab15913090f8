import { describe, expect, it } from "vitest";
import { actionLabel, authTypeLabel, changeText } from "./events";

describe("event formatting", () => {
  it("names how the actor signed in", () => {
    expect(authTypeLabel("jwt")).toBe("JWT");
    expect(authTypeLabel("550e8400-e29b-41d4-a716-446655440000")).toBe("API token 550e8400");
    expect(authTypeLabel(undefined)).toBe("-");
  });
  it("shows changes as field: old → new, times as dates", () => {
    expect(changeText({ field: "name", old: "ci", new: "ci-2" })).toBe("name: ci → ci-2");
    expect(changeText({ field: "rotatedFrom", new: "abc" })).toBe("rotatedFrom: abc");
    expect(changeText({ field: "disabled", old: "false", new: "true" })).toBe("disabled: false → true");
    expect(changeText({ field: "tokenExpiration", old: "1764633600", new: "1764720000" }, "UTC")).toBe(
      "tokenExpiration: 2025-12-02 00:00:00 → 2025-12-03 00:00:00",
    );
    expect(changeText({ field: "name", old: "x", new: "" })).toBe("name: x → (none)");
  });
  it("labels actions", () => {
    expect(actionLabel("rotate")).toBe("Rotated");
    expect(actionLabel("something_new")).toBe("something_new");
  });
});
