// The token API client. Every call carries the ID token as a bearer
// credential; a 401 is reported to onUnauthorized so the UI can ask the user
// to sign in again.

import { loadAllPages, type Page } from "./paginate";
import type { TokenEvent } from "./events";
import type { Limits } from "./limits";
import type { CreatedToken, TokenItem } from "./tokens";
import type { TokenUsage, UsageOverview } from "./usage";

export class ApiError extends Error {
  readonly status: number;
  /** The machine-readable reason some answers carry, e.g. "limits_raised". */
  readonly code?: string;
  constructor(status: number, message: string, code?: string) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
  }
}

export interface Settings {
  allowUserManagedTokens: boolean;
  [k: string]: unknown;
}

export interface AdminCreateRequest {
  name: string;
  groups: string[];
  isSystemToken: boolean;
  tokenExpiration: number;
  /** The token's own limits; left out for the deployment's defaults. */
  limits?: Limits;
}

export interface OwnCreateRequest {
  name: string;
  tokenExpiration: number;
}

/** PATCH /api-tokens/{id}: only the fields that change. */
export interface TokenPatch {
  name?: string;
  tokenExpiration?: number;
  disabled?: boolean;
  /** Replaces the token's own limits; null clears them (the defaults apply). */
  limits?: Limits | null;
}

export interface RevokeUserResult {
  deleted: number;
  tokenUUIDs: string[];
}

export const LIST_PAGE_SIZE = 1000;
export const EVENTS_PAGE_SIZE = 50;

export interface ApiClientOptions {
  baseUrl: string;
  getToken: () => string | undefined;
  onUnauthorized?: (err: ApiError) => void;
  fetchFn?: typeof fetch;
}

export class ApiClient {
  private readonly base: string;
  private readonly opts: ApiClientOptions;

  constructor(opts: ApiClientOptions) {
    this.opts = opts;
    this.base = opts.baseUrl.replace(/\/+$/, "");
  }

