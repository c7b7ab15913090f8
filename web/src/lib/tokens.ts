// Token items as the API lists them, and the table's filtering and sorting
// rules (kept free of React so they can be tested directly).
import type { Limits } from "./limits";

/** A token as GET /api-tokens/ lists it (never its secret). */
export interface TokenItem {
  tokenUUID: string;
  tokenExpiration: number;
  createdDate: number;
  username: string;
  createdBy: string;
  createdVia?: string;
  name: string;
  groups: string[];
  isSystemToken: boolean;
  isExpired: boolean;
  isLegacy: boolean;
  // Lifecycle fields; older servers send none of them.
  status?: ApiTokenStatus;
  disabled?: boolean;
  disabledBy?: string;
  disabledByAdmin?: boolean;
  disabledAt?: number;
  updatedAt?: number;
  /** Unix seconds of the last authenticated call (coarse); absent when never used. */
  lastUsedAt?: number;
  /** The token this one replaced by rotation. */
  rotatedFrom?: string;
  /** The token that replaced this one; it still works until tokenExpiration (the grace period). */
  rotatedTo?: string;
  /** The token's own limits; absent when it has none. */
  limits?: Limits;
  /** The limits that apply (own, else group, else default); older servers send none. */
  effectiveLimits?: Limits;
  /**
   * The key its usage is counted under, as the usage report names it, when
   * not its own tokenUUID: one per user for personal tokens, the first of its
   * rotations for a system token.
   */
  usageKey?: string;
}

/** The status the API reports for a token. */
export type ApiTokenStatus = "active" | "expired" | "disabled" | "rotated";

/** The answer to a create: the token (shown once) and the item's fields. */
export interface CreatedToken {
  token: string;
  tokenUUID: string;
  tokenExpiration: number;
  createdDate: number;
  username: string;
  createdBy: string;
  createdVia?: string;
  name: string;
  groups: string[];
  isSystemToken: boolean;
  /** Set by a rotation: the token this one replaces. */
  rotatedFrom?: string;
  /** Set by a rotation: when the replaced token stops working (Unix seconds). */
  previousTokenExpiration?: number;
  /** As on TokenItem: the token's own limits and those that apply. */
  limits?: Limits;
  effectiveLimits?: Limits;
}

export type TokenStatus = "Active" | "Expired" | "Disabled" | "Rotated" | "Legacy";

/** What the table shows for a status. */
export const STATUS_LABEL: Record<TokenStatus, string> = {
  Active: "Active",
  Expired: "Expired",
  Disabled: "Disabled",
  Rotated: "Rotated (grace period)",
  Legacy: "Legacy",
};

/**
 * Legacy wins, then Disabled, then Expired (a token past its expiry counts as
 * Expired even before a reload says so), then Rotated. The API's status is
 * used when it sends one; older servers send only isExpired.
 */
export function tokenStatus(
  t: Pick<TokenItem, "isLegacy" | "isExpired" | "tokenExpiration" | "status" | "disabled" | "rotatedTo">,
  nowSeconds = Date.now() / 1000,
): TokenStatus {
  if (t.isLegacy) return "Legacy";
  if (t.status === "disabled" || t.disabled) return "Disabled";
  if (t.status === "expired" || t.isExpired || (t.tokenExpiration > 0 && t.tokenExpiration <= nowSeconds)) return "Expired";
  if (t.status === "rotated" || (t.status === undefined && t.rotatedTo)) return "Rotated";
  return "Active";
}

/** Whether a token can still be edited, disabled, enabled or rotated (the API refuses legacy items). */
export function isManageable(t: Pick<TokenItem, "isLegacy">): boolean {
  return !t.isLegacy;
}

/**
 * A table row: the item plus what filtering and sorting need, computed once
 * per load rather than on every render or comparison.
 */
export interface TokenRow extends Omit<TokenItem, "status"> {
  status: TokenStatus;
  groupsText: string;
  /** Lower-cased name, username, creator and groups, for the text filter. */
  searchText: string;
}

export function toRow(t: TokenItem, nowSeconds = Date.now() / 1000): TokenRow {
  const groups = Array.isArray(t.groups) ? t.groups : [];
  const groupsText = groups.join(", ");
  return {
    ...t,
    groups,
    status: tokenStatus(t, nowSeconds),
    groupsText,
    searchText: [t.name, t.username, t.createdBy, ...groups].join("\n").toLowerCase(),
  };
}

export function toRows(items: TokenItem[], nowSeconds = Date.now() / 1000): TokenRow[] {
  return items.map((t) => toRow(t, nowSeconds));
}

