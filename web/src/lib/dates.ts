// Calendar-date helpers for token expirations. A token chosen to expire on a
// day expires at the END of that day (23:59:59) in the user's own time zone;
// everything here takes the IANA zone explicitly so it can be tested without
// touching the process time zone.

/** The browser's IANA time zone, e.g. "Europe/Berlin". */
export function localTimeZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
}

const partsFormatters = new Map<string, Intl.DateTimeFormat>();

function partsFormatter(timeZone: string): Intl.DateTimeFormat {
  let f = partsFormatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat("en-US", {
      timeZone,
      hourCycle: "h23",
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
      second: "2-digit",
    });
    partsFormatters.set(timeZone, f);
  }
  return f;
}

interface WallClock {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
}

/** The wall-clock time in timeZone at the instant ms (Unix milliseconds). */
export function wallClock(ms: number, timeZone: string): WallClock {
  const out: Record<string, number> = {};
  for (const p of partsFormatter(timeZone).formatToParts(new Date(ms))) {
    if (p.type !== "literal") out[p.type] = Number(p.value);
  }
  return {
    year: out.year,
    month: out.month,
    day: out.day,
    hour: out.hour === 24 ? 0 : out.hour,
    minute: out.minute,
    second: out.second,
  };
}

/** timeZone's offset from UTC at the instant ms, in milliseconds (east positive). */
export function zoneOffsetMs(ms: number, timeZone: string): number {
  const w = wallClock(ms, timeZone);
  const asUtc = Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute, w.second);
  return asUtc - Math.floor(ms / 1000) * 1000;
}

const DATE_RE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** Parses "YYYY-MM-DD" into its numbers, or undefined when it is not a real calendar date. */
export function parseDate(date: string): { year: number; month: number; day: number } | undefined {
  const m = DATE_RE.exec(date);
  if (!m) return undefined;
  const year = Number(m[1]);
  const month = Number(m[2]);
  const day = Number(m[3]);
  const d = new Date(Date.UTC(year, month - 1, day));
  if (d.getUTCFullYear() !== year || d.getUTCMonth() !== month - 1 || d.getUTCDate() !== day) return undefined;
  return { year, month, day };
}

/**
 * The Unix time (seconds) of 23:59:59 on the calendar day date ("YYYY-MM-DD")
 * in timeZone. Correct on DST days: the offset is the one in force at that
 * moment, not at midnight or "now".
 */
export function endOfDayUnix(date: string, timeZone: string): number {
  const d = parseDate(date);
  if (!d) throw new Error(`not a date: ${JSON.stringify(date)} (expected YYYY-MM-DD)`);
  const wall = Date.UTC(d.year, d.month - 1, d.day, 23, 59, 59);
  // Guess with the offset at the wall time read as UTC, then correct once
  // with the offset at the guessed instant (they differ only near a change).
  let t = wall - zoneOffsetMs(wall, timeZone);
  const second = wall - zoneOffsetMs(t, timeZone);
  if (second !== t) t = second;
  return Math.floor(t / 1000);
}

function pad(n: number, width = 2): string {
  return String(n).padStart(width, "0");
}

/** "YYYY-MM-DD HH:mm:ss" of a Unix time (seconds) in timeZone. */
export function formatDateTime(unixSeconds: number, timeZone: string): string {
  const w = wallClock(unixSeconds * 1000, timeZone);
  return `${pad(w.year, 4)}-${pad(w.month)}-${pad(w.day)} ${pad(w.hour)}:${pad(w.minute)}:${pad(w.second)}`;
}

/** "YYYY-MM-DD HH:mm:ss Zone/Name" of a Unix time (seconds) in timeZone. */
export function formatWithZone(unixSeconds: number, timeZone: string): string {
  return `${formatDateTime(unixSeconds, timeZone)} ${timeZone}`;
}

/** Today's calendar date ("YYYY-MM-DD") in timeZone. */
export function todayIn(timeZone: string, nowMs: number = Date.now()): string {
  const w = wallClock(nowMs, timeZone);
  return `${pad(w.year, 4)}-${pad(w.month)}-${pad(w.day)}`;
}

/** The calendar date n days after date (both "YYYY-MM-DD"). */
export function addDays(date: string, n: number): string {
  const d = parseDate(date);
  if (!d) throw new Error(`not a date: ${JSON.stringify(date)}`);
  const t = new Date(Date.UTC(d.year, d.month - 1, d.day + n));
  return `${pad(t.getUTCFullYear(), 4)}-${pad(t.getUTCMonth() + 1)}-${pad(t.getUTCDate())}`;
}

/** The default expiration date of a new token: today + 90 days in timeZone. */
export const DEFAULT_TOKEN_DAYS = 90;
export function defaultExpirationDate(timeZone: string, nowMs: number = Date.now()): string {
  return addDays(todayIn(timeZone, nowMs), DEFAULT_TOKEN_DAYS);
}

const UNITS: [Intl.RelativeTimeFormatUnit, number][] = [
  ["year", 365 * 86400],
  ["month", 30 * 86400],
  ["week", 7 * 86400],
  ["day", 86400],
  ["hour", 3600],
  ["minute", 60],
];

/**
 * A past (or future) Unix time (seconds) in words relative to now: "just now",
 * "5 minutes ago", "yesterday", "3 months ago"; "in 2 hours" for the future.
 */
export function relativeTime(unixSeconds: number, nowMs: number = Date.now()): string {
  const diff = unixSeconds - Math.floor(nowMs / 1000);
  const abs = Math.abs(diff);
  if (abs < 60) return "just now";
  const fmt = new Intl.RelativeTimeFormat("en", { numeric: "auto" });
  for (const [unit, secs] of UNITS) {
    if (abs >= secs) return fmt.format(Math.trunc(diff / secs), unit);
  }
  return "just now";
}

/** "Never" when the token was never used, else relativeTime. */
export function lastUsedText(lastUsedAt: number | undefined, nowMs: number = Date.now()): string {
  return lastUsedAt ? relativeTime(lastUsedAt, nowMs) : "Never";
}
