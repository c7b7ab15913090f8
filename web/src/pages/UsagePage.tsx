// Usage (admins): who used the gateway how much in a month (this month at
// first), top consumers first as the API ranks them (by cost, then model
// tokens), with a chart of the top 10 users. A gateway without usage gets
// an info box.
import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import Alert from "@cloudscape-design/components/alert";
import Box from "@cloudscape-design/components/box";
import Button from "@cloudscape-design/components/button";
import Container from "@cloudscape-design/components/container";
import FormField from "@cloudscape-design/components/form-field";
import Header from "@cloudscape-design/components/header";
import Input from "@cloudscape-design/components/input";
import Select from "@cloudscape-design/components/select";
import SpaceBetween from "@cloudscape-design/components/space-between";
import Table, { type TableProps } from "@cloudscape-design/components/table";
import { UnavailableNotice, UsageTotalsView } from "../components/TokenUsagePanel";
import { TopUsersCharts } from "../components/UsageCharts";
import { errorMessage } from "../lib/api";
import type { TokenRow } from "../lib/tokens";
import {
  currentMonth,
  formatCost,
  formatCount,
  hasCost,
  isUsageUnavailable,
  monthLabel,
  monthRange,
  normalizeTotals,
  recentMonths,
  type TokenUsageTotals,
  type UsageOverview,
  type UsageTotals,
  type UserUsage,
} from "../lib/usage";
import { useSession } from "../session";

/** The figure columns every usage table shares; the cost only with prices. */
function figureColumns<T extends UsageTotals>(withCost: boolean): TableProps.ColumnDefinition<T>[] {
  const cols: TableProps.ColumnDefinition<T>[] = [
    { id: "requests", header: "Requests", cell: (r) => formatCount(r.requests) },
    { id: "errors", header: "Errors", cell: (r) => formatCount(r.errors) },
    { id: "prompt", header: "Prompt tokens", cell: (r) => formatCount(r.promptTokens) },
    { id: "completion", header: "Completion tokens", cell: (r) => formatCount(r.completionTokens) },
    { id: "total", header: "Total tokens", cell: (r) => formatCount(r.totalTokens) },
  ];
  if (withCost) cols.push({ id: "cost", header: "Cost", cell: (r) => formatCost(r.cost) });
  return cols;
}

function sum(items: readonly UsageTotals[]): UsageTotals {
  const t: UsageTotals = { requests: 0, errors: 0, promptTokens: 0, completionTokens: 0, totalTokens: 0, cost: 0 };
  for (const i of items) {
    t.requests += i.requests;
    t.errors += i.errors;
    t.promptTokens += i.promptTokens;
    t.completionTokens += i.completionTokens;
    t.totalTokens += i.totalTokens;
    t.cost = (t.cost ?? 0) + (i.cost ?? 0);
  }
  return t;
}

export interface UsagePageProps {
  /** The admin token list, if loaded, to name the tokens. */
  rows?: readonly TokenRow[];
}

