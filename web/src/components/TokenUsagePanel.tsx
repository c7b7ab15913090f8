// A token's usage: a period (the last 7, 30 or 90 UTC days; 30 at first),
// the totals, charts per day and the figures per day as a table. A gateway
// without usage (an older API, or usage switched off) gets an info box.
import { useCallback, useEffect, useRef, useState } from "react";
import Alert from "@cloudscape-design/components/alert";
import Box from "@cloudscape-design/components/box";
import Button from "@cloudscape-design/components/button";
import ExpandableSection from "@cloudscape-design/components/expandable-section";
import KeyValuePairs from "@cloudscape-design/components/key-value-pairs";
import SegmentedControl from "@cloudscape-design/components/segmented-control";
import SpaceBetween from "@cloudscape-design/components/space-between";
import Spinner from "@cloudscape-design/components/spinner";
import Table from "@cloudscape-design/components/table";
import { DailyUsageCharts } from "./UsageCharts";
import { errorMessage } from "../lib/api";
import {
  fillDays,
  formatCost,
  formatCount,
  hasCost,
  isUsageUnavailable,
  lastDays,
  normalizeTotals,
  USAGE_UNAVAILABLE,
  type TokenUsage,
  type UsageDay,
  type UsageTotals,
} from "../lib/usage";

export const PERIODS = [
  { id: "7", text: "Last 7 days" },
  { id: "30", text: "Last 30 days" },
  { id: "90", text: "Last 90 days" },
];

export function UnavailableNotice() {
  return (
    <Alert type="info" header={USAGE_UNAVAILABLE}>
      This gateway does not record the usage of API tokens, or its usage store cannot be reached right now.
    </Alert>
  );
}

/** The totals as key-value pairs; the cost only when the deployment has prices. */
export function UsageTotalsView({ totals, withCost }: { totals: UsageTotals; withCost: boolean }) {
  const items = [
    { label: "Requests", value: formatCount(totals.requests) },
    { label: "Errors", value: formatCount(totals.errors) },
    { label: "Prompt tokens", value: formatCount(totals.promptTokens) },
    { label: "Completion tokens", value: formatCount(totals.completionTokens) },
    { label: "Total tokens", value: formatCount(totals.totalTokens) },
  ];
  if (withCost) items.push({ label: "Cost", value: formatCost(totals.cost) });
  return <KeyValuePairs columns={withCost ? 3 : 5} items={items} ariaLabel="Usage totals" />;
}

export interface TokenUsagePanelProps {
  tokenUUID: string;
  /** Names the token in the charts' labels. */
  subject: string;
  load: (tokenUUID: string, range: { from: string; to: string }) => Promise<TokenUsage>;
}

export default function TokenUsagePanel({ tokenUUID, subject, load }: TokenUsagePanelProps) {
  const [period, setPeriod] = useState("30");
  const [usage, setUsage] = useState<TokenUsage>();
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState<unknown>();
  const seq = useRef(0);

  const fetchUsage = useCallback(async () => {
    const mine = ++seq.current;
    setLoading(true);
    setError(undefined);
    try {
      const u = await load(tokenUUID, lastDays(Number(period)));
      if (mine === seq.current) setUsage(u);
    } catch (err) {
      if (mine === seq.current) setError(err);
    } finally {
      if (mine === seq.current) setLoading(false);
    }
  }, [load, tokenUUID, period]);

  useEffect(() => {
    void fetchUsage();
  }, [fetchUsage]);

  if (error && isUsageUnavailable(error)) return <UnavailableNotice />;

  const range = usage ? { from: usage.from, to: usage.to } : lastDays(Number(period));
  const days: UsageDay[] = usage ? fillDays(usage.days, range.from, range.to) : [];
  const totals = normalizeTotals(usage?.totals);
  const withCost = hasCost([totals, ...days]);

  return (
    <SpaceBetween size="m">
      <SpaceBetween direction="horizontal" size="s" alignItems="center">
        <SegmentedControl selectedId={period} onChange={({ detail }) => setPeriod(detail.selectedId)} label="Period" options={PERIODS} />
        <Button iconName="refresh" ariaLabel="Refresh the usage" onClick={() => void fetchUsage()} disabled={loading} />
        {usage && (
          <Box variant="small" color="text-body-secondary">
            {usage.from} to {usage.to} (UTC days)
          </Box>
        )}
      </SpaceBetween>
      {error !== undefined && (
        <Alert type="error" header="The usage could not be loaded" action={<Button onClick={() => void fetchUsage()}>Retry</Button>}>
          {errorMessage(error)}
        </Alert>
      )}
      {loading && !usage && (
        <Box>
          <Spinner /> Loading the usage…
        </Box>
      )}
      {usage && (
        <>
          <UsageTotalsView totals={totals} withCost={withCost} />
          <DailyUsageCharts days={days} subject={subject} />
          <ExpandableSection headerText="Usage per day">
            <Table<UsageDay>
              variant="embedded"
              items={[...days].reverse()}
              trackBy="day"
              ariaLabels={{ tableLabel: "Usage per day" }}
              empty={<Box textAlign="center">No days</Box>}
              columnDefinitions={[
                { id: "day", header: "Day (UTC)", cell: (d) => d.day, isRowHeader: true },
                { id: "requests", header: "Requests", cell: (d) => formatCount(d.requests) },
                { id: "errors", header: "Errors", cell: (d) => formatCount(d.errors) },
                { id: "prompt", header: "Prompt tokens", cell: (d) => formatCount(d.promptTokens) },
                { id: "completion", header: "Completion tokens", cell: (d) => formatCount(d.completionTokens) },
                { id: "total", header: "Total tokens", cell: (d) => formatCount(d.totalTokens) },
                ...(withCost ? [{ id: "cost", header: "Cost", cell: (d: UsageDay) => formatCost(d.cost) }] : []),
              ]}
            />
          </ExpandableSection>
        </>
      )}
    </SpaceBetween>
  );
}
