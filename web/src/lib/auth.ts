// OIDC settings for the console: authorization code flow with PKCE (S256,
// oidc-client-ts's default for response_type "code"), no silent renew.

import type { UserManagerSettings } from "oidc-client-ts";
import type { ConsoleConfig } from "./config";

/**
 * Where the issuer sends the browser back after sign-in. The start page
 * itself, so any static host works without a fallback route; the app
 * finishes the sign-in there when the URL carries code and state.
 */
export const REDIRECT_PATH = "/";
export const POST_LOGOUT_PATH = "/";
export const SCOPE = "openid profile email";

export function userManagerSettings(config: ConsoleConfig, origin: string): UserManagerSettings {
  return {
    authority: config.authority,
    client_id: config.clientId,
    redirect_uri: origin + REDIRECT_PATH,
    post_logout_redirect_uri: origin + POST_LOGOUT_PATH,
    response_type: "code",
    scope: SCOPE,
    automaticSilentRenew: false,
    monitorSession: false,
    loadUserInfo: false,
    revokeTokensOnSignout: false,
  };
}

/** Seconds since the epoch at which the ID token expires (its exp claim), if known. */
export function idTokenExpiry(user: { profile?: { exp?: number }; expires_at?: number } | null | undefined): number | undefined {
  const exp = user?.profile?.exp;
  if (typeof exp === "number" && exp > 0) return exp;
  return user?.expires_at;
}
