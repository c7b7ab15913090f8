// Package usage counts what tokens use: the request counters that rate
// limits are enforced with, and the per-token, per-day usage rows
// (requests, errors, prompt and completion tokens, cost) that budgets and
// the usage API read. The Store contract is held by the conformance suite
// in usagetest; memusage is the in-memory reference and dynamousage the
// DynamoDB one (its own table, schema.Usage).
//
// Windows are fixed and in UTC (limits.WindowsAt): a minute, an hour, a
// day, a month. Counters are exact across every instance: a request is
// counted by one conditional write that also checks every request limit, so
// of any number of concurrent calls exactly as many pass as the limits
// allow.
package usage

import (
	"context"
	"errors"
	"time"

	"github.com/llmgw/apitokens/pkg/limits"
)

// GlobalKey is the TokenUUID under which GLOBAL_LIMITS are counted. A
// tokenUUID is a UUID, so it can never be this.
const GlobalKey = "GLOBAL"

// ErrBadRange: a day range that is not two days "2006-01-02", from <= to,
// or longer than MaxRangeDays.
var ErrBadRange = errors.New("usage: invalid day range")

// MaxRangeDays bounds a usage query.
const MaxRangeDays = 366

// Admit is one call to be admitted.
type Admit struct {
	TokenUUID string
	Username  string
	Limits    limits.Limits // the effective limits (limits.Policy.Resolve)
	Now       time.Time
}

// Admission is the outcome of Admit. The counts are as they stand after
// this call was counted (allowed) or as they stood (refused); a count a
// limit does not need may be 0.
type Admission struct {
	Allowed bool
	// Refused names the limit that refused the call: "requestsPerMinute",
	// "requestsPerHour", "requestsPerDay", "tokensPerDay",
	// "tokensPerMonth" or "budgetPerMonth". "" when allowed.
	Refused string
	// Counted is whether this call's request was counted (it was, when
	// allowed and the limits limit requests): Record must then not count
	// the request again.
	Counted bool

	RequestsMinute, RequestsHour, RequestsDay int64
	TokensDay, TokensMonth                    int64
	CostMonthNanos                            int64 // billionths of the budget's unit
}

// DayLimitReached returns the first of l's request limits and its
// tokensPerDay, in that order of precedence, that adm's counts have
// reached, or "" if none has. A store refuses a call by the name it
// returns.
func DayLimitReached(l limits.Limits, adm Admission) string {
	for _, c := range []struct {
		name  string
		limit *int64
		count int64
	}{
		{"requestsPerMinute", l.RequestsPerMinute, adm.RequestsMinute},
		{"requestsPerHour", l.RequestsPerHour, adm.RequestsHour},
		{"requestsPerDay", l.RequestsPerDay, adm.RequestsDay},
		{"tokensPerDay", l.TokensPerDay, adm.TokensDay},
	} {
		if c.limit != nil && c.count >= *c.limit {
			return c.name
		}
	}
	return ""
}

// Usage is what one finished call used.
type Usage struct {
	Requests         int64 // 1 unless Admit already counted the request
	Errors           int64 // 1 if the call failed (status >= 400 or cut mid-stream)
	PromptTokens     int64
	CompletionTokens int64
	CostNanos        int64
}

// Row is one token's usage on one day.
type Row struct {
	TokenUUID        string
	Username         string
	Day              string // "2006-01-02"
	Requests         int64
	Errors           int64
	PromptTokens     int64
	CompletionTokens int64
	CostNanos        int64
}

// Store counts usage. Implementations must be safe for concurrent use.
type Store interface {
	// Admit checks a call against a.Limits and, when they limit request
	// rates, counts it, in one conditional write: the call is counted only
	// if every request limit allows one more and the token limits
	// (tokensPerDay, tokensPerMonth, budgetPerMonth) are not yet reached
	// by the calls already recorded. With no request limit it only reads.
	// With no limits at all it neither reads nor writes (Admission{Allowed:
	// true}).
	Admit(ctx context.Context, a Admit) (Admission, error)

	// AdmitGlobal is Admit for GLOBAL_LIMITS, counted under GlobalKey.
	AdmitGlobal(ctx context.Context, now time.Time, g limits.Global) (Admission, error)

	// Unadmit takes back one request Admit counted at now (when a later
	// check, the global one, refused the call). Best effort: counts never
	// go below zero.
	Unadmit(ctx context.Context, tokenUUID string, now time.Time) error

	// Record adds a finished call's usage to the token's row for the day
	// of now, in one write.
	Record(ctx context.Context, tokenUUID, username string, now time.Time, u Usage) error

	// Days returns the token's rows from..to (inclusive days), oldest
	// first; days without use have no row.
	Days(ctx context.Context, tokenUUID, from, to string) ([]Row, error)

	// Rows returns every token's rows from..to, or only username's tokens'
	// when username is not "", in no particular order (callers aggregate).
	Rows(ctx context.Context, username, from, to string) ([]Row, error)
}
