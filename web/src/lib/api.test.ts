import { describe, expect, it, vi } from "vitest";
import { ApiClient, ApiError } from "./api";
import { parseConfig } from "./config";

function jsonResponse(status: number, body: unknown): Response {
  return new Response(body === undefined ? "" : JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
}

describe("ApiClient", () => {
  it("sends the ID token and pages through every token", async () => {
    const fetchFn = vi.fn(async (url: string | URL | Request, _init?: RequestInit) => {
      const u = new URL(String(url));
      expect(u.pathname).toBe("/prod/api-tokens/");
      expect(u.searchParams.get("limit")).toBe("1000");
      return u.searchParams.get("nextToken") === "n1"
        ? jsonResponse(200, { tokens: [{ tokenUUID: "b" }] })
        : jsonResponse(200, { tokens: [{ tokenUUID: "a" }], nextToken: "n1" });
    });
    const api = new ApiClient({ baseUrl: "https://api.example/prod/", getToken: () => "jwt", fetchFn: fetchFn as typeof fetch });
    const progress: number[] = [];
    const all = await api.listAll({ onProgress: (l) => progress.push(l.length) });
    expect(all.map((t) => t.tokenUUID)).toEqual(["a", "b"]);
    expect(progress).toEqual([1, 2]);
    const init = fetchFn.mock.calls[0][1]!;
    expect((init.headers as Record<string, string>).Authorization).toBe("Bearer jwt");
  });

  it("turns error answers into ApiError with the API's message, and reports 401", async () => {
    const onUnauthorized = vi.fn();
    const answers = [jsonResponse(400, { message: "name is required" }), jsonResponse(401, { message: "Unauthorized" }), new Response("oops", { status: 502 })];
    const api = new ApiClient({ baseUrl: "http://x", getToken: () => undefined, onUnauthorized, fetchFn: (async () => answers.shift()!) as typeof fetch });
    await expect(api.createOwn({ name: "", tokenExpiration: 1 })).rejects.toMatchObject({ status: 400, message: "name is required" });
    expect(onUnauthorized).not.toHaveBeenCalled();
    await expect(api.getSettings()).rejects.toBeInstanceOf(ApiError);
    expect(onUnauthorized).toHaveBeenCalledTimes(1);
    await expect(api.deleteToken("legacy-0123456789abcdef")).rejects.toMatchObject({ status: 502, message: expect.stringContaining("502") });
  });

  it("encodes path parts and sends JSON bodies", async () => {
    const fetchFn = vi.fn(async () => jsonResponse(201, { token: "t" }));
    const api = new ApiClient({ baseUrl: "http://x", getToken: () => "j", fetchFn: fetchFn as unknown as typeof fetch });
    await api.createForUser("a b?", { name: "n", groups: ["g"], isSystemToken: false, tokenExpiration: 5 });
    const [url, init] = fetchFn.mock.calls[0] as unknown as [string, RequestInit];
    expect(url).toBe("http://x/api-tokens/a%20b%3F");
    expect(init.method).toBe("POST");
    expect(JSON.parse(init.body as string)).toEqual({ name: "n", groups: ["g"], isSystemToken: false, tokenExpiration: 5 });
  });

  it("says when the API cannot be reached", async () => {
    const api = new ApiClient({ baseUrl: "http://x", getToken: () => "j", fetchFn: (async () => { throw new TypeError("Failed to fetch"); }) as typeof fetch });
    await expect(api.getSettings()).rejects.toMatchObject({ status: 0, message: expect.stringContaining("Cannot reach") });
  });
});

describe("parseConfig", () => {
  it("takes a full config and defaults the rest", () => {
    expect(parseConfig({ authority: "http://i", clientId: "c", apiUrl: "http://a/" })).toMatchObject({
      apiUrl: "http://a",
      groupsClaim: "groups",
      adminGroup: "",
    });
    expect(() => parseConfig({ clientId: "c" })).toThrow(/authority/);
    expect(() => parseConfig([])).toThrow(/object/);
  });
});

describe("ApiClient token lifecycle", () => {
  function recorder(answer: (method: string, url: URL) => Response) {
    const calls: { method: string; url: URL; body: unknown }[] = [];
    const fetchFn = (async (url: string | URL | Request, init?: RequestInit) => {
      const u = new URL(String(url));
      const method = init?.method ?? "GET";
      calls.push({ method, url: u, body: init?.body ? JSON.parse(String(init.body)) : undefined });
      return answer(method, u);
    }) as typeof fetch;
    return { calls, api: new ApiClient({ baseUrl: "http://x", getToken: () => "jwt", fetchFn }) };
  }

  it("patches, rotates, revokes a user's tokens and pages through events", async () => {
    const { calls, api } = recorder((method, u) => {
      if (method === "GET") return jsonResponse(200, u.searchParams.get("nextToken") ? { events: [{ eventId: "2" }] } : { events: [{ eventId: "1" }], nextToken: "p2" });
      if (method === "DELETE") return jsonResponse(200, { deleted: 2, tokenUUIDs: ["a", "b"] });
      return jsonResponse(method === "POST" ? 201 : 200, { tokenUUID: "t" });
    });
    await api.updateToken("a/b", { name: "x" });
    expect(calls[0]).toMatchObject({ method: "PATCH", body: { name: "x" } });
    expect(calls[0].url.pathname).toBe("/api-tokens/a%2Fb");
    await api.rotateToken("u1", "24h");
    expect(calls[1]).toMatchObject({ method: "POST", body: { gracePeriod: "24h" } });
    expect(calls[1].url.pathname).toBe("/api-tokens/u1/rotate");
    expect(await api.revokeUserTokens("bob smith", true)).toEqual({ deleted: 2, tokenUUIDs: ["a", "b"] });
    expect(calls[2].method).toBe("DELETE");
    expect(calls[2].url.pathname).toBe("/api-tokens/");
    expect(calls[2].url.searchParams.get("username")).toBe("bob smith");
    expect(calls[2].url.searchParams.get("includeSystemTokens")).toBe("true");
    const p1 = await api.tokenEvents("u1");
    expect(p1).toEqual({ items: [{ eventId: "1" }], nextToken: "p2" });
    expect(calls[3].url.pathname).toBe("/api-tokens/u1/events");
    const p2 = await api.tokenEvents("u1", p1.nextToken);
    expect(calls[4].url.searchParams.get("nextToken")).toBe("p2");
    expect(p2).toEqual({ items: [{ eventId: "2" }], nextToken: undefined });
  });
});
