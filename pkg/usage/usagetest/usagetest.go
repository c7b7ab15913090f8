// Package usagetest is the conformance suite for usage.Store. Every
// backend runs it from its own tests:
//
//	func TestConformance(t *testing.T) {
//		usagetest.Run(t, func(t *testing.T) usagetest.Harness {
//			s := memusage.New()
//			return usagetest.Harness{Store: s, Calls: s.Calls}
//		})
//	}
//
// newHarness must return an empty store for each call; it is called once
// per subtest, and subtests run in parallel. Times are injected (Admit.Now
// and the now arguments), so windows roll over without waiting.
package usagetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/llmgw/apitokens/pkg/limits"
	"github.com/llmgw/apitokens/pkg/usage"
)

// Harness is one store under test.
type Harness struct {
	Store usage.Store
	// Calls, if set, returns how many backend calls the store has made so
	// far; the suite uses it to prove that an Admit without limits makes
	// none.
	Calls func() int
}

// t0 is a fixed moment in the middle of a minute, an hour and a month.
var t0 = time.Date(2026, 3, 10, 10, 20, 30, 0, time.UTC)

// Run runs the conformance suite against stores made by newHarness.
func Run(t *testing.T, newHarness func(t *testing.T) Harness) {
	t.Run("Conformance", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			fn   func(*testing.T, Harness)
		}{
			{"NoLimitsNoCall", testNoLimitsNoCall},
			{"ExactPerMinute", func(t *testing.T, h Harness) { testExact(t, h, "requestsPerMinute") }},
			{"ExactPerHour", func(t *testing.T, h Harness) { testExact(t, h, "requestsPerHour") }},
			{"ExactPerDay", func(t *testing.T, h Harness) { testExact(t, h, "requestsPerDay") }},
			{"ExactGlobal", testExactGlobal},
			{"MinuteRollOver", testMinuteRollOver},
			{"HourRollOver", testHourRollOver},
			{"DayRollOver", testDayRollOver},
			{"AdmissionCounts", testAdmissionCounts},
			{"TokensPerDay", func(t *testing.T, h Harness) { testTokensPerDay(t, h, false) }},
			{"TokensPerDayWithRequestLimits", func(t *testing.T, h Harness) { testTokensPerDay(t, h, true) }},
			{"TokensPerMonth", func(t *testing.T, h Harness) { testTokensPerMonth(t, h, false) }},
			{"TokensPerMonthWithRequestLimits", func(t *testing.T, h Harness) { testTokensPerMonth(t, h, true) }},
			{"BudgetPerMonth", func(t *testing.T, h Harness) { testBudgetPerMonth(t, h, false) }},
			{"BudgetPerMonthWithRequestLimits", func(t *testing.T, h Harness) { testBudgetPerMonth(t, h, true) }},
			{"GlobalIndependentOfTokens", testGlobalIndependent},
			{"Unadmit", testUnadmit},
			{"UnadmitNeverBelowZero", testUnadmitFloor},
			{"RecordAccumulates", testRecordAccumulates},
			{"Days", testDays},
			{"Rows", testRows},
			{"BadRanges", testBadRanges},
			{"CanceledContext", testCanceled},
		} {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				tc.fn(t, newHarness(t))
			})
		}
	})
}

func n(v int64) *int64       { return &v }
func f(v float64) *float64   { return &v }
func newToken() string       { return uuid.NewString() }
func ctx() context.Context   { return context.Background() }
func day(t time.Time) string { return t.UTC().Format("2006-01-02") }

func admit(t *testing.T, s usage.Store, token string, l limits.Limits, now time.Time) usage.Admission {
	t.Helper()
	a, err := s.Admit(ctx(), usage.Admit{TokenUUID: token, Username: "alice", Limits: l, Now: now})
	if err != nil {
		t.Fatalf("Admit at %s: %v", now.Format(time.RFC3339), err)
	}
	if a.Allowed == (a.Refused != "") {
		t.Fatalf("Admit at %s: Allowed %v with Refused %q", now.Format(time.RFC3339), a.Allowed, a.Refused)
	}
	return a
}