/** The text filter: every word of text must occur in the name, username, creator or a group (case-insensitive). */
export function matchesFilter(row: Pick<TokenRow, "searchText">, text: string): boolean {
  const words = text.toLowerCase().split(/\s+/).filter(Boolean);
  return words.every((w) => row.searchText.includes(w));
}

const collator = new Intl.Collator(undefined, { sensitivity: "base", numeric: true });

function byString(a: string, b: string): number {
  return collator.compare(a ?? "", b ?? "");
}
function byNumber(a: number, b: number): number {
  return (a ?? 0) - (b ?? 0);
}
/** false before true. */
function byBoolean(a: boolean, b: boolean): number {
  return Number(Boolean(a)) - Number(Boolean(b));
}

const STATUS_ORDER: Record<TokenStatus, number> = { Active: 0, Rotated: 1, Disabled: 2, Expired: 3, Legacy: 4 };

export type ColumnId =
  | "name"
  | "username"
  | "createdBy"
  | "created"
  | "expires"
  | "status"
  | "lastUsed"
  | "groups"
  | "system"
  | "tokenUUID";

export interface ColumnSpec {
  id: ColumnId;
  header: string;
  /** Ascending order; the table reverses it for descending. Ties fall back to the token UUID so the order is stable. */
  compare: (a: TokenRow, b: TokenRow) => number;
}

function withTie(cmp: (a: TokenRow, b: TokenRow) => number): (a: TokenRow, b: TokenRow) => number {
  return (a, b) => cmp(a, b) || (a.tokenUUID < b.tokenUUID ? -1 : a.tokenUUID > b.tokenUUID ? 1 : 0);
}

/** The token table's columns in their default order, each with its sort order. */
export const COLUMNS: readonly ColumnSpec[] = [
  { id: "name", header: "Token name", compare: withTie((a, b) => byString(a.name, b.name)) },
  { id: "username", header: "Username", compare: withTie((a, b) => byString(a.username, b.username)) },
  { id: "createdBy", header: "Created by", compare: withTie((a, b) => byString(a.createdBy, b.createdBy)) },
  { id: "created", header: "Created", compare: withTie((a, b) => byNumber(a.createdDate, b.createdDate)) },
  { id: "expires", header: "Expires", compare: withTie((a, b) => byNumber(a.tokenExpiration, b.tokenExpiration)) },
  { id: "status", header: "Status", compare: withTie((a, b) => STATUS_ORDER[a.status] - STATUS_ORDER[b.status]) },
  { id: "lastUsed", header: "Last used", compare: withTie((a, b) => byNumber(a.lastUsedAt ?? 0, b.lastUsedAt ?? 0)) },
  { id: "groups", header: "Groups", compare: withTie((a, b) => byString(a.groupsText, b.groupsText)) },
  { id: "system", header: "System token", compare: withTie((a, b) => byBoolean(a.isSystemToken, b.isSystemToken)) },
  { id: "tokenUUID", header: "Token UUID", compare: withTie(() => 0) },
];

export function columnSpec(id: string): ColumnSpec | undefined {
  return COLUMNS.find((c) => c.id === id);
}

/** The user's own token: their one non-system, non-legacy token, the newest if several. */
export function ownToken(items: TokenItem[], username?: string): TokenItem | undefined {
  return items
    .filter((t) => !t.isSystemToken && !t.isLegacy && (username === undefined || t.username === username))
    .sort((a, b) => b.createdDate - a.createdDate)[0];
}

/**
 * Comparators for one loaded set of rows that compare precomputed ranks
 * instead of collating strings: each column is sorted once (on first use)
 * with its COLUMNS comparator, after which every comparison is a number
 * subtraction. This keeps re-sorting 10,000 rows cheap.
 */
export function rankedComparators(rows: readonly TokenRow[]): Record<ColumnId, (a: TokenRow, b: TokenRow) => number> {
  const out = {} as Record<ColumnId, (a: TokenRow, b: TokenRow) => number>;
  for (const col of COLUMNS) {
    let rank: Map<TokenRow, number> | undefined;
    out[col.id] = (a, b) => {
      if (!rank) {
        rank = new Map();
        const sorted = [...rows].sort(col.compare);
        for (let i = 0; i < sorted.length; i++) rank.set(sorted[i], i);
      }
      const ra = rank.get(a);
      const rb = rank.get(b);
      // Rows from another load (never expected) fall back to the full comparison.
      return ra === undefined || rb === undefined ? col.compare(a, b) : ra - rb;
    };
  }
  return out;
}
