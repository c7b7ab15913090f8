// What every page needs about the signed-in user: the API client, roles,
// username, the self-service setting, and a place for flash messages.
import { createContext, useContext } from "react";
import type { FlashbarProps } from "@cloudscape-design/components/flashbar";
import type { ApiClient } from "./lib/api";
import type { ConsoleConfig } from "./lib/config";
import type { Roles } from "./lib/roles";
import type { CreatedToken } from "./lib/tokens";

export interface SettingsState {
  loading: boolean;
  /** undefined while unknown (loading, or GET /settings failed). */
  allowUserManagedTokens?: boolean;
  error?: string;
}

export interface Session {
  config: ConsoleConfig;
  api: ApiClient;
  roles: Roles;
  username: string;
  timeZone: string;
  settings: SettingsState;
  setAllowUserManagedTokens: (v: boolean) => void;
  notify: (item: Omit<FlashbarProps.MessageDefinition, "id"> & { id?: string }) => void;
  /** Shows a newly created token once. */
  showCreated: (created: CreatedToken) => void;
}

export const SessionContext = createContext<Session | null>(null);

export function useSession(): Session {
  const s = useContext(SessionContext);
  if (!s) throw new Error("useSession outside SessionContext");
  return s;
}