func wantAllowed(t *testing.T, a usage.Admission, what string) {
	t.Helper()
	if !a.Allowed {
		t.Fatalf("%s: refused by %s (%+v), want allowed", what, a.Refused, a)
	}
}

func wantRefused(t *testing.T, a usage.Admission, limit, what string) {
	t.Helper()
	if a.Allowed || a.Refused != limit {
		t.Fatalf("%s: Allowed %v Refused %q (%+v), want refused by %s", what, a.Allowed, a.Refused, a, limit)
	}
	if a.Counted {
		t.Fatalf("%s: a refused call was counted", what)
	}
}

func record(t *testing.T, s usage.Store, token string, now time.Time, u usage.Usage) {
	t.Helper()
	if err := s.Record(ctx(), token, "alice", now, u); err != nil {
		t.Fatalf("Record: %v", err)
	}
}

func oneDay(t *testing.T, s usage.Store, token string, at time.Time) usage.Row {
	t.Helper()
	rows, err := s.Days(ctx(), token, day(at), day(at))
	if err != nil {
		t.Fatalf("Days: %v", err)
	}
	switch len(rows) {
	case 0:
		return usage.Row{}
	case 1:
		return rows[0]
	}
	t.Fatalf("Days of one day: %d rows", len(rows))
	return usage.Row{}
}

func testNoLimitsNoCall(t *testing.T, h Harness) {
	before := 0
	if h.Calls != nil {
		before = h.Calls()
	}
	a, err := h.Store.Admit(ctx(), usage.Admit{TokenUUID: newToken(), Username: "alice", Now: t0})
	if err != nil || a != (usage.Admission{Allowed: true}) {
		t.Fatalf("Admit without limits = %+v, %v; want {Allowed: true}, nil", a, err)
	}
	g, err := h.Store.AdmitGlobal(ctx(), t0, limits.Global{})
	if err != nil || g != (usage.Admission{Allowed: true}) {
		t.Fatalf("AdmitGlobal without limits = %+v, %v; want {Allowed: true}, nil", g, err)
	}
	if h.Calls != nil {
		if d := h.Calls() - before; d != 0 {
			t.Errorf("Admit and AdmitGlobal without limits made %d backend calls, want 0", d)
		}
	} else {
		t.Log("no call counter: the number of calls is not checked")
	}
}

// concurrently runs fn 50 times at once and tallies the outcomes.
func concurrently(t *testing.T, fn func() (usage.Admission, error)) (allowed int, refused map[string]int) {
	t.Helper()
	const calls = 50
	var (
		mu   sync.Mutex
		wg   sync.WaitGroup
		errs []error
	)
	refused = map[string]int{}
	start := make(chan struct{})
	for range calls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			a, err := fn()
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err != nil:
				errs = append(errs, err)
			case a.Allowed:
				allowed++
				if !a.Counted {
					errs = append(errs, errors.New("allowed but not counted"))
				}
			default:
				refused[a.Refused]++
			}
		}()
	}
	close(start)
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("%d of %d calls failed, first: %v", len(errs), calls, errs[0])
	}
	return allowed, refused
}

func requestLimit(name string, v int64) limits.Limits {
	switch name {
	case "requestsPerMinute":
		return limits.Limits{RequestsPerMinute: n(v)}
	case "requestsPerHour":
		return limits.Limits{RequestsPerHour: n(v)}
	default:
		return limits.Limits{RequestsPerDay: n(v)}
	}
}

func testExact(t *testing.T, h Harness, limit string) {
	token := newToken()
	l := requestLimit(limit, 10)
	allowed, refused := concurrently(t, func() (usage.Admission, error) {
		return h.Store.Admit(ctx(), usage.Admit{TokenUUID: token, Username: "alice", Limits: l, Now: t0})
	})
	if allowed != 10 || refused[limit] != 40 || len(refused) != 1 {
		t.Fatalf("50 concurrent Admits against %s 10: %d allowed, refused %v; want 10 allowed, 40 refused by %s", limit, allowed, refused, limit)
	}
	if r := oneDay(t, h.Store, token, t0); r.Requests != 10 {
		t.Errorf("the day counts %d requests, want 10", r.Requests)
	}
}