export default function UsagePage({ rows = [] }: UsagePageProps) {
  const { api } = useSession();
  const months = useMemo(() => recentMonths(13), []);
  const [month, setMonth] = useState(() => currentMonth());
  const [userText, setUserText] = useState("");
  const [username, setUsername] = useState("");
  const [data, setData] = useState<UsageOverview>();
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState<unknown>();
  const seq = useRef(0);

  const load = useCallback(async () => {
    const mine = ++seq.current;
    setLoading(true);
    setError(undefined);
    try {
      const d = await api.usageOverview({ ...monthRange(month), username: username || undefined });
      if (mine === seq.current) setData(d);
    } catch (err) {
      if (mine === seq.current) setError(err);
    } finally {
      if (mine === seq.current) setLoading(false);
    }
  }, [api, month, username]);

  useEffect(() => {
    void load();
  }, [load]);

  // The report names a token by the key its usage is kept under: a live
  // token's own id, or the key it carries (a user's personal tokens share
  // one, so that usage goes on across a delete and a new token).
  const names = useMemo(() => {
    const m = new Map<string, string>();
    for (const r of rows) {
      m.set(r.tokenUUID, r.name);
      // A token still in its grace period shares the key of its successor: the successor names it.
      if (r.usageKey && (!r.rotatedTo || !m.has(r.usageKey))) m.set(r.usageKey, r.name);
    }
    return m;
  }, [rows]);
  // The API's order is kept: top consumers first.
  const users: UserUsage[] = useMemo(() => (data?.users ?? []).map((u) => ({ ...normalizeTotals(u), username: u.username })), [data]);
  const tokens: TokenUsageTotals[] = useMemo(
    () => (data?.tokens ?? []).map((t) => ({ ...normalizeTotals(t), tokenUUID: t.tokenUUID, username: t.username })),
    [data],
  );
  const withCost = hasCost([...users, ...tokens]);

  const header = (
    <Header variant="h1" description="Requests, model tokens and cost of API tokens per month (UTC), top consumers first.">
      Usage
    </Header>
  );
  if (error && isUsageUnavailable(error)) {
    return (
      <SpaceBetween size="m">
        {header}
        <UnavailableNotice />
      </SpaceBetween>
    );
  }

  const monthOption = (m: string) => ({ value: m, label: monthLabel(m) });
  const applyUser = () => setUsername(userText.trim());

  return (
    <SpaceBetween size="m">
      {header}
      <Container>
        <SpaceBetween direction="horizontal" size="m" alignItems="end">
          <FormField label="Month">
            <Select
              selectedOption={monthOption(month)}
              options={months.map(monthOption)}
              onChange={({ detail }) => detail.selectedOption.value && setMonth(detail.selectedOption.value)}
            />
          </FormField>
          <FormField label="Username" description="Only this user's usage.">
            <form
              onSubmit={(e) => {
                e.preventDefault();
                applyUser();
              }}
            >
              <Input value={userText} onChange={({ detail }) => setUserText(detail.value)} placeholder="All users" type="search" ariaLabel="Username" />
            </form>
          </FormField>
          <SpaceBetween direction="horizontal" size="xs">
            <Button onClick={applyUser}>Apply</Button>
            <Button iconName="refresh" onClick={() => void load()} disabled={loading}>
              Refresh
            </Button>
          </SpaceBetween>
        </SpaceBetween>
      </Container>
      {error !== undefined && (
        <Alert type="error" header="The usage could not be loaded" action={<Button onClick={() => void load()}>Retry</Button>}>
          {errorMessage(error)}
        </Alert>
      )}
      {data && (
        <Container header={<Header variant="h2" description={`${data.from} to ${data.to}`}>Totals</Header>}>
          <UsageTotalsView totals={sum(users)} withCost={withCost} />
        </Container>
      )}
      <Container header={<Header variant="h2">Top users</Header>}>
        <SpaceBetween size="m">
          {data && <TopUsersCharts users={users} withCost={withCost} />}
          <Table<UserUsage>
            variant="embedded"
            items={users}
            trackBy="username"
            loading={loading && !data}
            loadingText="Loading the usage…"
            ariaLabels={{ tableLabel: "Top users" }}
            empty={<Box textAlign="center">No usage in this month</Box>}
            columnDefinitions={[
              { id: "rank", header: "#", cell: (u) => users.indexOf(u) + 1, width: 60 },
              { id: "username", header: "User", cell: (u) => u.username, isRowHeader: true },
              ...figureColumns<UserUsage>(withCost),
            ]}
          />
        </SpaceBetween>
      </Container>
      <Table<TokenUsageTotals>
        variant="container"
        header={<Header variant="h2">Top tokens</Header>}
        items={tokens}
        trackBy="tokenUUID"
        loading={loading && !data}
        loadingText="Loading the usage…"
        ariaLabels={{ tableLabel: "Top tokens" }}
        empty={<Box textAlign="center">No usage in this month</Box>}
        columnDefinitions={[
          { id: "rank", header: "#", cell: (t) => tokens.indexOf(t) + 1, width: 60 },
          { id: "name", header: "Token", cell: (t) => names.get(t.tokenUUID) || <Box variant="code">{t.tokenUUID}</Box>, isRowHeader: true },
          { id: "username", header: "User", cell: (t) => t.username },
          ...figureColumns<TokenUsageTotals>(withCost),
        ]}
      />
    </SpaceBetween>
  );
}
