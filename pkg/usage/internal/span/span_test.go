package span

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/llmgw/apitokens/pkg/limits"
	"github.com/llmgw/apitokens/pkg/usage"
)

func TestPrunedMinutes(t *testing.T) {
	for _, tc := range []struct {
		at   string
		want []string
	}{
		{"2026-03-10T10:20:30Z", []string{"m1019", "m1018", "m1017", "m1016", "m1015"}},
		{"2026-03-10T10:02:00Z", []string{"m1001", "m1000", "m0959", "m0958", "m0957"}},
		{"2026-03-10T00:02:59Z", []string{"m0001", "m0000"}}, // never the day before
		{"2026-03-10T00:00:00Z", nil},
	} {
		at, _ := time.Parse(time.RFC3339, tc.at)
		if got := PrunedMinutes(limits.WindowsAt(at)); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("PrunedMinutes(%s) = %v, want %v", tc.at, got, tc.want)
		}
	}
}

func TestMonths(t *testing.T) {
	first, last, err := Range("2026-01-15", "2026-03-02")
	if err != nil {
		t.Fatal(err)
	}
	want := []Month{{"2026-01", "2026-01-15", "2026-01-31"}, {"2026-02", "2026-02-01", "2026-02-28"}, {"2026-03", "2026-03-01", "2026-03-02"}}
	if got := Months(first, last); !reflect.DeepEqual(got, want) {
		t.Errorf("Months = %v, want %v", got, want)
	}
	f, l := MonthDays(limits.WindowsAt(time.Date(2028, 2, 29, 23, 0, 0, 0, time.UTC)))
	if f != "2028-02-01" || l != "2028-02-29" {
		t.Errorf("MonthDays of February 2028 = %s..%s", f, l)
	}
}

func TestRange(t *testing.T) {
	if _, _, err := Range("2025-01-01", "2026-01-01"); err != nil {
		t.Errorf("366 days: %v", err)
	}
	for _, r := range [][2]string{{"2025-01-01", "2026-01-02"}, {"2026-01-02", "2026-01-01"}, {"2026-1-2", "2026-01-03"}, {"", ""}} {
		if _, _, err := Range(r[0], r[1]); !errors.Is(err, usage.ErrBadRange) {
			t.Errorf("Range(%q, %q) = %v, want ErrBadRange", r[0], r[1], err)
		}
	}
}

func TestBudgetNanos(t *testing.T) {
	if got := BudgetNanos(0.1); got != 100_000_000 {
		t.Errorf("BudgetNanos(0.1) = %d", got)
	}
}