func testExactGlobal(t *testing.T, h Harness) {
	g := limits.Global{RequestsPerMinute: n(10)}
	allowed, refused := concurrently(t, func() (usage.Admission, error) { return h.Store.AdmitGlobal(ctx(), t0, g) })
	if allowed != 10 || refused["requestsPerMinute"] != 40 || len(refused) != 1 {
		t.Fatalf("50 concurrent AdmitGlobals against requestsPerMinute 10: %d allowed, refused %v", allowed, refused)
	}
}

func testMinuteRollOver(t *testing.T, h Harness) {
	token := newToken()
	l := limits.Limits{RequestsPerMinute: n(2)}
	wantAllowed(t, admit(t, h.Store, token, l, t0), "1st")
	wantAllowed(t, admit(t, h.Store, token, l, t0.Add(10*time.Second)), "2nd")
	wantRefused(t, admit(t, h.Store, token, l, t0.Add(20*time.Second)), "requestsPerMinute", "3rd in the minute")
	next := t0.Truncate(time.Minute).Add(time.Minute) // the next minute's first instant
	a := admit(t, h.Store, token, l, next)
	wantAllowed(t, a, "first of the next minute")
	if a.RequestsMinute != 1 || a.RequestsDay != 3 {
		t.Errorf("next minute: RequestsMinute %d, RequestsDay %d; want 1 (the old minute no longer counts) and 3 (the day continues)", a.RequestsMinute, a.RequestsDay)
	}
	wantAllowed(t, admit(t, h.Store, token, l, next.Add(59*time.Second)), "2nd of the next minute")
	wantRefused(t, admit(t, h.Store, token, l, next.Add(59*time.Second)), "requestsPerMinute", "3rd of the next minute")
	// Many minutes later (the old counters pruned or not), one minute's
	// count is still its own.
	for i := range 8 {
		wantAllowed(t, admit(t, h.Store, token, l, next.Add(time.Duration(i+1)*time.Minute)), fmt.Sprintf("minute +%d", i+1))
	}
	wantAllowed(t, admit(t, h.Store, token, l, next.Add(8*time.Minute)), "2nd in minute +8")
	wantRefused(t, admit(t, h.Store, token, l, next.Add(8*time.Minute)), "requestsPerMinute", "3rd in minute +8")
	if r := oneDay(t, h.Store, token, t0); r.Requests != 4+9 {
		t.Errorf("the day counts %d requests, want 13", r.Requests)
	}
}

func testHourRollOver(t *testing.T, h Harness) {
	token := newToken()
	l := limits.Limits{RequestsPerMinute: n(5), RequestsPerHour: n(3)}
	for i := range 3 {
		wantAllowed(t, admit(t, h.Store, token, l, t0.Add(time.Duration(i)*time.Minute)), fmt.Sprintf("call %d", i+1))
	}
	wantRefused(t, admit(t, h.Store, token, l, t0.Add(5*time.Minute)), "requestsPerHour", "4th in the hour")
	nextHour := t0.Truncate(time.Hour).Add(time.Hour)
	a := admit(t, h.Store, token, l, nextHour)
	wantAllowed(t, a, "first of the next hour")
	if a.RequestsHour != 1 || a.RequestsDay != 4 {
		t.Errorf("next hour: RequestsHour %d, RequestsDay %d; want 1 and 4", a.RequestsHour, a.RequestsDay)
	}
}

func testDayRollOver(t *testing.T, h Harness) {
	token := newToken()
	l := limits.Limits{RequestsPerDay: n(2)}
	wantAllowed(t, admit(t, h.Store, token, l, t0), "1st")
	wantAllowed(t, admit(t, h.Store, token, l, t0.Add(2*time.Hour)), "2nd")
	wantRefused(t, admit(t, h.Store, token, l, t0.Add(3*time.Hour)), "requestsPerDay", "3rd in the day")
	// The last minute of the day and the first of the next.
	endOfDay := time.Date(2026, 3, 10, 23, 59, 59, 0, time.UTC)
	wantRefused(t, admit(t, h.Store, token, l, endOfDay), "requestsPerDay", "the day's last second")
	a := admit(t, h.Store, token, l, endOfDay.Add(time.Second))
	wantAllowed(t, a, "first of the next day")
	if a.RequestsDay != 1 {
		t.Errorf("next day: RequestsDay %d, want 1", a.RequestsDay)
	}
}

