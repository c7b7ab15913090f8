// Package limits is the one definition of what a token may use: request
// rates per minute, hour and day, model tokens per day and month, and money
// per month. It parses and validates the limit documents (a token's own
// "limits", DEFAULT_TOKEN_LIMITS, GROUP_TOKEN_LIMITS, GLOBAL_LIMITS) and
// MODEL_PRICES, decides which limits apply to a token, and does the window
// arithmetic that counters and the x-ratelimit-* headers share. It does no
// I/O: counting is pkg/usage's job, enforcing the serve path's.
package limits

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"time"
)

// Limits are the limits of one token. A nil field sets no limit (from this
// source: see Resolve). Counts are at least 1; BudgetPerMonth is money in
// the unit of MODEL_PRICES (for example US dollars), more than 0.
type Limits struct {
	RequestsPerMinute *int64   `json:"requestsPerMinute,omitempty"`
	RequestsPerHour   *int64   `json:"requestsPerHour,omitempty"`
	RequestsPerDay    *int64   `json:"requestsPerDay,omitempty"`
	TokensPerDay      *int64   `json:"tokensPerDay,omitempty"`
	TokensPerMonth    *int64   `json:"tokensPerMonth,omitempty"`
	BudgetPerMonth    *float64 `json:"budgetPerMonth,omitempty"`
}

// Bounds of a limit value: large enough for any real gateway, small enough
// that no sum of counters can overflow.
const (
	MaxCount  = int64(1e12)
	MaxBudget = 1e9
)

// IsZero reports whether l sets no limit at all.
func (l Limits) IsZero() bool { return l == Limits{} }

// HasRequests reports whether l limits request rates.
func (l Limits) HasRequests() bool {
	return l.RequestsPerMinute != nil || l.RequestsPerHour != nil || l.RequestsPerDay != nil
}

// HasMonthly reports whether l limits anything counted per month.
func (l Limits) HasMonthly() bool { return l.TokensPerMonth != nil || l.BudgetPerMonth != nil }

// Validate reports the first value out of bounds, naming its field as
// at+"."+field (at is where l came from, e.g. "limits" or
// "GROUP_TOKEN_LIMITS.team-a").
func (l Limits) Validate(at string) error {
	for _, c := range []struct {
		name string
		v    *int64
	}{
		{"requestsPerMinute", l.RequestsPerMinute}, {"requestsPerHour", l.RequestsPerHour}, {"requestsPerDay", l.RequestsPerDay},
		{"tokensPerDay", l.TokensPerDay}, {"tokensPerMonth", l.TokensPerMonth},
	} {
		if c.v != nil && (*c.v < 1 || *c.v > MaxCount) {
			return fmt.Errorf("%s.%s must be a whole number from 1 to %d, not %d", at, c.name, MaxCount, *c.v)
		}
	}
	if b := l.BudgetPerMonth; b != nil && (math.IsNaN(*b) || *b <= 0 || *b > MaxBudget) {
		return fmt.Errorf("%s.budgetPerMonth must be more than 0 and at most %g, not %g", at, MaxBudget, *b)
	}
	return nil
}

// Parse reads one limits object (strict: unknown fields and trailing data
// are errors) and validates it. Empty input is no limit.
func Parse(at string, raw []byte) (Limits, error) {
	var l Limits
	if len(bytes.TrimSpace(raw)) == 0 {
		return l, nil
	}
	if err := strictJSON(raw, &l); err != nil {
		return Limits{}, fmt.Errorf("%s: %w", at, err)
	}
	return l, l.Validate(at)
}

// ParseGroups reads GROUP_TOKEN_LIMITS: an object of group name -> limits.
func ParseGroups(at string, raw []byte) (map[string]Limits, error) {
	out := map[string]Limits{}
	if len(bytes.TrimSpace(raw)) == 0 {
		return out, nil
	}
	var m map[string]json.RawMessage
	if err := strictJSON(raw, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", at, err)
	}
	for g, r := range m {
		if strings.TrimSpace(g) == "" {
			return nil, fmt.Errorf("%s: a group name is empty", at)
		}
		l, err := Parse(at+"."+g, r)
		if err != nil {
			return nil, err
		}
		out[g] = l
	}
	return out, nil
}

// Global are the limits across every token together (GLOBAL_LIMITS): only
// request rates.
type Global struct {
	RequestsPerMinute *int64 `json:"requestsPerMinute,omitempty"`
	RequestsPerHour   *int64 `json:"requestsPerHour,omitempty"`
	RequestsPerDay    *int64 `json:"requestsPerDay,omitempty"`
}

