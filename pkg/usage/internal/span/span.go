// Package span holds the rules both usage stores share: which day ranges
// a query may ask for, which months they cover, which minute counters the
// write of a minute removes, and a budget in whole billionths.
package span

import (
	"fmt"
	"math"
	"time"

	"github.com/llmgw/apitokens/pkg/limits"
	"github.com/llmgw/apitokens/pkg/schema"
	"github.com/llmgw/apitokens/pkg/usage"
)

const dayLayout = "2006-01-02"

// Range checks a query's day range: two days "2006-01-02" (exactly that
// form), from <= to, at most usage.MaxRangeDays days inclusive. Anything
// else is usage.ErrBadRange.
func Range(from, to string) (first, last time.Time, err error) {
	first, err1 := parseDay(from)
	last, err2 := parseDay(to)
	if err1 != nil || err2 != nil || last.Before(first) {
		return time.Time{}, time.Time{}, fmt.Errorf("%w: %q..%q", usage.ErrBadRange, from, to)
	}
	if days := int(last.Sub(first)/(24*time.Hour)) + 1; days > usage.MaxRangeDays {
		return time.Time{}, time.Time{}, fmt.Errorf("%w: %d days, at most %d", usage.ErrBadRange, days, usage.MaxRangeDays)
	}
	return first, last, nil
}

func parseDay(s string) (time.Time, error) {
	t, err := time.Parse(dayLayout, s)
	if err != nil || t.Format(dayLayout) != s {
		return time.Time{}, fmt.Errorf("not a day: %q", s)
	}
	return t, nil
}

// Month is one month's part of a day range: its "2006-01" and the first
// and last day of the range within it.
type Month struct {
	Month    string
	From, To string
}

// Months splits first..last (days, UTC midnight) by month, oldest first.
func Months(first, last time.Time) []Month {
	var out []Month
	for m := time.Date(first.Year(), first.Month(), 1, 0, 0, 0, 0, time.UTC); !m.After(last); m = m.AddDate(0, 1, 0) {
		from, to := m, m.AddDate(0, 1, -1)
		if from.Before(first) {
			from = first
		}
		if to.After(last) {
			to = last
		}
		out = append(out, Month{Month: m.Format("2006-01"), From: from.Format(dayLayout), To: to.Format(dayLayout)})
	}
	return out
}

// MonthDays returns the first and last day of w's month.
func MonthDays(w limits.Windows) (first, last string) {
	end := w.MonthEnd.AddDate(0, 0, -1)
	return end.Format("2006-01") + "-01", end.Format(dayLayout)
}

// PrunedMinutes names the minute counters ("m1504") of the Prune minutes
// before w's minute within the same day: the write that counts a minute
// removes them, so a day item holds a handful of minute counters, not
// 1440. Minutes further back are gone already unless the token was idle
// in between, and an idle token's old counters are never read.
func PrunedMinutes(w limits.Windows) []string {
	start := w.MinuteEnd.Add(-time.Minute)
	var out []string
	for k := 1; k <= Prune; k++ {
		m := start.Add(-time.Duration(k) * time.Minute)
		if m.Format(dayLayout) != w.Day {
			break
		}
		out = append(out, MinuteAttr(m.Format("1504")))
	}
	return out
}

// Prune is how many minute counters before the current one a write
// removes.
const Prune = 5

// HourAttr and MinuteAttr name the day item's request counters of an
// hour ("15") and a minute ("1504").
func HourAttr(hour string) string     { return schema.AttrUsageHourPrefix + hour }
func MinuteAttr(minute string) string { return schema.AttrUsageMinutePrefix + minute }

// BudgetNanos is a budget in billionths of its unit, the unit costs are
// counted in.
func BudgetNanos(b float64) int64 { return int64(math.Round(b * limits.NanosPerUnit)) }

// ExpiresAt is the TTL of a day's item: the end of the day plus retention,
// in Unix seconds.
func ExpiresAt(w limits.Windows, retention time.Duration) int64 {
	return w.DayEnd.Add(retention).Unix()
}
