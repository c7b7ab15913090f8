// The token table's preferences (page size, visible columns and their
// order), kept in localStorage so they survive a reload.

import { COLUMNS, type ColumnId } from "./tokens";

export interface ColumnDisplay {
  id: string;
  visible: boolean;
}

export interface TablePreferences {
  pageSize: number;
  contentDisplay: ColumnDisplay[];
}

export const PREFERENCES_KEY = "apitokens.console.tokenTable.v1";
export const PAGE_SIZES = [10, 20, 50, 100];

const HIDDEN_BY_DEFAULT: ColumnId[] = ["tokenUUID", "createdBy"];

export const DEFAULT_PREFERENCES: TablePreferences = {
  pageSize: 20,
  contentDisplay: COLUMNS.map((c) => ({ id: c.id, visible: !HIDDEN_BY_DEFAULT.includes(c.id) })),
};

/**
 * Takes stored preferences as far as they are valid: unknown columns are
 * dropped, missing ones added (hidden) at the end, and a page size that is
 * not offered falls back to the default.
 */
export function sanitizePreferences(value: unknown): TablePreferences {
  const v = (value && typeof value === "object" ? value : {}) as Partial<TablePreferences>;
  const pageSize = typeof v.pageSize === "number" && PAGE_SIZES.includes(v.pageSize) ? v.pageSize : DEFAULT_PREFERENCES.pageSize;
  const known = new Set<string>(COLUMNS.map((c) => c.id));
  const seen = new Set<string>();
  const contentDisplay: ColumnDisplay[] = [];
  if (Array.isArray(v.contentDisplay)) {
    for (const c of v.contentDisplay) {
      if (c && typeof c.id === "string" && known.has(c.id) && !seen.has(c.id)) {
        seen.add(c.id);
        contentDisplay.push({ id: c.id, visible: Boolean(c.visible) });
      }
    }
  }
  if (contentDisplay.length === 0) return { pageSize, contentDisplay: DEFAULT_PREFERENCES.contentDisplay.map((c) => ({ ...c })) };
  for (const c of COLUMNS) if (!seen.has(c.id)) contentDisplay.push({ id: c.id, visible: false });
  return { pageSize, contentDisplay };
}

type KV = Pick<Storage, "getItem" | "setItem">;

function defaultStorage(): KV | undefined {
  try {
    return globalThis.localStorage;
  } catch {
    return undefined;
  }
}

export function loadPreferences(storage: KV | undefined = defaultStorage()): TablePreferences {
  try {
    const raw = storage?.getItem(PREFERENCES_KEY);
    return sanitizePreferences(raw ? JSON.parse(raw) : undefined);
  } catch {
    return sanitizePreferences(undefined);
  }
}

export function savePreferences(prefs: TablePreferences, storage: KV | undefined = defaultStorage()): void {
  try {
    storage?.setItem(PREFERENCES_KEY, JSON.stringify(sanitizePreferences(prefs)));
  } catch {
    // A full or disabled storage only loses the preference.
  }
}
