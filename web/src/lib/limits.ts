// A token's limits as the API sends and takes them, and the form rules for
// entering them: every field is optional (empty = no limit of the token's
// own, so the deployment's defaults apply), request and token limits are
// whole numbers of at least 1, the budget a positive amount.

/** The token API's limits object; an absent field sets no limit from that source. */
export interface Limits {
  requestsPerMinute?: number;
  requestsPerHour?: number;
  requestsPerDay?: number;
  tokensPerDay?: number;
  tokensPerMonth?: number;
  budgetPerMonth?: number;
}

export type LimitKey = keyof Limits;

export interface LimitSpec {
  key: LimitKey;
  label: string;
  /** The unit after a value, e.g. "requests / minute". */
  unit: string;
  integer: boolean;
}

export const LIMIT_FIELDS: readonly LimitSpec[] = [
  { key: "requestsPerMinute", label: "Requests per minute", unit: "requests / minute", integer: true },
  { key: "requestsPerHour", label: "Requests per hour", unit: "requests / hour", integer: true },
  { key: "requestsPerDay", label: "Requests per day", unit: "requests / day", integer: true },
  { key: "tokensPerDay", label: "Model tokens per day", unit: "tokens / day", integer: true },
  { key: "tokensPerMonth", label: "Model tokens per month", unit: "tokens / month", integer: true },
  { key: "budgetPerMonth", label: "Budget per month", unit: "per month", integer: false },
];

/** What the form's inputs hold, one string per field ("" = not set). */
export type LimitValues = Record<LimitKey, string>;
export type LimitErrors = Partial<Record<LimitKey, string>>;

export const EMPTY_LIMIT_VALUES: LimitValues = {
  requestsPerMinute: "",
  requestsPerHour: "",
  requestsPerDay: "",
  tokensPerDay: "",
  tokensPerMonth: "",
  budgetPerMonth: "",
};

/** The form's values for a token's own limits. */
export function limitValuesOf(own: Limits | null | undefined): LimitValues {
  const v = { ...EMPTY_LIMIT_VALUES };
  for (const f of LIMIT_FIELDS) {
    const n = own?.[f.key];
    if (typeof n === "number" && Number.isFinite(n)) v[f.key] = String(n);
  }
  return v;
}

/** Why a field's text is not a valid limit, or undefined. */
export function limitProblem(spec: LimitSpec, text: string): string | undefined {
  const t = text.trim();
  if (t === "") return undefined;
  if (spec.integer) {
    if (!/^\d+$/.test(t)) return "Enter a whole number of at least 1, or leave it empty.";
    const n = Number(t);
    if (n < 1) return "Enter a whole number of at least 1, or leave it empty.";
    if (!Number.isSafeInteger(n)) return "The number is too large.";
    return undefined;
  }
  if (!/^\d+(\.\d+)?$|^\.\d+$/.test(t)) return "Enter an amount greater than 0, e.g. 25 or 12.50, or leave it empty.";
  if (!(Number(t) > 0) || !Number.isFinite(Number(t))) return "Enter an amount greater than 0, e.g. 25 or 12.50, or leave it empty.";
  return undefined;
}

/** The problems of every field. */
export function limitsProblems(values: LimitValues): LimitErrors {
  const errs: LimitErrors = {};
  for (const f of LIMIT_FIELDS) {
    const p = limitProblem(f, values[f.key] ?? "");
    if (p) errs[f.key] = p;
  }
  return errs;
}

export function hasProblems(errs: LimitErrors): boolean {
  return LIMIT_FIELDS.some((f) => errs[f.key]);
}

/** The limits the form's (valid) values set; undefined when none is set. */
export function limitsFromValues(values: LimitValues): Limits | undefined {
  const out: Limits = {};
  for (const f of LIMIT_FIELDS) {
    const t = (values[f.key] ?? "").trim();
    if (t !== "") out[f.key] = Number(t);
  }
  return Object.keys(out).length ? out : undefined;
}

function sameLimits(a: Limits | undefined, b: Limits | undefined): boolean {
  return LIMIT_FIELDS.every((f) => (a?.[f.key] ?? null) === (b?.[f.key] ?? null));
}

/**
 * What an edit sends for the limits: undefined when they did not change (the
 * key is left out of the PATCH), null when every field was cleared (the
 * token goes back to the defaults), else the complete new set (the API
 * replaces the token's own limits with it).
 */
export function limitsPatch(own: Limits | null | undefined, values: LimitValues): Limits | null | undefined {
  const next = limitsFromValues(values);
  if (sameLimits(own ?? undefined, next)) return undefined;
  return next ?? null;
}

/**
 * For a user editing their own token: the fields that would raise the token's
 * effective limits (a higher value, or clearing a field whose limit is then
 * unknown is left to the API). The API has the last word (limits_raised).
 */
export function raisedFields(effective: Limits | undefined, values: LimitValues): LimitErrors {
  const errs: LimitErrors = {};
  if (!effective) return errs;
  for (const f of LIMIT_FIELDS) {
    const cur = effective[f.key];
    const t = (values[f.key] ?? "").trim();
    if (typeof cur === "number" && t !== "" && !limitProblem(f, t) && Number(t) > cur) {
      errs[f.key] = `You can only lower this limit: at most ${formatLimitValue(f, cur)}.`;
    }
  }
  return errs;
}

const intFmt = new Intl.NumberFormat("en-US");
const moneyFmt = new Intl.NumberFormat("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });

export function formatLimitValue(spec: LimitSpec, n: number): string {
  return spec.integer ? intFmt.format(n) : moneyFmt.format(n);
}

/** "1,000 requests / minute", "25.00 per month". */
export function formatLimit(spec: LimitSpec, n: number): string {
  return `${formatLimitValue(spec, n)} ${spec.unit}`;
}

/** One line per limit that is set, e.g. ["60 requests / minute", "25.00 per month"]. */
export function limitLines(l: Limits | null | undefined): string[] {
  if (!l) return [];
  return LIMIT_FIELDS.filter((f) => typeof l[f.key] === "number").map((f) => formatLimit(f, l[f.key]!));
}

/** The limit field an API message names (e.g. "limits.tokensPerDay ..."), or undefined. */
export function limitFieldForMessage(message: string | undefined): LimitKey | undefined {
  if (!message) return undefined;
  for (const f of LIMIT_FIELDS) if (new RegExp(`\\b${f.key}\\b`, "i").test(message)) return f.key;
  return undefined;
}

/** Whether an API message is about the limits at all. */
export function isLimitsMessage(message: string | undefined, code?: string): boolean {
  if (code === "limits_raised") return true;
  if (!message) return false;
  return /\blimits\b|limits_raised/i.test(message) || limitFieldForMessage(message) !== undefined;
}
