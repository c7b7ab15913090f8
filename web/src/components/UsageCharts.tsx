// Cloudscape's own charts for usage: requests and model tokens per day for
// one token, and the top users of a period. Every chart has an accessible
// name and labels for its filter, legend and axes.
import BarChart from "@cloudscape-design/components/bar-chart";
import Box from "@cloudscape-design/components/box";
import type { MixedLineBarChartProps } from "@cloudscape-design/components/mixed-line-bar-chart";
import { formatCost, formatCount, shortCount, type UsageDay, type UserUsage } from "../lib/usage";

export function chartStrings(kind = "bar chart"): MixedLineBarChartProps.I18nStrings<string> {
  return {
    filterLabel: "Filter displayed data",
    filterPlaceholder: "Filter data",
    filterSelectedAriaLabel: "selected",
    legendAriaLabel: "Legend",
    detailPopoverDismissAriaLabel: "Dismiss",
    chartAriaRoleDescription: kind,
    xAxisAriaRoleDescription: "x axis",
    yAxisAriaRoleDescription: "y axis",
  };
}

const dayFmt = new Intl.DateTimeFormat("en-US", { month: "short", day: "numeric", timeZone: "UTC" });

/** "Mar 5" for "2026-03-05". */
export function dayLabel(day: string): string {
  const t = Date.parse(`${day}T00:00:00Z`);
  return Number.isNaN(t) ? day : dayFmt.format(t);
}

function noData(text: string) {
  return (
    <Box textAlign="center" color="inherit">
      <b>No usage</b>
      <Box variant="p" color="inherit">
        {text}
      </Box>
    </Box>
  );
}

export interface DailyUsageChartsProps {
  days: UsageDay[];
  /** Names the token in the charts' accessible names. */
  subject: string;
}

/** Requests (and errors) per day, and model tokens per day (prompt and completion stacked). */
export function DailyUsageCharts({ days, subject }: DailyUsageChartsProps) {
  const x = days.map((d) => d.day);
  const empty = days.every((d) => d.requests === 0 && d.totalTokens === 0);
  // Successful requests under the errors, so a bar's height is every request of the day.
  const requests: MixedLineBarChartProps.BarDataSeries<string>[] = [
    { type: "bar", title: "Successful requests", data: days.map((d) => ({ x: d.day, y: d.requests - d.errors })), valueFormatter: formatCount },
    { type: "bar", title: "Errors", data: days.map((d) => ({ x: d.day, y: d.errors })), valueFormatter: formatCount },
  ];
  const tokens: MixedLineBarChartProps.BarDataSeries<string>[] = [
    { type: "bar", title: "Prompt tokens", data: days.map((d) => ({ x: d.day, y: d.promptTokens })), valueFormatter: formatCount },
    { type: "bar", title: "Completion tokens", data: days.map((d) => ({ x: d.day, y: d.completionTokens })), valueFormatter: formatCount },
  ];
  const common = {
    xDomain: x,
    xScaleType: "categorical" as const,
    stackedBars: true,
    height: 220,
    hideFilter: true,
    xTickFormatter: dayLabel,
    yTickFormatter: shortCount,
    i18nStrings: chartStrings(),
    empty: noData("There were no calls with this token in this period."),
    xTitle: "Day (UTC)",
  };
  return (
    <>
      <BarChart<string>
        {...common}
        series={empty ? [] : requests}
        ariaLabel={`Requests per day of ${subject}`}
        ariaDescription="Successful requests and errors per day, stacked."
        yTitle="Requests"
      />
      <BarChart<string>
        {...common}
        series={empty ? [] : tokens}
        ariaLabel={`Model tokens per day of ${subject}`}
        ariaDescription="Prompt and completion tokens per day, stacked."
        yTitle="Model tokens"
      />
    </>
  );
}

export interface TopUsersChartProps {
  users: UserUsage[];
  withCost: boolean;
}

/** The top 10 users of a period by model tokens, and by cost when there are prices. */
export function TopUsersCharts({ users, withCost }: TopUsersChartProps) {
  const top = users.slice(0, 10);
  const x = top.map((u) => u.username);
  const common = {
    xDomain: x,
    xScaleType: "categorical" as const,
    horizontalBars: true,
    height: Math.max(120, top.length * 32),
    hideFilter: true,
    hideLegend: true,
    i18nStrings: chartStrings("horizontal bar chart"),
    empty: noData("Nobody used a token in this period."),
  };
  return (
    <>
      <BarChart<string>
        {...common}
        series={top.length ? [{ type: "bar", title: "Model tokens", data: top.map((u) => ({ x: u.username, y: u.totalTokens })), valueFormatter: formatCount }] : []}
        yTickFormatter={shortCount}
        ariaLabel="Model tokens of the top 10 users"
        xTitle="User"
        yTitle="Model tokens"
      />
      {withCost && (
        <BarChart<string>
          {...common}
          series={top.length ? [{ type: "bar", title: "Cost", data: top.map((u) => ({ x: u.username, y: u.cost ?? 0 })), valueFormatter: formatCost }] : []}
          yTickFormatter={formatCost}
          ariaLabel="Cost of the top 10 users"
          xTitle="User"
          yTitle="Cost"
        />
      )}
    </>
  );
}