  async request<T>(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
    const headers: Record<string, string> = { Accept: "application/json" };
    const token = this.opts.getToken();
    if (token) headers.Authorization = `Bearer ${token}`;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const fetchFn = this.opts.fetchFn ?? fetch;
    let res: Response;
    try {
      res = await fetchFn(this.base + path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal,
        cache: "no-store",
      });
    } catch (err) {
      if (signal?.aborted) throw err;
      throw new ApiError(0, `Cannot reach the token API at ${this.base}: ${err instanceof Error ? err.message : String(err)}`);
    }
    const text = await res.text();
    let data: unknown = undefined;
    if (text) {
      try {
        data = JSON.parse(text);
      } catch {
        data = undefined;
      }
    }
    if (!res.ok) {
      const msg =
        data && typeof data === "object" && typeof (data as { message?: unknown }).message === "string"
          ? (data as { message: string }).message
          : `The token API answered HTTP ${res.status}${res.statusText ? " " + res.statusText : ""}`;
      const rawCode = data && typeof data === "object" ? (data as { code?: unknown; error?: { code?: unknown } }).code ?? (data as { error?: { code?: unknown } }).error?.code : undefined;
      const err = new ApiError(res.status, msg, typeof rawCode === "string" ? rawCode : undefined);
      if (res.status === 401) this.opts.onUnauthorized?.(err);
      throw err;
    }
    return data as T;
  }

  /** One page of GET /api-tokens/. */
  async listPage(nextToken?: string, opts: { username?: string; limit?: number; signal?: AbortSignal } = {}): Promise<Page<TokenItem>> {
    const q = new URLSearchParams({ limit: String(opts.limit ?? LIST_PAGE_SIZE) });
    if (nextToken) q.set("nextToken", nextToken);
    if (opts.username) q.set("username", opts.username);
    const res = await this.request<{ tokens?: TokenItem[]; nextToken?: string }>("GET", `/api-tokens/?${q}`, undefined, opts.signal);
    return { items: Array.isArray(res?.tokens) ? res.tokens : [], nextToken: res?.nextToken || undefined };
  }

  /** Every token the caller may see (admins: all), page after page. */
  listAll(opts: { username?: string; onProgress?: (loaded: TokenItem[]) => void; signal?: AbortSignal } = {}): Promise<TokenItem[]> {
    return loadAllPages((next, signal) => this.listPage(next, { username: opts.username, signal }), {
      onProgress: opts.onProgress,
      signal: opts.signal,
    });
  }

  createForUser(username: string, req: AdminCreateRequest): Promise<CreatedToken> {
    return this.request<CreatedToken>("POST", `/api-tokens/${encodeURIComponent(username)}`, req);
  }

  createOwn(req: OwnCreateRequest): Promise<CreatedToken> {
    return this.request<CreatedToken>("POST", "/api-tokens/", req);
  }

  deleteToken(tokenUUID: string): Promise<{ message: string; tokenUUID: string }> {
    return this.request("DELETE", `/api-tokens/${encodeURIComponent(tokenUUID)}`);
  }

  /** Changes a token's name, expiry or disabled flag; answers the token as it is now. */
  updateToken(tokenUUID: string, patch: TokenPatch): Promise<TokenItem> {
    return this.request<TokenItem>("PATCH", `/api-tokens/${encodeURIComponent(tokenUUID)}`, patch);
  }

  /** Replaces a token by a new one; the old one works for gracePeriod ("0s".."7d") more. */
  rotateToken(tokenUUID: string, gracePeriod: string): Promise<CreatedToken> {
    return this.request<CreatedToken>("POST", `/api-tokens/${encodeURIComponent(tokenUUID)}/rotate`, { gracePeriod });
  }

  /** Admins: deletes every token of username (system tokens too when asked). */
  revokeUserTokens(username: string, includeSystemTokens: boolean): Promise<RevokeUserResult> {
    const q = new URLSearchParams({ username, includeSystemTokens: String(includeSystemTokens) });
    return this.request<RevokeUserResult>("DELETE", `/api-tokens/?${q}`);
  }

  /** One page of a token's audit events, newest first. */
  async tokenEvents(tokenUUID: string, nextToken?: string, limit = EVENTS_PAGE_SIZE): Promise<Page<TokenEvent>> {
    const q = new URLSearchParams({ limit: String(limit) });
    if (nextToken) q.set("nextToken", nextToken);
    const res = await this.request<{ events?: TokenEvent[]; nextToken?: string }>("GET", `/api-tokens/${encodeURIComponent(tokenUUID)}/events?${q}`);
    return { items: Array.isArray(res?.events) ? res.events : [], nextToken: res?.nextToken || undefined };
  }

  /** A token's usage per day (UTC) and in total; without a range the API's default (the last 30 days). */
  tokenUsage(tokenUUID: string, range: { from?: string; to?: string } = {}, signal?: AbortSignal): Promise<TokenUsage> {
    const q = new URLSearchParams();
    if (range.from) q.set("from", range.from);
    if (range.to) q.set("to", range.to);
    const qs = q.toString() ? `?${q}` : "";
    return this.request<TokenUsage>("GET", `/api-tokens/${encodeURIComponent(tokenUUID)}/usage${qs}`, undefined, signal);
  }

  /** Admins: the top users and tokens of a period (the API's default: this month). */
  usageOverview(opts: { from?: string; to?: string; username?: string } = {}, signal?: AbortSignal): Promise<UsageOverview> {
    const q = new URLSearchParams();
    if (opts.username) q.set("username", opts.username);
    if (opts.from) q.set("from", opts.from);
    if (opts.to) q.set("to", opts.to);
    const qs = q.toString() ? `?${q}` : "";
    return this.request<UsageOverview>("GET", `/api-token-usage${qs}`, undefined, signal);
  }

  getSettings(): Promise<Settings> {
    return this.request<Settings>("GET", "/settings");
  }

  putSettings(s: { allowUserManagedTokens: boolean }): Promise<Settings> {
    return this.request<Settings>("PUT", "/settings", s);
  }
}

/** The message to show for any error. */
export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message || err.name;
  return String(err);
}
