// API Token Management (admins): every token in a filterable, sortable,
// paginated table, with create, edit, disable, rotate, history, usage, delete,
// revoke-all-of-a-user and refresh.
import { memo, useCallback, useEffect, useMemo, useRef, useState } from "react";
import { useCollection } from "@cloudscape-design/collection-hooks";
import Alert from "@cloudscape-design/components/alert";
import Box from "@cloudscape-design/components/box";
import Button from "@cloudscape-design/components/button";
import ButtonDropdown, { type ButtonDropdownProps } from "@cloudscape-design/components/button-dropdown";
import CollectionPreferences from "@cloudscape-design/components/collection-preferences";
import Header from "@cloudscape-design/components/header";
import Pagination from "@cloudscape-design/components/pagination";
import SpaceBetween from "@cloudscape-design/components/space-between";
import StatusIndicator, { type StatusIndicatorProps } from "@cloudscape-design/components/status-indicator";
import Table, { type TableProps } from "@cloudscape-design/components/table";
import TextFilter from "@cloudscape-design/components/text-filter";
import DeleteTokenModal from "../components/DeleteTokenModal";
import RevokeUserTokensModal, { revokedText } from "../components/RevokeUserTokensModal";
import { actionDisabledReason, useTokenActions, type TokenAction } from "../components/TokenActions";
import { formatDateTime, formatWithZone, lastUsedText } from "../lib/dates";
import { loadPreferences, PAGE_SIZES, savePreferences, type TablePreferences } from "../lib/preferences";
import { COLUMNS, matchesFilter, rankedComparators, STATUS_LABEL, type ColumnId, type TokenRow, type TokenStatus } from "../lib/tokens";
import { navigate, ROUTES } from "../router";
import { useSession } from "../session";
import type { TokenStore } from "../tokenStore";

const STATUS_TYPE: Record<TokenStatus, StatusIndicatorProps.Type> = {
  Active: "success",
  Expired: "stopped",
  Disabled: "error",
  Rotated: "pending",
  Legacy: "warning",
};

export function TokenStatusIndicator({ status }: { status: TokenStatus }) {
  return <StatusIndicator type={STATUS_TYPE[status]}>{STATUS_LABEL[status]}</StatusIndicator>;
}

/** "5 minutes ago" or "Never", with the exact time on hover. */
export function LastUsed({ at, timeZone }: { at?: number; timeZone: string }) {
  if (!at) return <>Never</>;
  const exact = formatWithZone(at, timeZone);
  return <span title={exact}>{lastUsedText(at)}</span>;
}

function cellFor(id: ColumnId, timeZone: string): (r: TokenRow) => React.ReactNode {
  switch (id) {
    case "name":
      return (r) => r.name || "-";
    case "username":
      return (r) => r.username;
    case "createdBy":
      return (r) => r.createdBy || "-";
    case "created":
      return (r) => (r.createdDate ? formatDateTime(r.createdDate, timeZone) : "-");
    case "expires":
      return (r) => (r.tokenExpiration ? formatDateTime(r.tokenExpiration, timeZone) : "-");
    case "status":
      return (r) => <TokenStatusIndicator status={r.status} />;
    case "lastUsed":
      return (r) => <LastUsed at={r.lastUsedAt} timeZone={timeZone} />;
    case "groups":
      return (r) => r.groupsText || "-";
    case "system":
      return (r) => (r.isSystemToken ? "Yes" : "No");
    case "tokenUUID":
      // Legacy rows list their id ("legacy-<hex>"); no value is ever shown.
      return (r) => <Box variant="code">{r.tokenUUID}</Box>;
  }
}

function EmptyState({ title, action }: { title: string; action: React.ReactNode }) {
  return (
    <Box textAlign="center" color="inherit">
      <SpaceBetween size="xxs">
        <Box variant="strong" color="inherit">
          {title}
        </Box>
        {action}
      </SpaceBetween>
    </Box>
  );
}

export interface TokensPageProps {
  store: TokenStore;
}

