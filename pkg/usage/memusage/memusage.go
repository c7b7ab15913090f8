// Package memusage is the in-memory reference implementation of
// usage.Store, for unit tests and anything else that needs the contract
// without DynamoDB. One mutex makes every Admit one atomic check-and-count,
// so it is exact under any concurrency, and it keeps the same items and
// windows as dynamousage: one item per token and UTC day with the day's
// totals and its per-hour and per-minute request counters. The
// conformance suite in usagetest checks both.
package memusage

import (
	"context"
	"sort"
	"sync"
	"time"

	"github.com/llmgw/apitokens/pkg/limits"
	"github.com/llmgw/apitokens/pkg/usage"
	"github.com/llmgw/apitokens/pkg/usage/internal/span"
)

// Store is a mutex-protected map of day items. The zero value is not
// usable; call New.
type Store struct {
	mu    sync.Mutex
	days  map[key]*day
	calls int // reads and writes served: what dynamousage would send
}

type key struct{ token, day string }

// day is one token's (or usage.GlobalKey's) item for one UTC day.
type day struct {
	username, month string
	requests        int64
	errors          int64
	prompt, output  int64
	tokens, cost    int64
	counters        map[string]int64 // span.HourAttr and span.MinuteAttr names
}

var _ usage.Store = (*Store)(nil)

// New returns an empty Store.
func New() *Store { return &Store{days: map[key]*day{}} }

// Calls returns how many reads and writes the store has served. Like the
// DynamoDB store's requests, an Admit without limits makes none.
func (s *Store) Calls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}

// item returns the day item of k, created empty if create is set (nil
// otherwise when missing). Callers hold mu.
func (s *Store) item(k key, create bool) *day {
	d := s.days[k]
	if d == nil && create {
		d = &day{counters: map[string]int64{}}
		s.days[k] = d
	}
	return d
}

// Admit implements usage.Store. The monthly limits are checked first
// (refused without counting), then, as one step, the request limits
// (minute, hour, day) and tokensPerDay; the request is counted only when
// all of them allow it.
func (s *Store) Admit(ctx context.Context, a usage.Admit) (usage.Admission, error) {
	l := a.Limits
	if l.IsZero() {
		return usage.Admission{Allowed: true}, nil
	}
	if err := ctx.Err(); err != nil {
		return usage.Admission{}, err
	}
	w := limits.WindowsAt(a.Now)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	var adm usage.Admission
	if l.HasMonthly() {
		first, last := span.MonthDays(w)
		for k, d := range s.days {
			if k.token == a.TokenUUID && k.day >= first && k.day <= last {
				adm.TokensMonth += d.tokens
				adm.CostMonthNanos += d.cost
			}
		}
		if l.TokensPerMonth != nil && adm.TokensMonth >= *l.TokensPerMonth {
			return s.refuse(adm, w, a.TokenUUID, "tokensPerMonth"), nil
		}
		if l.BudgetPerMonth != nil && adm.CostMonthNanos >= span.BudgetNanos(*l.BudgetPerMonth) {
			return s.refuse(adm, w, a.TokenUUID, "budgetPerMonth"), nil
		}
	}
	adm = s.admitRequests(a.TokenUUID, a.Username, w, l, adm)
	return adm, nil
}

// refuse fills adm with the counts of the token's day as they stand.
func (s *Store) refuse(adm usage.Admission, w limits.Windows, token, limit string) usage.Admission {
	adm = s.counts(adm, w, s.item(key{token, w.Day}, false))
	adm.Refused = limit
	return adm
}

func (s *Store) counts(adm usage.Admission, w limits.Windows, d *day) usage.Admission {
	if d == nil {
		return adm
	}
	adm.RequestsMinute = d.counters[span.MinuteAttr(w.Minute)]
	adm.RequestsHour = d.counters[span.HourAttr(w.Hour)]
	adm.RequestsDay = d.requests
	adm.TokensDay = d.tokens
	return adm
}