func testAdmissionCounts(t *testing.T, h Harness) {
	token := newToken()
	l := limits.Limits{RequestsPerMinute: n(100), RequestsPerHour: n(100), RequestsPerDay: n(100), TokensPerDay: n(1000)}
	wantAllowed(t, admit(t, h.Store, token, l, t0.Add(-time.Hour)), "earlier hour")
	wantAllowed(t, admit(t, h.Store, token, l, t0.Add(-time.Minute)), "earlier minute")
	record(t, h.Store, token, t0, usage.Usage{PromptTokens: 7, CompletionTokens: 5})
	a := admit(t, h.Store, token, l, t0)
	wantAllowed(t, a, "now")
	if !a.Counted {
		t.Error("an allowed call under request limits was not Counted")
	}
	if a.RequestsMinute != 1 || a.RequestsHour != 2 || a.RequestsDay != 3 || a.TokensDay != 12 {
		t.Errorf("Admission %+v: want minute 1, hour 2, day 3, tokens 12", a)
	}
	// Without request limits nothing is counted.
	a = admit(t, h.Store, token, limits.Limits{TokensPerDay: n(1000)}, t0)
	wantAllowed(t, a, "tokensPerDay only")
	if a.Counted {
		t.Error("Counted without request limits")
	}
	if r := oneDay(t, h.Store, token, t0); r.Requests != 3 {
		t.Errorf("the day counts %d requests, want 3", r.Requests)
	}
}

func withRequests(l limits.Limits, on bool) limits.Limits {
	if on {
		l.RequestsPerMinute, l.RequestsPerDay = n(1000), n(1000)
	}
	return l
}

func testTokensPerDay(t *testing.T, h Harness, requests bool) {
	token := newToken()
	l := withRequests(limits.Limits{TokensPerDay: n(100)}, requests)
	wantAllowed(t, admit(t, h.Store, token, l, t0), "before any use")
	record(t, h.Store, token, t0, usage.Usage{PromptTokens: 60, CompletionTokens: 39})
	wantAllowed(t, admit(t, h.Store, token, l, t0), "at 99 of 100 tokens")
	record(t, h.Store, token, t0, usage.Usage{PromptTokens: 1, CompletionTokens: 10})
	a := admit(t, h.Store, token, l, t0.Add(time.Minute))
	wantRefused(t, a, "tokensPerDay", "at 110 of 100 tokens")
	if a.TokensDay != 110 {
		t.Errorf("refused with TokensDay %d, want 110", a.TokensDay)
	}
	wantAllowed(t, admit(t, h.Store, token, l, t0.Add(24*time.Hour)), "the next day")
	if requests {
		if r := oneDay(t, h.Store, token, t0); r.Requests != 2 {
			t.Errorf("the day counts %d requests, want 2 (the refused call is not counted)", r.Requests)
		}
	}
}

func testTokensPerMonth(t *testing.T, h Harness, requests bool) {
	token := newToken()
	l := withRequests(limits.Limits{TokensPerMonth: n(1000)}, requests)
	mar1 := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	mar31 := time.Date(2026, 3, 31, 23, 59, 0, 0, time.UTC)
	record(t, h.Store, token, mar1, usage.Usage{PromptTokens: 400, CompletionTokens: 100})
	record(t, h.Store, token, t0, usage.Usage{PromptTokens: 300, CompletionTokens: 199})
	// The last month does not count.
	record(t, h.Store, token, time.Date(2026, 2, 28, 23, 59, 0, 0, time.UTC), usage.Usage{PromptTokens: 5000})
	wantAllowed(t, admit(t, h.Store, token, l, mar31), "at 999 of 1000")
	record(t, h.Store, token, mar31, usage.Usage{CompletionTokens: 1})
	a := admit(t, h.Store, token, l, mar31)
	wantRefused(t, a, "tokensPerMonth", "at 1000 of 1000")
	if a.TokensMonth != 1000 {
		t.Errorf("refused with TokensMonth %d, want 1000", a.TokensMonth)
	}
	if requests {
		if r := oneDay(t, h.Store, token, mar31); r.Requests != 1 {
			t.Errorf("the day counts %d requests, want 1 (the refused call is not counted)", r.Requests)
		}
	}
	wantAllowed(t, admit(t, h.Store, token, l, mar31.Add(time.Minute)), "the next month")
}

