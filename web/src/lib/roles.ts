// Roles and identity from the ID token's claims.

export type Claims = Record<string, unknown>;

/**
 * The value of claim in claims: the literal key first (so "cognito:groups"
 * or a URL-like key with dots works), then a dotted path into nested objects
 * ("realm_access.roles").
 */
export function claimAt(claims: Claims | undefined | null, claim: string): unknown {
  if (!claims || !claim) return undefined;
  if (Object.prototype.hasOwnProperty.call(claims, claim)) return claims[claim];
  let cur: unknown = claims;
  for (const part of claim.split(".")) {
    if (cur === null || typeof cur !== "object" || !Object.prototype.hasOwnProperty.call(cur, part)) return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

/** The groups a claim value holds: an array of strings, or one string (space- or comma-separated lists split). */
export function groupsFrom(value: unknown): string[] {
  if (Array.isArray(value)) return value.filter((v): v is string => typeof v === "string" && v !== "");
  if (typeof value === "string") return value.split(/[\s,]+/).filter(Boolean);
  return [];
}

export interface Roles {
  groups: string[];
  isAdmin: boolean;
  /** Members of the API group, and admins. */
  isApiUser: boolean;
}

export function rolesFrom(claims: Claims | undefined | null, groupsClaim: string, adminGroup: string, apiGroup: string): Roles {
  const groups = groupsFrom(claimAt(claims, groupsClaim || "groups"));
  const isAdmin = adminGroup !== "" && groups.includes(adminGroup);
  const isApiUser = isAdmin || (apiGroup !== "" && groups.includes(apiGroup));
  return { groups, isAdmin, isApiUser };
}

/** The claims the token API takes the username from, in its order. */
export const USERNAME_CLAIMS = ["cognito:username", "username", "preferred_username", "sub"];

/** The caller's username as the token API derives it (or from usernameClaim when the deployment sets one). */
export function usernameFrom(claims: Claims | undefined | null, usernameClaim?: string): string | undefined {
  const order = usernameClaim ? [usernameClaim] : USERNAME_CLAIMS;
  for (const c of order) {
    const v = claimAt(claims, c);
    if (typeof v === "string" && v.trim() !== "") return v;
  }
  return undefined;
}