export default function TokensPage({ store }: TokensPageProps) {
  const { api, config, notify, roles, timeZone } = useSession();
  const isAdmin = Boolean(roles?.isAdmin);
  const [toDelete, setToDelete] = useState<TokenRow | null>(null);
  const [revokeAll, setRevokeAll] = useState(false);
  useEffect(() => store.ensureLoaded(), [store.ensureLoaded]);
  const tokenActions = useTokenActions(store.reload);
  const onRevokeAll = useCallback(() => setRevokeAll(true), []);

  return (
    <SpaceBetween size="m">
      {store.error && (
        <Alert type="error" header={store.loadedOnce && store.rows.length ? "Not every token was loaded" : "The tokens could not be loaded"}>
          {store.error}
        </Alert>
      )}
      <TokenTable
        rows={store.rows}
        loading={store.loading}
        loaded={store.loaded}
        reload={store.reload}
        timeZone={timeZone}
        onDelete={setToDelete}
        onAction={tokenActions.run}
        onRevokeAll={isAdmin ? onRevokeAll : undefined}
      />
      {tokenActions.dialogs}
      {isAdmin && (
        <RevokeUserTokensModal
          visible={revokeAll}
          revocationSeconds={config.revocationSeconds}
          onCancel={() => setRevokeAll(false)}
          revoke={(u, includeSystem) => api.revokeUserTokens(u, includeSystem)}
          onRevoked={(u, res) => {
            setRevokeAll(false);
            notify({ type: "success", content: revokedText(res?.deleted ?? 0, u), dismissible: true });
            store.reload();
          }}
        />
      )}
      <DeleteTokenModal
        revocationSeconds={config.revocationSeconds}
        token={toDelete}
        onCancel={() => setToDelete(null)}
        onDelete={async (uuid) => {
          await api.deleteToken(uuid);
          store.remove(uuid);
          notify({ type: "success", content: `Token "${toDelete?.name || uuid}" deleted.`, dismissible: true });
          setToDelete(null);
          store.reload();
        }}
      />
    </SpaceBetween>
  );
}

interface TokenTableProps {
  rows: TokenRow[];
  loading: boolean;
  loaded: number;
  reload: () => void;
  timeZone: string;
  onDelete: (row: TokenRow) => void;
  onAction: (action: TokenAction, row: TokenRow) => void;
  /** Admins only: opens "Revoke all tokens of a user". */
  onRevokeAll?: () => void;
}

/** The Actions menu for the selected row. */
function actionItems(row: TokenRow | undefined): ButtonDropdownProps.Item[] {
  const item = (id: TokenAction, text: string): ButtonDropdownProps.Item => {
    const reason = row ? actionDisabledReason(id, row) : "Select a token first.";
    return { id, text, disabled: Boolean(reason), disabledReason: reason };
  };
  const toggle = row?.status === "Disabled" ? item("enable", "Enable") : item("disable", "Disable");
  return [item("edit", "Edit"), toggle, item("rotate", "Rotate"), item("history", "History"), item("usage", "Usage")];
}

