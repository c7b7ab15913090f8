package serve_test

import (
	"context"
	"math"
	"sync"
	"time"

	"github.com/llmgw/apitokens/pkg/limits"
	"github.com/llmgw/apitokens/pkg/usage"
)

// fakeUsage is a test fake of usage.Store: the contract kept simply and
// exactly under one mutex (the reference implementations are tested
// against the conformance suite elsewhere). Days and Rows are not used by
// the serve path and are not implemented.
type fakeUsage struct {
	mu      sync.Mutex
	err     error            // when set, every call fails with it
	calls   []string         // method names, in order
	counts  map[string]int64 // tokenUUID + window ("m1504", "h15", "d2006-01-02") -> requests
	rows    map[string]*usage.Row
	records []fakeRecord
}

type fakeRecord struct {
	TokenUUID, Username string
	Usage               usage.Usage
}

func newFakeUsage() *fakeUsage {
	return &fakeUsage{counts: map[string]int64{}, rows: map[string]*usage.Row{}}
}

var _ usage.Store = (*fakeUsage)(nil)

func (f *fakeUsage) call(name string) error {
	f.calls = append(f.calls, name)
	return f.err
}

func keys(id string, w limits.Windows) (m, h, d string) {
	return id + "/m" + w.Day + w.Minute, id + "/h" + w.Day + w.Hour, id + "/d" + w.Day
}

// admit is Admit for id under l, the mutex held.
func (f *fakeUsage) admit(id, username string, l limits.Limits, now time.Time) usage.Admission {
	if l.IsZero() {
		return usage.Admission{Allowed: true}
	}
	w := limits.WindowsAt(now)
	km, kh, kd := keys(id, w)
	a := usage.Admission{RequestsMinute: f.counts[km], RequestsHour: f.counts[kh], RequestsDay: f.counts[kd]}
	for _, r := range f.rows {
		if r.TokenUUID != id || r.Day[:7] != w.Month {
			continue
		}
		a.TokensMonth += r.PromptTokens + r.CompletionTokens
		a.CostMonthNanos += r.CostNanos
		if r.Day == w.Day {
			a.TokensDay += r.PromptTokens + r.CompletionTokens
		}
	}
	refuse := func(name string) usage.Admission { a.Refused = name; return a }
	switch {
	case l.RequestsPerMinute != nil && a.RequestsMinute+1 > *l.RequestsPerMinute:
		return refuse("requestsPerMinute")
	case l.RequestsPerHour != nil && a.RequestsHour+1 > *l.RequestsPerHour:
		return refuse("requestsPerHour")
	case l.RequestsPerDay != nil && a.RequestsDay+1 > *l.RequestsPerDay:
		return refuse("requestsPerDay")
	case l.TokensPerDay != nil && a.TokensDay >= *l.TokensPerDay:
		return refuse("tokensPerDay")
	case l.TokensPerMonth != nil && a.TokensMonth >= *l.TokensPerMonth:
		return refuse("tokensPerMonth")
	case l.BudgetPerMonth != nil && a.CostMonthNanos >= int64(math.Round(*l.BudgetPerMonth*limits.NanosPerUnit)):
		return refuse("budgetPerMonth")
	}
	a.Allowed = true
	if l.HasRequests() {
		f.counts[km]++
		f.counts[kh]++
		f.counts[kd]++
		a.RequestsMinute, a.RequestsHour, a.RequestsDay = f.counts[km], f.counts[kh], f.counts[kd]
		a.Counted = true
		f.row(id, username, w.Day).Requests++
	}
	return a
}

func (f *fakeUsage) row(id, username, day string) *usage.Row {
	r, ok := f.rows[id+"/"+day]
	if !ok {
		r = &usage.Row{TokenUUID: id, Username: username, Day: day}
		f.rows[id+"/"+day] = r
	}
	return r
}

func (f *fakeUsage) Admit(_ context.Context, a usage.Admit) (usage.Admission, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.call("Admit"); err != nil {
		return usage.Admission{}, err
	}
	return f.admit(a.TokenUUID, a.Username, a.Limits, a.Now), nil
}

func (f *fakeUsage) AdmitGlobal(_ context.Context, now time.Time, g limits.Global) (usage.Admission, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.call("AdmitGlobal"); err != nil {
		return usage.Admission{}, err
	}
	return f.admit(usage.GlobalKey, "", g.AsLimits(), now), nil
}

func (f *fakeUsage) Unadmit(_ context.Context, id string, now time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.call("Unadmit"); err != nil {
		return err
	}
	w := limits.WindowsAt(now)
	km, kh, kd := keys(id, w)
	for _, k := range []string{km, kh, kd} {
		f.counts[k] = max(0, f.counts[k]-1)
	}
	if r, ok := f.rows[id+"/"+w.Day]; ok {
		r.Requests = max(0, r.Requests-1)
	}
	return nil
}

func (f *fakeUsage) Record(_ context.Context, id, username string, now time.Time, u usage.Usage) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.call("Record"); err != nil {
		return err
	}
	f.records = append(f.records, fakeRecord{TokenUUID: id, Username: username, Usage: u})
	r := f.row(id, username, limits.WindowsAt(now).Day)
	r.Requests += u.Requests
	r.Errors += u.Errors
	r.PromptTokens += u.PromptTokens
	r.CompletionTokens += u.CompletionTokens
	r.CostNanos += u.CostNanos
	return nil
}

func (f *fakeUsage) Days(context.Context, string, string, string) ([]usage.Row, error) {
	panic("fakeUsage: Days is not used by the serve path")
}

func (f *fakeUsage) Rows(context.Context, string, string, string) ([]usage.Row, error) {
	panic("fakeUsage: Rows is not used by the serve path")
}

// Calls returns the method names called so far.
func (f *fakeUsage) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

// Records returns the Record calls so far.
func (f *fakeUsage) Records() []fakeRecord {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]fakeRecord(nil), f.records...)
}

// Count returns a request counter of id at now: window "m", "h" or "d".
func (f *fakeUsage) Count(id, window string, now time.Time) int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	km, kh, kd := keys(id, limits.WindowsAt(now))
	return f.counts[map[string]string{"m": km, "h": kh, "d": kd}[window]]
}

// Fail makes every later call fail with err (nil: succeed again).
func (f *fakeUsage) Fail(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.err = err
}