// AsLimits is g as request limits.
func (g Global) AsLimits() Limits {
	return Limits{RequestsPerMinute: g.RequestsPerMinute, RequestsPerHour: g.RequestsPerHour, RequestsPerDay: g.RequestsPerDay}
}

// ParseGlobal reads GLOBAL_LIMITS.
func ParseGlobal(at string, raw []byte) (Global, error) {
	var g Global
	if len(bytes.TrimSpace(raw)) == 0 {
		return g, nil
	}
	if err := strictJSON(raw, &g); err != nil {
		return Global{}, fmt.Errorf("%s: %w", at, err)
	}
	return g, g.AsLimits().Validate(at)
}

// Policy is a deployment's limits: the defaults, per group, and global.
type Policy struct {
	Default Limits            // DEFAULT_TOKEN_LIMITS
	Groups  map[string]Limits // GROUP_TOKEN_LIMITS
	Global  Global            // GLOBAL_LIMITS
}

// Resolve returns the limits that apply to a token with its own limits
// own (nil if it has none) and groups. Field by field: the token's own
// value if set; else the most generous value among the groups of
// GROUP_TOKEN_LIMITS the token holds that set it; else the default's. A
// field none of them sets is unlimited.
func (p Policy) Resolve(own *Limits, groups []string) Limits {
	var l Limits
	if own != nil {
		l = *own
	}
	var fromGroups Limits
	for _, g := range groups {
		gl, ok := p.Groups[g]
		if !ok {
			continue
		}
		fromGroups.RequestsPerMinute = maxInt(fromGroups.RequestsPerMinute, gl.RequestsPerMinute)
		fromGroups.RequestsPerHour = maxInt(fromGroups.RequestsPerHour, gl.RequestsPerHour)
		fromGroups.RequestsPerDay = maxInt(fromGroups.RequestsPerDay, gl.RequestsPerDay)
		fromGroups.TokensPerDay = maxInt(fromGroups.TokensPerDay, gl.TokensPerDay)
		fromGroups.TokensPerMonth = maxInt(fromGroups.TokensPerMonth, gl.TokensPerMonth)
		fromGroups.BudgetPerMonth = maxFloat(fromGroups.BudgetPerMonth, gl.BudgetPerMonth)
	}
	l.RequestsPerMinute = first(l.RequestsPerMinute, fromGroups.RequestsPerMinute, p.Default.RequestsPerMinute)
	l.RequestsPerHour = first(l.RequestsPerHour, fromGroups.RequestsPerHour, p.Default.RequestsPerHour)
	l.RequestsPerDay = first(l.RequestsPerDay, fromGroups.RequestsPerDay, p.Default.RequestsPerDay)
	l.TokensPerDay = first(l.TokensPerDay, fromGroups.TokensPerDay, p.Default.TokensPerDay)
	l.TokensPerMonth = first(l.TokensPerMonth, fromGroups.TokensPerMonth, p.Default.TokensPerMonth)
	l.BudgetPerMonth = first(l.BudgetPerMonth, fromGroups.BudgetPerMonth, p.Default.BudgetPerMonth)
	return l
}

// Raises reports the first field in which next allows more than cur (a
// higher value, or no limit where cur has one): what a non-admin may not
// do to their own token's effective limits.
func Raises(cur, next Limits) (string, bool) {
	for _, c := range []struct {
		name      string
		cur, next *int64
	}{
		{"requestsPerMinute", cur.RequestsPerMinute, next.RequestsPerMinute},
		{"requestsPerHour", cur.RequestsPerHour, next.RequestsPerHour},
		{"requestsPerDay", cur.RequestsPerDay, next.RequestsPerDay},
		{"tokensPerDay", cur.TokensPerDay, next.TokensPerDay},
		{"tokensPerMonth", cur.TokensPerMonth, next.TokensPerMonth},
	} {
		if c.cur != nil && (c.next == nil || *c.next > *c.cur) {
			return c.name, true
		}
	}
	if cur.BudgetPerMonth != nil && (next.BudgetPerMonth == nil || *next.BudgetPerMonth > *cur.BudgetPerMonth) {
		return "budgetPerMonth", true
	}
	return "", false
}

func maxInt(a, b *int64) *int64 {
	if a == nil || b != nil && *b > *a {
		return b
	}
	return a
}

func maxFloat(a, b *float64) *float64 {
	if a == nil || b != nil && *b > *a {
		return b
	}
	return a
}

func first[T any](vs ...*T) *T {
	for _, v := range vs {
		if v != nil {
			return v
		}
	}
	return nil
}

