import { describe, expect, it } from "vitest";
import { DEFAULT_PREFERENCES, loadPreferences, PREFERENCES_KEY, sanitizePreferences, savePreferences } from "./preferences";

function memoryStorage() {
  const m = new Map<string, string>();
  return { getItem: (k: string) => m.get(k) ?? null, setItem: (k: string, v: string) => void m.set(k, v), m };
}

describe("preferences", () => {
  it("defaults when nothing is stored", () => {
    expect(loadPreferences(memoryStorage())).toEqual(DEFAULT_PREFERENCES);
    expect(DEFAULT_PREFERENCES.contentDisplay.find((c) => c.id === "tokenUUID")?.visible).toBe(false);
  });

  it("round-trips page size, visibility and order", () => {
    const s = memoryStorage();
    const prefs = {
      pageSize: 50,
      contentDisplay: [...DEFAULT_PREFERENCES.contentDisplay].reverse().map((c) => ({ id: c.id, visible: c.id !== "groups" })),
    };
    savePreferences(prefs, s);
    expect(s.m.has(PREFERENCES_KEY)).toBe(true);
    expect(loadPreferences(s)).toEqual(prefs);
  });

  it("repairs what it cannot use", () => {
    const s = memoryStorage();
    s.setItem(PREFERENCES_KEY, "{not json");
    expect(loadPreferences(s)).toEqual(DEFAULT_PREFERENCES);
    const fixed = sanitizePreferences({ pageSize: 7, contentDisplay: [{ id: "name", visible: true }, { id: "bogus", visible: true }, { id: "name", visible: false }] });
    expect(fixed.pageSize).toBe(DEFAULT_PREFERENCES.pageSize);
    expect(fixed.contentDisplay[0]).toEqual({ id: "name", visible: true });
    expect(fixed.contentDisplay.map((c) => c.id).sort()).toEqual(DEFAULT_PREFERENCES.contentDisplay.map((c) => c.id).sort());
    expect(fixed.contentDisplay.filter((c) => c.visible)).toEqual([{ id: "name", visible: true }]);
  });

  it("survives a storage that throws", () => {
    const broken = {
      getItem: () => {
        throw new Error("denied");
      },
      setItem: () => {
        throw new Error("full");
      },
    };
    expect(loadPreferences(broken)).toEqual(DEFAULT_PREFERENCES);
    expect(() => savePreferences(DEFAULT_PREFERENCES, broken)).not.toThrow();
  });
});