// Memoized so that flash messages and dialogs do not re-filter and re-sort the table.
const TokenTable = memo(function TokenTable({ rows, loading, loaded, reload, timeZone, onDelete, onAction, onRevokeAll }: TokenTableProps) {
  const [prefs, setPrefs] = useState<TablePreferences>(() => loadPreferences());

  // Ranks per load; the column definitions stay the same objects and read
  // the current ranks, so the table's sorting state survives a reload.
  const ranked = useMemo(() => rankedComparators(rows), [rows]);
  const rankedRef = useRef(ranked);
  rankedRef.current = ranked;

  const columns = useMemo<TableProps.ColumnDefinition<TokenRow>[]>(
    () =>
      COLUMNS.map((c) => ({
        id: c.id,
        header: c.header,
        cell: cellFor(c.id, timeZone),
        sortingField: c.id,
        sortingComparator: (a: TokenRow, b: TokenRow) => rankedRef.current[c.id](a, b),
        isRowHeader: c.id === "name",
        // Dates and ids are shown in full.
        minWidth: c.id === "created" || c.id === "expires" ? 190 : c.id === "tokenUUID" ? 320 : undefined,
        // "Rotated (grace period)" and "5 minutes ago" in full.
        width: c.id === "status" ? 220 : c.id === "lastUsed" ? 160 : undefined,
      })),
    [timeZone],
  );
  const createdColumn = columns.find((c) => c.id === "created")!;

  const { items, collectionProps, filterProps, paginationProps, filteredItemsCount, actions } = useCollection(rows, {
    filtering: {
      filteringFunction: (item, text) => matchesFilter(item, text),
      empty: (
        <EmptyState
          title="No tokens"
          action={
            <Button onClick={() => navigate(ROUTES.createToken)}>Create token</Button>
          }
        />
      ),
      noMatch: <EmptyState title="No matches" action={<Button onClick={() => actions.setFiltering("")}>Clear filter</Button>} />,
    },
    sorting: { defaultState: { sortingColumn: createdColumn, isDescending: true } },
    pagination: { pageSize: prefs.pageSize },
    selection: { trackBy: "tokenUUID" },
  });

  // The selected token as last loaded (selection keeps the row of an older load).
  const selectedUUID = collectionProps.selectedItems?.[0]?.tokenUUID;
  const selected = useMemo(() => (selectedUUID ? rows.find((r) => r.tokenUUID === selectedUUID) : undefined), [rows, selectedUUID]);
  const count = filterProps.filteringText ? `(${filteredItemsCount}/${rows.length})` : `(${rows.length})`;

  return (
    <Table<TokenRow>
      {...collectionProps}
      items={items}
      columnDefinitions={columns}
      columnDisplay={prefs.contentDisplay}
      trackBy="tokenUUID"
      selectionType="single"
      variant="full-page"
      stickyHeader
      resizableColumns
      enableKeyboardNavigation
      loading={loading}
      loadingText={`Loading tokens… ${loaded} loaded`}
      ariaLabels={{
        selectionGroupLabel: "Token selection",
        itemSelectionLabel: (_s, item) => `Select token ${item.name || item.tokenUUID}`,
        allItemsSelectionLabel: () => "Select all tokens",
        tableLabel: "API tokens",
      }}
      renderAriaLive={({ firstIndex, lastIndex, totalItemsCount }) => `Showing tokens ${firstIndex} to ${lastIndex} of ${totalItemsCount}`}
      header={
        <Header
          variant="awsui-h1-sticky"
          counter={loading ? undefined : count}
          description="Every API token of every user."
          actions={
            <SpaceBetween direction="horizontal" size="xs">
              <Button iconName="refresh" onClick={reload} disabled={loading}>
                Refresh
              </Button>
              <ButtonDropdown
                items={actionItems(selected)}
                disabled={!selected}
                onItemClick={({ detail }) => selected && onAction(detail.id as TokenAction, selected)}
              >
                Actions
              </ButtonDropdown>
              <Button disabled={!selected} onClick={() => selected && onDelete(selected)}>
                Delete
              </Button>
              {onRevokeAll && <Button onClick={onRevokeAll}>Revoke all tokens of a user</Button>}
              <Button variant="primary" onClick={() => navigate(ROUTES.createToken)}>
                Create token
              </Button>
            </SpaceBetween>
          }
        >
          API Token Management
        </Header>
      }
      filter={
        <TextFilter
          {...filterProps}
          filteringPlaceholder="Find tokens by name, username, creator or group"
          filteringAriaLabel="Find tokens"
          countText={`${filteredItemsCount ?? 0} matches`}
        />
      }
      pagination={<Pagination {...paginationProps} />}
      preferences={
        <CollectionPreferences
          title="Preferences"
          confirmLabel="Confirm"
          cancelLabel="Cancel"
          preferences={prefs}
          onConfirm={({ detail }) => {
            const next: TablePreferences = {
              pageSize: detail.pageSize ?? prefs.pageSize,
              contentDisplay: (detail.contentDisplay ?? prefs.contentDisplay).map((c) => ({ id: c.id, visible: c.visible })),
            };
            savePreferences(next);
            setPrefs(next);
          }}
          pageSizePreference={{
            title: "Page size",
            options: PAGE_SIZES.map((n) => ({ value: n, label: `${n} tokens` })),
          }}
          contentDisplayPreference={{
            title: "Column preferences",
            description: "Choose the columns to show and their order.",
            options: COLUMNS.map((c) => ({ id: c.id, label: c.header, alwaysVisible: c.id === "name" })),
          }}
        />
      }
    />
  );
});