// Price is what a model costs per million tokens, in the unit of budgets.
type Price struct {
	Input  float64 `json:"input"`  // per 1,000,000 prompt tokens
	Output float64 `json:"output"` // per 1,000,000 completion tokens
}

// Prices are MODEL_PRICES: model id -> price.
type Prices map[string]Price

// ParsePrices reads MODEL_PRICES.
func ParsePrices(at string, raw []byte) (Prices, error) {
	out := Prices{}
	if len(bytes.TrimSpace(raw)) == 0 {
		return out, nil
	}
	if err := strictJSON(raw, &out); err != nil {
		return nil, fmt.Errorf("%s: %w", at, err)
	}
	for m, p := range out {
		if strings.TrimSpace(m) == "" {
			return nil, fmt.Errorf("%s: a model id is empty", at)
		}
		for _, v := range []float64{p.Input, p.Output} {
			if math.IsNaN(v) || v < 0 || v > MaxBudget {
				return nil, fmt.Errorf("%s.%s: prices must be from 0 to %g per million tokens", at, m, MaxBudget)
			}
		}
	}
	return out, nil
}

// NanosPerUnit: costs are kept as whole billionths of the budget's unit,
// so that adding them up in DynamoDB is exact.
const NanosPerUnit = 1e9

// Cost is what prompt and completion tokens of model cost, in billionths
// of the unit; ok is false when MODEL_PRICES does not name the model.
func (p Prices) Cost(model string, prompt, completion int64) (nanos int64, ok bool) {
	pr, ok := p[model]
	if !ok {
		return 0, false
	}
	// Per million tokens, in nanos: price * 1e9 / 1e6 = price * 1000 per token.
	c := pr.Input*float64(prompt)*1000 + pr.Output*float64(completion)*1000
	return int64(math.Round(c)), true
}

// Windows are the counting windows a moment falls in, in UTC.
type Windows struct {
	Day    string // "2006-01-02"
	Month  string // "2006-01"
	Hour   string // "15"
	Minute string // "1504"
	// Ends of the windows: when their counts start again.
	MinuteEnd, HourEnd, DayEnd, MonthEnd time.Time
}

// WindowsAt returns the windows of t.
func WindowsAt(t time.Time) Windows {
	t = t.UTC()
	day := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
	return Windows{
		Day:       t.Format("2006-01-02"),
		Month:     t.Format("2006-01"),
		Hour:      t.Format("15"),
		Minute:    t.Format("1504"),
		MinuteEnd: t.Truncate(time.Minute).Add(time.Minute),
		HourEnd:   t.Truncate(time.Hour).Add(time.Hour),
		DayEnd:    day.AddDate(0, 0, 1),
		MonthEnd:  time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC).AddDate(0, 1, 0),
	}
}

// strictJSON decodes one JSON value, refusing unknown fields and trailing
// data.
func strictJSON(raw []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("not valid: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("not valid: data after the JSON value")
	}
	return nil
}

// Equal reports whether a and b set the same limits (nil and no limit
// are the same).
func Equal(a, b *Limits) bool { return Encode(a) == Encode(b) }

// Encode is l as stored with a token: compact JSON with the fields in a
// fixed order, "" for nil or no limit at all (nothing stored).
func Encode(l *Limits) string {
	if l == nil || l.IsZero() {
		return ""
	}
	b, _ := json.Marshal(l) // numbers and pointers to them: cannot fail
	return string(b)
}

// Decode reads a stored Encode; "" is nil. Stored values are not
// re-validated beyond their shape: they were validated when set.
func Decode(s string) (*Limits, error) {
	if s == "" {
		return nil, nil
	}
	var l Limits
	if err := strictJSON([]byte(s), &l); err != nil {
		return nil, err
	}
	if l.IsZero() {
		return nil, nil
	}
	return &l, nil
}

// Clone returns a deep copy of l (nil for nil): Limits hold pointers, so a
// plain copy of the struct would still share its values.
func (l *Limits) Clone() *Limits {
	if l == nil {
		return nil
	}
	c := Limits{
		RequestsPerMinute: clonePtr(l.RequestsPerMinute), RequestsPerHour: clonePtr(l.RequestsPerHour),
		RequestsPerDay: clonePtr(l.RequestsPerDay), TokensPerDay: clonePtr(l.TokensPerDay),
		TokensPerMonth: clonePtr(l.TokensPerMonth), BudgetPerMonth: clonePtr(l.BudgetPerMonth),
	}
	return &c
}

func clonePtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}
