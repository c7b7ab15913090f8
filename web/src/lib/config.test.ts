import { describe, expect, it } from "vitest";
import { parseConfig } from "./config";
import { deleteNotice } from "../messages";

const base = { authority: "http://127.0.0.1:8080/dev-oidc", clientId: "lisa-local", apiUrl: "http://127.0.0.1:8080/" };

describe("parseConfig", () => {
  it("reads the revocation bound and the username claim when present", () => {
    const c = parseConfig({ ...base, revocationSeconds: 30, usernameClaim: "oid" });
    expect(c.revocationSeconds).toBe(30);
    expect(c.usernameClaim).toBe("oid");
    expect(c.apiUrl).toBe("http://127.0.0.1:8080");
  });
  it("ignores a revocation bound that is not a whole number of seconds", () => {
    for (const v of [-1, 1.5, "10", null]) expect(parseConfig({ ...base, revocationSeconds: v }).revocationSeconds).toBeUndefined();
  });
  it("names what is missing", () => {
    expect(() => parseConfig({ ...base, clientId: "" })).toThrow(/clientId/);
  });
});

describe("deleteNotice", () => {
  it("states the deployment's bound", () => {
    expect(deleteNotice()).toContain("within 10 seconds on model calls");
    expect(deleteNotice(1)).toContain("within 1 second on model calls");
    expect(deleteNotice(0)).toContain("at once");
  });
});