func testBudgetPerMonth(t *testing.T, h Harness, requests bool) {
	token := newToken()
	l := withRequests(limits.Limits{BudgetPerMonth: f(0.5)}, requests)
	mar2 := time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)
	record(t, h.Store, token, mar2, usage.Usage{PromptTokens: 1, CostNanos: 300_000_000})
	wantAllowed(t, admit(t, h.Store, token, l, t0), "at 0.3 of 0.5")
	record(t, h.Store, token, t0, usage.Usage{PromptTokens: 1, CostNanos: 200_000_000})
	a := admit(t, h.Store, token, l, t0)
	wantRefused(t, a, "budgetPerMonth", "at 0.5 of 0.5")
	if a.CostMonthNanos != 500_000_000 {
		t.Errorf("refused with CostMonthNanos %d, want 500000000", a.CostMonthNanos)
	}
	apr := time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)
	wantAllowed(t, admit(t, h.Store, token, l, apr), "the next month")
	record(t, h.Store, token, apr, usage.Usage{CostNanos: 499_999_999})
	wantAllowed(t, admit(t, h.Store, token, l, apr), "April at just under 0.5")
}

func testGlobalIndependent(t *testing.T, h Harness) {
	token := newToken()
	g := limits.Global{RequestsPerMinute: n(3)}
	// The token's own counts and tokens do not count globally.
	for range 5 {
		wantAllowed(t, admit(t, h.Store, token, limits.Limits{RequestsPerMinute: n(100)}, t0), "token")
	}
	record(t, h.Store, token, t0, usage.Usage{Requests: 1, PromptTokens: 1_000_000})
	for i := range 3 {
		a, err := h.Store.AdmitGlobal(ctx(), t0, g)
		if err != nil {
			t.Fatal(err)
		}
		wantAllowed(t, a, fmt.Sprintf("global %d", i+1))
		if a.RequestsMinute != int64(i+1) {
			t.Errorf("global %d: RequestsMinute %d", i+1, a.RequestsMinute)
		}
	}
	a, err := h.Store.AdmitGlobal(ctx(), t0, g)
	if err != nil {
		t.Fatal(err)
	}
	wantRefused(t, a, "requestsPerMinute", "4th global")
	// Nor do the global counts count for the token.
	if r := oneDay(t, h.Store, token, t0); r.Requests != 6 {
		t.Errorf("token day counts %d requests, want 6", r.Requests)
	}
	hour := limits.Global{RequestsPerHour: n(4)}
	a, _ = h.Store.AdmitGlobal(ctx(), t0.Add(time.Minute), hour)
	wantAllowed(t, a, "global, next minute")
	a, _ = h.Store.AdmitGlobal(ctx(), t0.Add(2*time.Minute), hour)
	wantRefused(t, a, "requestsPerHour", "global, 5th in the hour")
}

func testUnadmit(t *testing.T, h Harness) {
	token := newToken()
	l := limits.Limits{RequestsPerMinute: n(2)}
	wantAllowed(t, admit(t, h.Store, token, l, t0), "1st")
	wantAllowed(t, admit(t, h.Store, token, l, t0), "2nd")
	wantRefused(t, admit(t, h.Store, token, l, t0), "requestsPerMinute", "3rd")
	if err := h.Store.Unadmit(ctx(), token, t0); err != nil {
		t.Fatalf("Unadmit: %v", err)
	}
	a := admit(t, h.Store, token, l, t0)
	wantAllowed(t, a, "after Unadmit")
	if a.RequestsMinute != 2 || a.RequestsDay != 2 {
		t.Errorf("after Unadmit and Admit: %+v, want minute 2, day 2", a)
	}
}

