// Audit events of a token as GET /api-tokens/{id}/events lists them, and how
// the history shows them.
import { formatDateTime } from "./dates";

export type EventAction = "create" | "update" | "disable" | "enable" | "rotate" | "delete" | "revoke_user" | "settings";

export interface EventChange {
  field: string;
  old?: string;
  new?: string;
}

export interface TokenEvent {
  eventId: string;
  time: number;
  action: EventAction | string;
  actor: string;
  /** "jwt", or the UUID of the API token the actor used. */
  authType: string;
  sourceIp?: string;
  userAgent?: string;
  tokenUUID: string;
  username?: string;
  changes?: EventChange[];
}

const ACTION_LABEL: Record<string, string> = {
  create: "Created",
  update: "Updated",
  disable: "Disabled",
  enable: "Enabled",
  rotate: "Rotated",
  delete: "Deleted",
  revoke_user: "Revoked with all of the user's tokens",
  settings: "Settings changed",
};

export function actionLabel(action: string): string {
  return ACTION_LABEL[action] ?? action;
}

/** "JWT" for a sign-in, "API token 1234abcd" (the UUID's first 8 characters) for a call made with a token. */
export function authTypeLabel(authType: string | undefined): string {
  if (!authType) return "-";
  if (authType.toLowerCase() === "jwt") return "JWT";
  return `API token ${authType.slice(0, 8)}`;
}

/** Fields whose values are Unix seconds; shown as dates when a time zone is given. */
const TIME_FIELDS = new Set(["tokenExpiration", "disabledAt", "updatedAt", "createdDate", "lastUsedAt"]);

function value(field: string, v: string | undefined, timeZone?: string): string {
  if (v === undefined || v === "") return "(none)";
  if (timeZone && TIME_FIELDS.has(field) && /^\d+$/.test(v)) return formatDateTime(Number(v), timeZone);
  return v;
}

/** "field: old → new" ("field: new" when there was no old value). */
export function changeText(c: EventChange, timeZone?: string): string {
  if ((c.old === undefined || c.old === "") && c.new !== undefined) return `${c.field}: ${value(c.field, c.new, timeZone)}`;
  return `${c.field}: ${value(c.field, c.old, timeZone)} → ${value(c.field, c.new, timeZone)}`;
}
