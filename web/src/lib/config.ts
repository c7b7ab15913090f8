// The console's runtime configuration, read from /config.json on the
// console's own origin (written by whoever serves the build).

export interface ConsoleConfig {
  /** The OIDC issuer URL. */
  authority: string;
  clientId: string;
  /** Base URL of the token API, e.g. "http://127.0.0.1:8080". */
  apiUrl: string;
  /** Base URL of the model gateway (shown to users). */
  serveUrl: string;
  adminGroup: string;
  apiGroup: string;
  /** The ID token claim with the user's groups; may be a dotted path. */
  groupsClaim: string;
  /** Optional: the claim the API takes the username from (JWT_USERNAME_PROPERTY). */
  usernameClaim?: string;
  /** Optional: TOKEN_CACHE_SECONDS, the longest a deleted token still works on model calls. */
  revocationSeconds?: number;
}

export const CONFIG_PATH = "/config.json";

const REQUIRED = ["authority", "clientId", "apiUrl"] as const;

/** Checks a parsed config.json and fills in defaults; throws with a message naming what is wrong. */
export function parseConfig(value: unknown): ConsoleConfig {
  if (!value || typeof value !== "object" || Array.isArray(value)) throw new Error(`${CONFIG_PATH} is not a JSON object`);
  const v = value as Record<string, unknown>;
  for (const k of REQUIRED) {
    if (typeof v[k] !== "string" || (v[k] as string).trim() === "") throw new Error(`${CONFIG_PATH} has no "${k}"`);
  }
  const str = (k: string, dflt: string) => (typeof v[k] === "string" && (v[k] as string) !== "" ? (v[k] as string) : dflt);
  return {
    authority: (v.authority as string).trim(),
    clientId: (v.clientId as string).trim(),
    apiUrl: (v.apiUrl as string).trim().replace(/\/+$/, ""),
    serveUrl: str("serveUrl", ""),
    adminGroup: str("adminGroup", ""),
    apiGroup: str("apiGroup", ""),
    groupsClaim: str("groupsClaim", "groups"),
    usernameClaim: typeof v.usernameClaim === "string" && v.usernameClaim !== "" ? v.usernameClaim : undefined,
    revocationSeconds:
      typeof v.revocationSeconds === "number" && Number.isInteger(v.revocationSeconds) && v.revocationSeconds >= 0
        ? v.revocationSeconds
        : undefined,
  };
}

export async function loadConfig(fetchFn: typeof fetch = fetch): Promise<ConsoleConfig> {
  let res: Response;
  try {
    res = await fetchFn(CONFIG_PATH, { cache: "no-store", headers: { Accept: "application/json" } });
  } catch (err) {
    throw new Error(`Cannot load ${CONFIG_PATH}: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (!res.ok) throw new Error(`Cannot load ${CONFIG_PATH}: HTTP ${res.status}`);
  let body: unknown;
  try {
    body = await res.json();
  } catch {
    throw new Error(`${CONFIG_PATH} is not valid JSON`);
  }
  return parseConfig(body);
}