func testUnadmitFloor(t *testing.T, h Harness) {
	token := newToken()
	if err := h.Store.Unadmit(ctx(), token, t0); err != nil {
		t.Fatalf("Unadmit of nothing: %v", err)
	}
	l := limits.Limits{RequestsPerMinute: n(1)}
	wantAllowed(t, admit(t, h.Store, token, l, t0), "1st")
	for range 3 {
		if err := h.Store.Unadmit(ctx(), token, t0); err != nil {
			t.Fatalf("Unadmit: %v", err)
		}
	}
	if r := oneDay(t, h.Store, token, t0); r.Requests != 0 {
		t.Errorf("after more Unadmits than Admits the day counts %d requests, want 0", r.Requests)
	}
	wantAllowed(t, admit(t, h.Store, token, l, t0), "after the Unadmits")
	wantRefused(t, admit(t, h.Store, token, l, t0), "requestsPerMinute", "2nd: the minute did not go below 0")
}

func testRecordAccumulates(t *testing.T, h Harness) {
	token := newToken()
	wantAllowed(t, admit(t, h.Store, token, limits.Limits{RequestsPerDay: n(10)}, t0), "admit")
	record(t, h.Store, token, t0, usage.Usage{Requests: 0, PromptTokens: 10, CompletionTokens: 20, CostNanos: 5})
	record(t, h.Store, token, t0.Add(time.Hour), usage.Usage{Requests: 1, Errors: 1, PromptTokens: 1, CompletionTokens: 2, CostNanos: 7})
	record(t, h.Store, token, t0.Add(2*time.Hour), usage.Usage{Requests: 1})
	got := oneDay(t, h.Store, token, t0)
	want := usage.Row{TokenUUID: token, Username: "alice", Day: day(t0), Requests: 3, Errors: 1, PromptTokens: 11, CompletionTokens: 22, CostNanos: 12}
	if got != want {
		t.Errorf("row %+v, want %+v", got, want)
	}
	// Concurrent Records all add up.
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := h.Store.Record(ctx(), token, "alice", t0, usage.Usage{Requests: 1, PromptTokens: 1}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if got := oneDay(t, h.Store, token, t0); got.Requests != 23 || got.PromptTokens != 31 {
		t.Errorf("after 20 concurrent Records: %+v, want 23 requests, 31 prompt tokens", got)
	}
}

func testDays(t *testing.T, h Harness) {
	token, other := newToken(), newToken()
	days := []time.Time{t0.AddDate(0, 0, 5), t0, t0.AddDate(0, 0, -20), t0.AddDate(0, 0, 1)}
	for i, d := range days {
		record(t, h.Store, token, d, usage.Usage{Requests: int64(i + 1)})
	}
	record(t, h.Store, other, t0, usage.Usage{Requests: 100})
	rows, err := h.Store.Days(ctx(), token, day(t0.AddDate(0, 0, -20)), day(t0.AddDate(0, 0, 1)))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range rows {
		if r.TokenUUID != token || r.Username != "alice" {
			t.Errorf("row of %s/%s, want %s/alice", r.TokenUUID, r.Username, token)
		}
		got = append(got, fmt.Sprintf("%s:%d", r.Day, r.Requests))
	}
	want := []string{"2026-02-18:3", "2026-03-10:2", "2026-03-11:4"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Days = %v, want %v (oldest first, only the range, only the token)", got, want)
	}
	rows, err = h.Store.Days(ctx(), newToken(), day(t0), day(t0))
	if err != nil || len(rows) != 0 {
		t.Errorf("Days of an unused token = %v, %v; want none", rows, err)
	}
}

func testRows(t *testing.T, h Harness) {
	a1, a2, b := newToken(), newToken(), newToken()
	mar, apr, may := t0, time.Date(2026, 4, 2, 9, 0, 0, 0, time.UTC), time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
	put := func(token, user string, at time.Time, req int64) {
		t.Helper()
		if err := h.Store.Record(ctx(), token, user, at, usage.Usage{Requests: req, PromptTokens: req}); err != nil {
			t.Fatal(err)
		}
	}
	put(a1, "alice", mar, 1)
	put(a1, "alice", apr, 2)
	put(a2, "alice", apr, 3)
	put(b, "bob", mar, 4)
	put(b, "bob", may, 5)
	// Counted by Admit only (no Record): a row too.
	if _, err := h.Store.Admit(ctx(), usage.Admit{TokenUUID: b, Username: "bob", Limits: limits.Limits{RequestsPerDay: n(9)}, Now: apr}); err != nil {
		t.Fatal(err)
	}
	// The global counters are no token's row.
	for _, at := range []time.Time{mar, apr} {
		if _, err := h.Store.AdmitGlobal(ctx(), at, limits.Global{RequestsPerDay: n(9)}); err != nil {
			t.Fatal(err)
		}
	}
	rowsOf := func(user, from, to string) []string {
		t.Helper()
		rows, err := h.Store.Rows(ctx(), user, from, to)
		if err != nil {
			t.Fatalf("Rows(%q, %s, %s): %v", user, from, to, err)
		}
		var out []string
		for _, r := range rows {
			name := map[string]string{a1: "a1", a2: "a2", b: "b"}[r.TokenUUID]
			if name == "" {
				t.Errorf("Rows returned a row of %q", r.TokenUUID)
			}
			out = append(out, fmt.Sprintf("%s/%s/%s:%d", name, r.Username, r.Day, r.Requests))
		}
		sort.Strings(out)
		return out
	}
	for _, tc := range []struct {
		user, from, to string
		want           []string
	}{
		{"", "2026-03-01", "2026-05-31", []string{"a1/alice/2026-03-10:1", "a1/alice/2026-04-02:2", "a2/alice/2026-04-02:3", "b/bob/2026-03-10:4", "b/bob/2026-04-02:1", "b/bob/2026-05-01:5"}},
		{"", "2026-03-11", "2026-04-30", []string{"a1/alice/2026-04-02:2", "a2/alice/2026-04-02:3", "b/bob/2026-04-02:1"}},
		{"alice", "2026-03-01", "2026-05-31", []string{"a1/alice/2026-03-10:1", "a1/alice/2026-04-02:2", "a2/alice/2026-04-02:3"}},
		{"bob", "2026-04-02", "2026-05-01", []string{"b/bob/2026-04-02:1", "b/bob/2026-05-01:5"}},
		{"carol", "2026-03-01", "2026-05-31", nil},
		{"", "2026-06-01", "2026-06-30", nil},
	} {
		if got := rowsOf(tc.user, tc.from, tc.to); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Rows(%q, %s, %s) = %v, want %v", tc.user, tc.from, tc.to, got, tc.want)
		}
	}
}

