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
