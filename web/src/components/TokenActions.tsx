// The per-token actions (edit, disable, enable, rotate, history, usage) and their
// dialogs, shared by the admin table and the user's own token page. After
// every change onChanged runs so the page reloads what it shows.
import { useCallback, useState } from "react";
import EditTokenModal from "./EditTokenModal";
import DisableTokenModal from "./DisableTokenModal";
import RotateTokenModal from "./RotateTokenModal";
import TokenDisplayModal from "./TokenDisplayModal";
import TokenHistoryModal from "./TokenHistoryModal";
import TokenUsageModal from "./TokenUsageModal";
import { errorMessage } from "../lib/api";
import { tokenStatus, type CreatedToken, type TokenItem, type TokenStatus } from "../lib/tokens";
import { useSession } from "../session";

export type TokenAction = "edit" | "disable" | "enable" | "rotate" | "history" | "usage";

/** The token fields the actions use (a table row or a listed item). */
export type ActionToken = Pick<TokenItem, "tokenUUID" | "name" | "username" | "tokenExpiration" | "isLegacy"> &
  Partial<Pick<TokenItem, "limits" | "effectiveLimits">> & {
    status: TokenStatus;
  };

export function actionToken(t: TokenItem): ActionToken {
  return { ...t, status: tokenStatus(t) };
}

/** Why an action is not offered for a token, or undefined when it is. */
export function actionDisabledReason(action: TokenAction, t: Pick<ActionToken, "status" | "isLegacy">): string | undefined {
  if (t.isLegacy && action === "usage") return "Legacy tokens have no usage.";
  if (t.isLegacy && action !== "history") return "Legacy tokens cannot be changed.";
  switch (action) {
    case "edit":
      return undefined;
    case "disable":
      return t.status === "Disabled" ? "The token is disabled already." : undefined;
    case "enable":
      return t.status === "Disabled" ? undefined : "The token is not disabled.";
    case "rotate":
      if (t.status === "Disabled") return "Enable the token before rotating it.";
      if (t.status === "Expired") return "An expired token cannot be rotated.";
      if (t.status === "Rotated") return "The token has been rotated already.";
      return undefined;
    case "history":
    case "usage":
      return undefined;
  }
}

export interface TokenActions {
  /** Starts an action on a token; Enable runs at once, the others open a dialog. */
  run: (action: TokenAction, token: ActionToken) => void;
  /** The dialogs; render them once on the page. */
  dialogs: React.ReactNode;
}

export function useTokenActions(onChanged: () => void): TokenActions {
  const { api, config, notify, roles, timeZone } = useSession();
  const [editing, setEditing] = useState<ActionToken | null>(null);
  const [disabling, setDisabling] = useState<ActionToken | null>(null);
  const [rotating, setRotating] = useState<ActionToken | null>(null);
  const [history, setHistory] = useState<ActionToken | null>(null);
  const [usage, setUsage] = useState<ActionToken | null>(null);
  // The new secret lives only here, in memory, until the dialog closes.
  const [rotated, setRotated] = useState<CreatedToken | null>(null);

  const label = (t: Pick<ActionToken, "name" | "tokenUUID">) => `"${t.name || t.tokenUUID}"`;

  const enable = useCallback(
    async (t: ActionToken) => {
      try {
        await api.updateToken(t.tokenUUID, { disabled: false });
        notify({ type: "success", content: `Token ${label(t)} enabled.`, dismissible: true });
      } catch (err) {
        notify({ type: "error", header: `Token ${label(t)} was not enabled`, content: errorMessage(err), dismissible: true });
      } finally {
        onChanged();
      }
    },
    [api, notify, onChanged],
  );

  const run = useCallback(
    (action: TokenAction, t: ActionToken) => {
      if (actionDisabledReason(action, t)) return;
      if (action === "edit") setEditing(t);
      else if (action === "disable") setDisabling(t);
      else if (action === "enable") void enable(t);
      else if (action === "rotate") setRotating(t);
      else if (action === "usage") setUsage(t);
      else setHistory(t);
    },
    [enable],
  );

  const loadEvents = useCallback((uuid: string, next?: string) => api.tokenEvents(uuid, next), [api]);
  const loadUsage = useCallback((uuid: string, range: { from: string; to: string }) => api.tokenUsage(uuid, range), [api]);

  const dialogs = (
    <>
      <EditTokenModal
        token={editing}
        timeZone={timeZone}
        canRaiseLimits={Boolean(roles?.isAdmin)}
        onCancel={() => setEditing(null)}
        onSave={async (uuid, patch) => {
          await api.updateToken(uuid, patch);
          notify({ type: "success", content: `Token ${label(editing!)} updated.`, dismissible: true });
          setEditing(null);
          onChanged();
        }}
      />
      <DisableTokenModal
        token={disabling}
        revocationSeconds={config.revocationSeconds}
        onCancel={() => setDisabling(null)}
        onDisable={async (uuid) => {
          await api.updateToken(uuid, { disabled: true });
          notify({ type: "success", content: `Token ${label(disabling!)} disabled.`, dismissible: true });
          setDisabling(null);
          onChanged();
        }}
      />
      <RotateTokenModal
        token={rotating}
        onCancel={() => setRotating(null)}
        rotate={(uuid, grace) => api.rotateToken(uuid, grace)}
        onRotated={(created) => {
          setRotating(null);
          setRotated(created);
          onChanged();
        }}
      />
      <TokenDisplayModal created={rotated} timeZone={timeZone} onClose={() => setRotated(null)} />
      <TokenHistoryModal token={history} timeZone={timeZone} load={loadEvents} onClose={() => setHistory(null)} />
      <TokenUsageModal token={usage} load={loadUsage} onClose={() => setUsage(null)} />
    </>
  );

  return { run, dialogs };
}
