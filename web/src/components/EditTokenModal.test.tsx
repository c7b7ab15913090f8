import { describe, expect, it } from "vitest";
import { editPatch, expirationDateOf } from "./EditTokenModal";
import { endOfDayUnix } from "../lib/dates";

describe("editPatch", () => {
  // Expires mid-day (set through the API), not at the end of a day.
  const token = { tokenUUID: "u", name: "ci", username: "bob", tokenExpiration: Date.UTC(2099, 2, 1, 12, 0, 0) / 1000 };

  it("keeps the exact expiry while the day is unchanged", () => {
    expect(expirationDateOf(token.tokenExpiration, "UTC")).toBe("2099-03-01");
    expect(editPatch(token, "ci", "2099/03/01", "UTC")).toEqual({});
    expect(editPatch(token, " ci-2 ", "2099/03/01", "UTC")).toEqual({ name: "ci-2" });
  });

  it("sends the end of the new day in the user's zone", () => {
    expect(editPatch(token, "ci", "2099/03/05", "Europe/Berlin")).toEqual({ tokenExpiration: endOfDayUnix("2099-03-05", "Europe/Berlin") });
    expect(editPatch(token, "x", "2099-03-05", "UTC")).toEqual({ name: "x", tokenExpiration: endOfDayUnix("2099-03-05", "UTC") });
  });
});