func testBadRanges(t *testing.T, h Harness) {
	for _, r := range [][2]string{
		{"2026-3-1", "2026-03-02"}, {"2026-03-01", ""}, {"2026-02-30", "2026-03-01"}, {"2026-03-02", "2026-03-01"},
		{"2025-01-01", "2026-01-02"}, {"2026-03-01T00:00:00Z", "2026-03-02"}, {"yesterday", "today"},
	} {
		if _, err := h.Store.Days(ctx(), newToken(), r[0], r[1]); !errors.Is(err, usage.ErrBadRange) {
			t.Errorf("Days(%q, %q): %v, want ErrBadRange", r[0], r[1], err)
		}
		if _, err := h.Store.Rows(ctx(), "", r[0], r[1]); !errors.Is(err, usage.ErrBadRange) {
			t.Errorf("Rows(%q, %q): %v, want ErrBadRange", r[0], r[1], err)
		}
	}
	// Exactly MaxRangeDays is fine.
	if _, err := h.Store.Days(ctx(), newToken(), "2025-01-01", "2026-01-01"); err != nil {
		t.Errorf("Days of %d days: %v", usage.MaxRangeDays, err)
	}
	if _, err := h.Store.Rows(ctx(), "alice", "2025-01-01", "2026-01-01"); err != nil {
		t.Errorf("Rows of %d days: %v", usage.MaxRangeDays, err)
	}
}

