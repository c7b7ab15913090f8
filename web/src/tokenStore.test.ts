import { describe, expect, it } from "vitest";
import { createdToItem } from "./tokenStore";

describe("createdToItem", () => {
  it("keeps the limits of the create answer, so the token shows as one from a server with limits", () => {
    const item = createdToItem({
      token: "t", tokenUUID: "u", tokenExpiration: 2, createdDate: 1, username: "alice", createdBy: "alice",
      name: "n", groups: ["g"], isSystemToken: false, effectiveLimits: {}, limits: { requestsPerMinute: 5 },
    });
    expect(item.effectiveLimits).toEqual({});
    expect(item.limits).toEqual({ requestsPerMinute: 5 });
    expect("token" in item).toBe(false);
  });
  it("adds no limit fields when an older server sent none", () => {
    const item = createdToItem({
      token: "t", tokenUUID: "u", tokenExpiration: 2, createdDate: 1, username: "alice", createdBy: "alice",
      name: "n", groups: [], isSystemToken: false,
    });
    expect("effectiveLimits" in item).toBe(false);
    expect("limits" in item).toBe(false);
  });
});
