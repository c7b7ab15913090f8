// The admin's list of every token, kept while the console is open so that
// moving between pages does not reload 10,000 tokens.
import { useCallback, useRef, useState } from "react";
import { errorMessage, type ApiClient } from "./lib/api";
import { PartialLoadError } from "./lib/paginate";
import { toRow, toRows, type CreatedToken, type TokenItem, type TokenRow } from "./lib/tokens";

export interface TokenStore {
  rows: TokenRow[];
  loading: boolean;
  loaded: number;
  error?: string;
  loadedOnce: boolean;
  reload: () => void;
  ensureLoaded: () => void;
  add: (created: CreatedToken) => void;
  remove: (tokenUUID: string) => void;
}

export function createdToItem(c: CreatedToken): TokenItem {
  return {
    tokenUUID: c.tokenUUID,
    tokenExpiration: c.tokenExpiration,
    createdDate: c.createdDate,
    username: c.username,
    createdBy: c.createdBy,
    createdVia: c.createdVia,
    name: c.name,
    groups: c.groups ?? [],
    isSystemToken: c.isSystemToken,
    isExpired: false,
    isLegacy: false,
    // The create answer carries the limits like a list item: without them
    // the token would look like one from a server without limits.
    ...(c.limits !== undefined && { limits: c.limits }),
    ...(c.effectiveLimits !== undefined && { effectiveLimits: c.effectiveLimits }),
  };
}

export function useTokenStore(api: ApiClient): TokenStore {
  const [rows, setRows] = useState<TokenRow[]>([]);
  const [loading, setLoading] = useState(false);
  const [loaded, setLoaded] = useState(0);
  const [error, setError] = useState<string>();
  const [loadedOnce, setLoadedOnce] = useState(false);
  const abortRef = useRef<AbortController | null>(null);
  const startedRef = useRef(false);

  const reload = useCallback(() => {
    abortRef.current?.abort();
    const ac = new AbortController();
    abortRef.current = ac;
    startedRef.current = true;
    setLoading(true);
    setLoaded(0);
    setError(undefined);
    api
      .listAll({ signal: ac.signal, onProgress: (l) => !ac.signal.aborted && setLoaded(l.length) })
      .then((items) => {
        if (ac.signal.aborted) return;
        setRows(toRows(items));
      })
      .catch((err) => {
        if (ac.signal.aborted) return;
        // Keep what was loaded before the error, and say it is incomplete.
        if (err instanceof PartialLoadError) setRows(toRows(err.partial));
        setError(errorMessage(err));
      })
      .finally(() => {
        if (ac.signal.aborted) return;
        setLoading(false);
        setLoadedOnce(true);
      });
  }, [api]);

  const ensureLoaded = useCallback(() => {
    if (!startedRef.current) reload();
  }, [reload]);

  const add = useCallback((c: CreatedToken) => {
    setRows((rs) => [toRow(createdToItem(c)), ...rs.filter((r) => r.tokenUUID !== c.tokenUUID)]);
  }, []);

  const remove = useCallback((tokenUUID: string) => {
    setRows((rs) => rs.filter((r) => r.tokenUUID !== tokenUUID));
  }, []);

  return { rows, loading, loaded, error, loadedOnce, reload, ensureLoaded, add, remove };
}
