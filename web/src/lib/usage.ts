// Usage as the token API reports it (per UTC day, in total, and the admins'
// top consumers), and the pure rules the usage views need: ranges, filling
// the days without calls, formatting, and telling "this gateway has no
// usage" apart from a real error.
import { ApiError } from "./api";
import { addDays, todayIn } from "./dates";

export interface UsageTotals {
  requests: number;
  errors: number;
  promptTokens: number;
  completionTokens: number;
  totalTokens: number;
  /** In the budget unit; absent or 0 without model prices. */
  cost?: number;
}

export interface UsageDay extends UsageTotals {
  /** "YYYY-MM-DD" (UTC). */
  day: string;
}

/** GET /api-tokens/{id}/usage */
export interface TokenUsage {
  tokenUUID: string;
  from: string;
  to: string;
  days: UsageDay[];
  totals: UsageTotals;
}

export interface UserUsage extends UsageTotals {
  username: string;
}

export interface TokenUsageTotals extends UsageTotals {
  tokenUUID: string;
  username: string;
}

/** GET /api-token-usage: top consumers first. */
export interface UsageOverview {
  from: string;
  to: string;
  users: UserUsage[];
  tokens: TokenUsageTotals[];
}

export const USAGE_UNAVAILABLE = "Usage is not available on this gateway";

/**
 * Whether an error means the gateway has no usage to show: an older API
 * without the endpoints (404, 405, 501) or usage switched off or its store
 * unreachable (503).
 */
export function isUsageUnavailable(err: unknown): boolean {
  return err instanceof ApiError && [404, 405, 501, 503].includes(err.status);
}

/** A range of UTC days ending today: the last n days including today. */
export function lastDays(n: number, nowMs: number = Date.now()): { from: string; to: string } {
  const to = todayIn("UTC", nowMs);
  return { from: addDays(to, -(n - 1)), to };
}

/** "YYYY-MM" of the current UTC month. */
export function currentMonth(nowMs: number = Date.now()): string {
  return todayIn("UTC", nowMs).slice(0, 7);
}

/** The first and last day of a month "YYYY-MM". */
export function monthRange(month: string): { from: string; to: string } {
  const [y, m] = month.split("-").map(Number);
  const last = new Date(Date.UTC(y, m, 0)).getUTCDate();
  return { from: `${month}-01`, to: `${month}-${String(last).padStart(2, "0")}` };
}

/** The last n months, newest first, as "YYYY-MM". */
export function recentMonths(n: number, nowMs: number = Date.now()): string[] {
  const [y, m] = currentMonth(nowMs).split("-").map(Number);
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const d = new Date(Date.UTC(y, m - 1 - i, 1));
    out.push(`${d.getUTCFullYear()}-${String(d.getUTCMonth() + 1).padStart(2, "0")}`);
  }
  return out;
}

const monthFmt = new Intl.DateTimeFormat("en-US", { month: "long", year: "numeric", timeZone: "UTC" });

/** "March 2026" for "2026-03". */
export function monthLabel(month: string): string {
  const [y, m] = month.split("-").map(Number);
  return monthFmt.format(new Date(Date.UTC(y, m - 1, 1)));
}

const ZERO: UsageTotals = { requests: 0, errors: 0, promptTokens: 0, completionTokens: 0, totalTokens: 0 };

function num(v: unknown): number {
  return typeof v === "number" && Number.isFinite(v) ? v : 0;
}

/** A day's or a total's figures with every count a number (totalTokens from the parts when absent). */
export function normalizeTotals<T extends Partial<UsageTotals>>(t: T | undefined): UsageTotals {
  const prompt = num(t?.promptTokens);
  const completion = num(t?.completionTokens);
  const out: UsageTotals = {
    requests: num(t?.requests),
    errors: num(t?.errors),
    promptTokens: prompt,
    completionTokens: completion,
    totalTokens: typeof t?.totalTokens === "number" ? t.totalTokens : prompt + completion,
  };
  if (typeof t?.cost === "number" && Number.isFinite(t.cost)) out.cost = t.cost;
  return out;
}

/**
 * Every day from..to (at most 366), with the API's figures where it has
 * them and zeros elsewhere, so a chart shows the quiet days too.
 */
export function fillDays(days: readonly UsageDay[] | undefined, from: string, to: string): UsageDay[] {
  const byDay = new Map((days ?? []).map((d) => [d.day, d]));
  const out: UsageDay[] = [];
  if (/^\d{4}-\d{2}-\d{2}$/.test(from) && /^\d{4}-\d{2}-\d{2}$/.test(to)) {
    for (let d = from, i = 0; d <= to && i < 366; d = addDays(d, 1), i++) {
      const got = byDay.get(d);
      out.push({ day: d, ...(got ? normalizeTotals(got) : ZERO) });
      byDay.delete(d);
    }
  }
  // Days the API sent outside the range it named are kept, in order.
  for (const d of byDay.values()) out.push({ day: d.day, ...normalizeTotals(d) });
  return out.sort((a, b) => (a.day < b.day ? -1 : a.day > b.day ? 1 : 0));
}

/** Whether any figure has a cost (the deployment has model prices). */
export function hasCost(items: readonly Partial<UsageTotals>[]): boolean {
  return items.some((t) => typeof t.cost === "number" && t.cost > 0);
}

const intFmt = new Intl.NumberFormat("en-US");
const costFmt = new Intl.NumberFormat("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 4 });

export function formatCount(n: number | undefined): string {
  return intFmt.format(n ?? 0);
}

export function formatCost(n: number | undefined): string {
  return costFmt.format(n ?? 0);
}

/** "12k", "3.4M" for chart axes. */
export function shortCount(n: number): string {
  const a = Math.abs(n);
  if (a >= 1e9) return `${+(n / 1e9).toFixed(1)}G`;
  if (a >= 1e6) return `${+(n / 1e6).toFixed(1)}M`;
  if (a >= 1e3) return `${+(n / 1e3).toFixed(1)}k`;
  return String(+n.toFixed(2));
}
