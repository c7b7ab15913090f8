import { describe, expect, it } from "vitest";
import { addDays, lastUsedText, relativeTime, defaultExpirationDate, localTimeZone, endOfDayUnix, formatWithZone, parseDate, todayIn, zoneOffsetMs } from "./dates";

const iso = (s: number) => new Date(s * 1000).toISOString();

describe("endOfDayUnix", () => {
  it("is 23:59:59 local on an ordinary day", () => {
    expect(iso(endOfDayUnix("2027-03-01", "Europe/Berlin"))).toBe("2027-03-01T22:59:59.000Z");
    expect(iso(endOfDayUnix("2027-07-01", "Europe/Berlin"))).toBe("2027-07-01T21:59:59.000Z");
    expect(iso(endOfDayUnix("2027-01-15", "America/New_York"))).toBe("2027-01-16T04:59:59.000Z");
    expect(iso(endOfDayUnix("2027-01-15", "UTC"))).toBe("2027-01-15T23:59:59.000Z");
    expect(iso(endOfDayUnix("2027-01-15", "Asia/Kolkata"))).toBe("2027-01-15T18:29:59.000Z");
  });

  it("uses the offset in force at the end of a DST day in Europe/Berlin", () => {
    // 2026-03-29: clocks go 02:00 -> 03:00 (CET -> CEST); the day ends in CEST.
    expect(iso(endOfDayUnix("2026-03-29", "Europe/Berlin"))).toBe("2026-03-29T21:59:59.000Z");
    expect(iso(endOfDayUnix("2026-03-28", "Europe/Berlin"))).toBe("2026-03-28T22:59:59.000Z");
    // 2026-10-25: clocks go 03:00 -> 02:00 (CEST -> CET); the day ends in CET.
    expect(iso(endOfDayUnix("2026-10-25", "Europe/Berlin"))).toBe("2026-10-25T22:59:59.000Z");
    expect(iso(endOfDayUnix("2026-10-24", "Europe/Berlin"))).toBe("2026-10-24T21:59:59.000Z");
  });

  it("uses the offset in force at the end of a DST day in America/New_York", () => {
    // 2026-03-08: EST -> EDT.
    expect(iso(endOfDayUnix("2026-03-08", "America/New_York"))).toBe("2026-03-09T03:59:59.000Z");
    expect(iso(endOfDayUnix("2026-03-07", "America/New_York"))).toBe("2026-03-08T04:59:59.000Z");
    // 2026-11-01: EDT -> EST.
    expect(iso(endOfDayUnix("2026-11-01", "America/New_York"))).toBe("2026-11-02T04:59:59.000Z");
    expect(iso(endOfDayUnix("2026-10-31", "America/New_York"))).toBe("2026-11-01T03:59:59.000Z");
  });

  it("makes DST days 23 and 25 hours long", () => {
    const len = (d: string, z: string) => endOfDayUnix(d, z) - endOfDayUnix(addDays(d, -1), z);
    expect(len("2026-03-29", "Europe/Berlin")).toBe(23 * 3600);
    expect(len("2026-10-25", "Europe/Berlin")).toBe(25 * 3600);
    expect(len("2026-03-08", "America/New_York")).toBe(23 * 3600);
    expect(len("2026-11-01", "America/New_York")).toBe(25 * 3600);
    expect(len("2026-06-01", "Europe/Berlin")).toBe(24 * 3600);
  });

  it("rejects what is not a calendar date", () => {
    expect(() => endOfDayUnix("2027-02-30", "UTC")).toThrow(/not a date/);
    expect(() => endOfDayUnix("27-2-3", "UTC")).toThrow(/not a date/);
    expect(parseDate("2028-02-29")).toEqual({ year: 2028, month: 2, day: 29 });
    expect(parseDate("2027-02-29")).toBeUndefined();
  });
});

describe("formatting", () => {
  it("formats with the zone name", () => {
    expect(formatWithZone(endOfDayUnix("2027-03-01", "Europe/Berlin"), "Europe/Berlin")).toBe("2027-03-01 23:59:59 Europe/Berlin");
    expect(formatWithZone(endOfDayUnix("2026-11-01", "America/New_York"), "America/New_York")).toBe(
      "2026-11-01 23:59:59 America/New_York",
    );
    expect(formatWithZone(0, "UTC")).toBe("1970-01-01 00:00:00 UTC");
  });

  it("round-trips every day of a year through end of day and back", () => {
    for (const zone of ["Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Pacific/Chatham"]) {
      let d = "2026-01-01";
      for (let i = 0; i < 366; i++) {
        expect(formatWithZone(endOfDayUnix(d, zone), zone)).toBe(`${d} 23:59:59 ${zone}`);
        d = addDays(d, 1);
      }
    }
  });

  it("computes zone offsets", () => {
    expect(zoneOffsetMs(Date.UTC(2026, 6, 1), "Europe/Berlin")).toBe(2 * 3600 * 1000);
    expect(zoneOffsetMs(Date.UTC(2026, 0, 1), "America/New_York")).toBe(-5 * 3600 * 1000);
  });
});

describe("today and defaults", () => {
  it("knows today in a zone", () => {
    const now = Date.UTC(2026, 11, 31, 23, 30); // 2026-12-31 23:30 UTC
    expect(todayIn("UTC", now)).toBe("2026-12-31");
    expect(todayIn("Europe/Berlin", now)).toBe("2027-01-01");
    expect(todayIn("America/New_York", now)).toBe("2026-12-31");
  });

  it("defaults to today + 90 days", () => {
    expect(defaultExpirationDate("UTC", Date.UTC(2026, 0, 1, 12))).toBe("2026-04-01");
    expect(addDays("2028-02-28", 1)).toBe("2028-02-29");
    expect(addDays("2026-12-31", 1)).toBe("2027-01-01");
  });
});

describe("the browser's own zone", () => {
  it("follows process.env.TZ", () => {
    const saved = process.env.TZ;
    try {
      process.env.TZ = "America/New_York";
      expect(localTimeZone()).toBe("America/New_York");
      const z = localTimeZone();
      expect(formatWithZone(endOfDayUnix("2026-03-08", z), z)).toBe("2026-03-08 23:59:59 America/New_York");
      process.env.TZ = "Europe/Berlin";
      expect(localTimeZone()).toBe("Europe/Berlin");
    } finally {
      if (saved === undefined) delete process.env.TZ;
      else process.env.TZ = saved;
    }
  });
});

describe("relative times", () => {
  const now = 1_800_000_000_000;
  const ago = (s: number) => now / 1000 - s;
  it("says how long ago, in the largest whole unit", () => {
    expect(relativeTime(ago(10), now)).toBe("just now");
    expect(relativeTime(ago(5 * 60), now)).toBe("5 minutes ago");
    expect(relativeTime(ago(3600), now)).toBe("1 hour ago");
    expect(relativeTime(ago(86400), now)).toBe("yesterday");
    expect(relativeTime(ago(3 * 86400), now)).toBe("3 days ago");
    expect(relativeTime(ago(90 * 86400), now)).toBe("3 months ago");
    expect(relativeTime(ago(-7200), now)).toBe("in 2 hours");
  });
  it("says Never for a token never used", () => {
    expect(lastUsedText(undefined, now)).toBe("Never");
    expect(lastUsedText(ago(120), now)).toBe("2 minutes ago");
  });
});