// testCanceled: a store that cannot reach its backend (here: the
// caller's context is done) fails with an error, never a refusal.
func testCanceled(t *testing.T, h Harness) {
	c, cancel := context.WithCancel(ctx())
	cancel()
	token := newToken()
	for _, l := range []limits.Limits{
		{RequestsPerMinute: n(1)}, {TokensPerDay: n(1)}, {TokensPerMonth: n(1)}, {BudgetPerMonth: f(1)},
	} {
		a, err := h.Store.Admit(c, usage.Admit{TokenUUID: token, Username: "alice", Limits: l, Now: t0})
		if err == nil || a.Allowed || a.Refused != "" {
			t.Errorf("Admit(%s) with a canceled context = %+v, %v; want an error and no decision", limits.Encode(&l), a, err)
		}
	}
	if a, err := h.Store.AdmitGlobal(c, t0, limits.Global{RequestsPerDay: n(1)}); err == nil || a.Allowed || a.Refused != "" {
		t.Errorf("AdmitGlobal with a canceled context = %+v, %v", a, err)
	}
	if err := h.Store.Unadmit(c, token, t0); err == nil {
		t.Error("Unadmit with a canceled context: no error")
	}
	if err := h.Store.Record(c, token, "alice", t0, usage.Usage{Requests: 1}); err == nil {
		t.Error("Record with a canceled context: no error")
	}
	if _, err := h.Store.Days(c, token, day(t0), day(t0)); err == nil {
		t.Error("Days with a canceled context: no error")
	}
	if _, err := h.Store.Rows(c, "", day(t0), day(t0)); err == nil {
		t.Error("Rows with a canceled context: no error")
	}
}

// Failing runs the checks of a store whose backend fails every request:
// each method returns an error, and Admit and AdmitGlobal no decision
// (neither allowed nor refused), so callers fail closed (or open, by
// choice) rather than mistake an outage for a limit.
func Failing(t *testing.T, s usage.Store) {
	t.Helper()
	token := newToken()
	for _, l := range []limits.Limits{
		{RequestsPerMinute: n(1)}, {RequestsPerDay: n(1), TokensPerDay: n(5)}, {TokensPerDay: n(1)},
		{TokensPerMonth: n(1)}, {BudgetPerMonth: f(1)}, {RequestsPerHour: n(3), BudgetPerMonth: f(1)},
	} {
		a, err := s.Admit(ctx(), usage.Admit{TokenUUID: token, Username: "alice", Limits: l, Now: t0})
		if err == nil || a.Allowed || a.Refused != "" {
			t.Errorf("Admit(%s) on a failing backend = %+v, %v; want an error and no decision", limits.Encode(&l), a, err)
		}
	}
	if a, err := s.AdmitGlobal(ctx(), t0, limits.Global{RequestsPerMinute: n(1)}); err == nil || a.Allowed || a.Refused != "" {
		t.Errorf("AdmitGlobal on a failing backend = %+v, %v", a, err)
	}
	if err := s.Unadmit(ctx(), token, t0); err == nil {
		t.Error("Unadmit on a failing backend: no error")
	}
	if err := s.Record(ctx(), token, "alice", t0, usage.Usage{Requests: 1}); err == nil {
		t.Error("Record on a failing backend: no error")
	}
	if _, err := s.Days(ctx(), token, day(t0), day(t0)); err == nil {
		t.Error("Days on a failing backend: no error")
	}
	if _, err := s.Rows(ctx(), "alice", day(t0), day(t0)); err == nil {
		t.Error("Rows on a failing backend: no error")
	}
	if a, err := s.Admit(ctx(), usage.Admit{TokenUUID: token, Now: t0}); err != nil || !a.Allowed {
		t.Errorf("Admit without limits on a failing backend = %+v, %v; want allowed (no call)", a, err)
	}
}