// admitRequests is the conditional write: the request limits and
// tokensPerDay in order of precedence, then the count. Without request
// limits it only reads. username "" (the global item) sets none, and the
// global item has no month either. Callers hold mu.
func (s *Store) admitRequests(token, username string, w limits.Windows, l limits.Limits, adm usage.Admission) usage.Admission {
	k := key{token, w.Day}
	d := s.item(k, false)
	adm = s.counts(adm, w, d)
	if adm.Refused = usage.DayLimitReached(l, adm); adm.Refused != "" {
		return adm
	}
	adm.Allowed = true
	if !l.HasRequests() {
		return adm
	}
	d = s.item(k, true)
	for _, m := range span.PrunedMinutes(w) {
		delete(d.counters, m)
	}
	d.requests++
	d.counters[span.HourAttr(w.Hour)]++
	d.counters[span.MinuteAttr(w.Minute)]++
	if token != usage.GlobalKey {
		d.month = w.Month
		if username != "" {
			d.username = username
		}
	}
	adm.Counted = true
	return s.counts(adm, w, d)
}

// AdmitGlobal implements usage.Store: the request limits of g under
// usage.GlobalKey.
func (s *Store) AdmitGlobal(ctx context.Context, now time.Time, g limits.Global) (usage.Admission, error) {
	l := g.AsLimits()
	if l.IsZero() {
		return usage.Admission{Allowed: true}, nil
	}
	if err := ctx.Err(); err != nil {
		return usage.Admission{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	return s.admitRequests(usage.GlobalKey, "", limits.WindowsAt(now), l, usage.Admission{}), nil
}

// Unadmit implements usage.Store: one request off the day, hour and
// minute of now, only if none of the three is 0.
func (s *Store) Unadmit(ctx context.Context, tokenUUID string, now time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	w := limits.WindowsAt(now)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	d := s.item(key{tokenUUID, w.Day}, false)
	h, m := span.HourAttr(w.Hour), span.MinuteAttr(w.Minute)
	if d == nil || d.requests <= 0 || d.counters[h] <= 0 || d.counters[m] <= 0 {
		return nil
	}
	d.requests--
	d.counters[h]--
	d.counters[m]--
	return nil
}

// Record implements usage.Store.
func (s *Store) Record(ctx context.Context, tokenUUID, username string, now time.Time, u usage.Usage) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	w := limits.WindowsAt(now)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	d := s.item(key{tokenUUID, w.Day}, true)
	d.requests += u.Requests
	d.errors += u.Errors
	d.prompt += u.PromptTokens
	d.output += u.CompletionTokens
	d.tokens += u.PromptTokens + u.CompletionTokens
	d.cost += u.CostNanos
	if username != "" {
		d.username = username
	}
	d.month = w.Month
	return nil
}

// Days implements usage.Store.
func (s *Store) Days(ctx context.Context, tokenUUID, from, to string) ([]usage.Row, error) {
	if _, _, err := span.Range(from, to); err != nil {
		return nil, err
	}
	rows, err := s.rows(ctx, func(k key, _ *day) bool { return k.token == tokenUUID && k.day >= from && k.day <= to })
	sort.Slice(rows, func(i, j int) bool { return rows[i].Day < rows[j].Day })
	return rows, err
}

// Rows implements usage.Store. Like the DynamoDB store's index queries it
// finds only items with a month (or, with username, that username): never
// the global item.
func (s *Store) Rows(ctx context.Context, username, from, to string) ([]usage.Row, error) {
	if _, _, err := span.Range(from, to); err != nil {
		return nil, err
	}
	return s.rows(ctx, func(k key, d *day) bool {
		if k.token == usage.GlobalKey || k.day < from || k.day > to {
			return false
		}
		if username != "" {
			return d.username == username
		}
		return d.month != ""
	})
}

func (s *Store) rows(ctx context.Context, match func(key, *day) bool) ([]usage.Row, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	var out []usage.Row
	for k, d := range s.days {
		if match(k, d) {
			out = append(out, usage.Row{
				TokenUUID: k.token, Username: d.username, Day: k.day,
				Requests: d.requests, Errors: d.errors,
				PromptTokens: d.prompt, CompletionTokens: d.output, CostNanos: d.cost,
			})
		}
	}
	return out, nil
}
