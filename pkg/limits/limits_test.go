package limits_test

import (
	"strings"
	"testing"
	"time"

	"github.com/llmgw/apitokens/pkg/limits"
)

func n(v int64) *int64     { return &v }
func f(v float64) *float64 { return &v }

func TestParseRefusesWhatIsNotALimit(t *testing.T) {
	for _, tc := range []struct {
		raw, msg string
	}{
		{`{"requestsPerMinute":0}`, "limits.requestsPerMinute must be a whole number from 1"},
		{`{"requestsPerMinute":-5}`, "requestsPerMinute"},
		{`{"tokensPerDay":1000000000001}`, "tokensPerDay"},
		{`{"requestsPerMinute":1.5}`, "not valid"},
		{`{"requestsPerMinute":"10"}`, "not valid"},
		{`{"budgetPerMonth":0}`, "budgetPerMonth must be more than 0"},
		{`{"budgetPerMonth":-1}`, "budgetPerMonth"},
		{`{"rpm":10}`, "unknown field"},
		{`{} {}`, "data after"},
		{`[1]`, "not valid"},
	} {
		_, err := limits.Parse("limits", []byte(tc.raw))
		if err == nil || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("Parse(%s) = %v, want an error mentioning %q", tc.raw, err, tc.msg)
		}
	}
	l, err := limits.Parse("limits", []byte(`{"requestsPerMinute":10,"budgetPerMonth":12.5}`))
	if err != nil || *l.RequestsPerMinute != 10 || *l.BudgetPerMonth != 12.5 || l.RequestsPerHour != nil {
		t.Fatalf("Parse = %+v, %v", l, err)
	}
	if l, err := limits.Parse("limits", []byte("  ")); err != nil || !l.IsZero() {
		t.Fatalf("empty = %+v, %v", l, err)
	}
	if _, err := limits.ParseGroups("GROUP_TOKEN_LIMITS", []byte(`{"team":{"requestsPerDay":0}}`)); err == nil || !strings.Contains(err.Error(), "GROUP_TOKEN_LIMITS.team.requestsPerDay") {
		t.Errorf("a bad group limit: %v", err)
	}
	if _, err := limits.ParseGlobal("GLOBAL_LIMITS", []byte(`{"tokensPerDay":5}`)); err == nil {
		t.Error("GLOBAL_LIMITS accepted a token limit")
	}
	if _, err := limits.ParsePrices("MODEL_PRICES", []byte(`{"m":{"input":-1,"output":1}}`)); err == nil {
		t.Error("a negative price was accepted")
	}
}

func TestResolveFieldByField(t *testing.T) {
	p := limits.Policy{
		Default: limits.Limits{RequestsPerMinute: n(10), TokensPerDay: n(1000)},
		Groups: map[string]limits.Limits{
			"team-a": {RequestsPerMinute: n(60), BudgetPerMonth: f(5)},
			"team-b": {RequestsPerMinute: n(30), BudgetPerMonth: f(50), RequestsPerDay: n(500)},
		},
	}
	got := p.Resolve(nil, []string{"team-a", "team-b", "other"})
	if *got.RequestsPerMinute != 60 || *got.BudgetPerMonth != 50 || *got.RequestsPerDay != 500 || *got.TokensPerDay != 1000 || got.RequestsPerHour != nil {
		t.Fatalf("groups: most generous per field, default for the rest: %s", limits.Encode(&got))
	}
	own := &limits.Limits{RequestsPerMinute: n(5)}
	got = p.Resolve(own, []string{"team-a"})
	if *got.RequestsPerMinute != 5 || *got.BudgetPerMonth != 5 || *got.TokensPerDay != 1000 {
		t.Fatalf("own value first: %s", limits.Encode(&got))
	}
	if got := p.Resolve(nil, nil); limits.Encode(&got) != `{"requestsPerMinute":10,"tokensPerDay":1000}` {
		t.Fatalf("no group: the default, %s", limits.Encode(&got))
	}
	if got := (limits.Policy{}).Resolve(nil, []string{"x"}); !got.IsZero() {
		t.Fatalf("no policy: no limits, got %s", limits.Encode(&got))
	}
}

func TestRaises(t *testing.T) {
	cur := limits.Limits{RequestsPerMinute: n(10), BudgetPerMonth: f(5)}
	for _, tc := range []struct {
		next  limits.Limits
		field string
	}{
		{limits.Limits{RequestsPerMinute: n(10), BudgetPerMonth: f(5)}, ""},
		{limits.Limits{RequestsPerMinute: n(5), BudgetPerMonth: f(1), TokensPerDay: n(3)}, ""},
		{limits.Limits{RequestsPerMinute: n(11), BudgetPerMonth: f(5)}, "requestsPerMinute"},
		{limits.Limits{BudgetPerMonth: f(5)}, "requestsPerMinute"},
		{limits.Limits{RequestsPerMinute: n(1), BudgetPerMonth: f(5.01)}, "budgetPerMonth"},
		{limits.Limits{RequestsPerMinute: n(1)}, "budgetPerMonth"},
	} {
		field, raised := limits.Raises(cur, tc.next)
		if field != tc.field || raised != (tc.field != "") {
			t.Errorf("Raises(%s -> %s) = %q, %v; want %q", limits.Encode(&cur), limits.Encode(&tc.next), field, raised, tc.field)
		}
	}
}

func TestCostInNanos(t *testing.T) {
	p := limits.Prices{"gpt": {Input: 3, Output: 15}}
	// 1,000 prompt tokens at 3 per million = 0.003; 500 completion at 15 per million = 0.0075.
	if c, ok := p.Cost("gpt", 1000, 500); !ok || c != 10_500_000 {
		t.Fatalf("Cost = %d, %v; want 10500000 nanos", c, ok)
	}
	if _, ok := p.Cost("other", 1, 1); ok {
		t.Fatal("a model without a price has a cost")
	}
}

func TestWindowsAt(t *testing.T) {
	w := limits.WindowsAt(time.Date(2026, 12, 31, 23, 59, 30, 0, time.FixedZone("x", 3600)))
	// 23:59:30 at UTC+1 is 22:59:30 UTC.
	if w.Day != "2026-12-31" || w.Month != "2026-12" || w.Hour != "22" || w.Minute != "2259" {
		t.Fatalf("windows = %+v", w)
	}
	if !w.MinuteEnd.Equal(time.Date(2026, 12, 31, 23, 0, 0, 0, time.UTC)) || !w.HourEnd.Equal(w.MinuteEnd) ||
		!w.DayEnd.Equal(time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)) || !w.MonthEnd.Equal(w.DayEnd) {
		t.Fatalf("window ends = %+v", w)
	}
}

func TestEncodeDecodeClone(t *testing.T) {
	l := &limits.Limits{RequestsPerHour: n(7), BudgetPerMonth: f(1.25)}
	s := limits.Encode(l)
	if s != `{"requestsPerHour":7,"budgetPerMonth":1.25}` {
		t.Fatalf("Encode = %s", s)
	}
	back, err := limits.Decode(s)
	if err != nil || !limits.Equal(back, l) {
		t.Fatalf("Decode = %v, %v", back, err)
	}
	if limits.Encode(nil) != "" || limits.Encode(&limits.Limits{}) != "" {
		t.Fatal("no limits must encode as nothing stored")
	}
	if d, err := limits.Decode(""); d != nil || err != nil {
		t.Fatalf("Decode(\"\") = %v, %v", d, err)
	}
	c := l.Clone()
	*c.RequestsPerHour = 99
	if *l.RequestsPerHour != 7 {
		t.Fatal("Clone shares its values")
	}
}
