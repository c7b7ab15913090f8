package tokensvc

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/llmgw/apitokens/pkg/apierr"
	"github.com/llmgw/apitokens/pkg/auth"
	"github.com/llmgw/apitokens/pkg/limits"
	"github.com/llmgw/apitokens/pkg/store"
	"github.com/llmgw/apitokens/pkg/usage"
)

// Usage ranges: GET /api-tokens/{id}/usage covers the last
// DefaultUsageDays days (today included) unless told otherwise, and no
// query covers more than usage.MaxRangeDays days.
const (
	DefaultUsageDays = 30
	dayLayout        = "2006-01-02"
)

// UsageRequest selects the days of a usage query; From and To are days
// "2006-01-02" (UTC, inclusive), "" for the default. Username applies to
// the admins' GET /api-token-usage only.
type UsageRequest struct {
	Username string
	From     string
	To       string
}

// UsageTotals is what was used over some days. TotalTokens is prompt plus
// completion tokens; Cost is in the unit of MODEL_PRICES (0 for models
// without a price).
type UsageTotals struct {
	Requests         int64   `json:"requests"`
	Errors           int64   `json:"errors"`
	PromptTokens     int64   `json:"promptTokens"`
	CompletionTokens int64   `json:"completionTokens"`
	TotalTokens      int64   `json:"totalTokens"`
	Cost             float64 `json:"cost"`
}

// DayUsage is one day's usage of a token.
type DayUsage struct {
	Day string `json:"day"`
	UsageTotals
}

// TokenUsage is the answer of GET /api-tokens/{id}/usage: the days the
// token was used, oldest first (days without use are left out), and their
// totals.
type TokenUsage struct {
	TokenUUID string      `json:"tokenUUID"`
	From      string      `json:"from"`
	To        string      `json:"to"`
	Days      []DayUsage  `json:"days"`
	Totals    UsageTotals `json:"totals"`
}

// UserUsage is one user's usage over a range, all their tokens together.
type UserUsage struct {
	Username string `json:"username"`
	UsageTotals
}

// TokenUsageTotals is one token's usage over a range.
type TokenUsageTotals struct {
	TokenUUID string `json:"tokenUUID"`
	Username  string `json:"username"`
	UsageTotals
}

// UsageReport is the answer of GET /api-token-usage: per user and per
// token, top consumers first (by cost, then by total tokens).
type UsageReport struct {
	From   string             `json:"from"`
	To     string             `json:"to"`
	Users  []UserUsage        `json:"users"`
	Tokens []TokenUsageTotals `json:"tokens"`
}

// TokenUsage is one token's usage per day: for its owner (also after the
// token was deleted while its usage is kept, and also outside the API
// group, as for its history) and for admins. Another user's token and one
// that does not exist are the same 404.
func (s *Service) TokenUsage(ctx context.Context, caller auth.Principal, id string, req UsageRequest) (TokenUsage, error) {
	if !isUUID(id) {
		return TokenUsage{}, apierr.New(apierr.Invalid, "not a token id: expected a token UUID (legacy tokens are never accepted as a credential, so they have no usage)").WithCode("invalid_token_id")
	}
	id = strings.ToLower(id)
	from, to, err := s.usageRange(req, func(today time.Time) time.Time { return today.AddDate(0, 0, -(DefaultUsageDays - 1)) })
	if err != nil {
		return TokenUsage{}, err
	}
	if s.usage == nil {
		return TokenUsage{}, errNoUsage
	}
	found := false
	key := id // a deleted token's usage is kept under its own id or its chain's
	t, err := s.store.GetByUUID(ctx, id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		// Deleted (or never existed): its rows name their owner.
	case err != nil:
		return TokenUsage{}, storeFailure(err, "find token")
	case !caller.IsAdmin && t.Username != caller.Username:
		return TokenUsage{}, errNotFound
	default:
		found = true
		// A rotated token's usage is that of its whole chain of rotations.
		key = store.UsageKeyOf(t)
	}
	rows, err := s.usage.Days(ctx, key, from, to)
	if err != nil {
		return TokenUsage{}, usageFailure(err, "read the token's usage")
	}
	if !caller.IsAdmin && !found {
		if len(rows) == 0 {
			return TokenUsage{}, errNotFound
		}
		for _, r := range rows {
			if r.Username != caller.Username {
				return TokenUsage{}, errNotFound
			}
		}
	}
	// Summed in nanos, converted once: exact whatever the number of rows.
	nanos := map[string]int64{}
	byDay := map[string]*DayUsage{}
	var total int64
	for _, r := range rows {
		d := byDay[r.Day]
		if d == nil {
			d = &DayUsage{Day: r.Day}
			byDay[r.Day] = d
		}
		d.add(r)
		nanos[r.Day] += r.CostNanos
		total += r.CostNanos
	}
	out := TokenUsage{TokenUUID: id, From: from, To: to, Days: make([]DayUsage, 0, len(byDay))}
	for day, d := range byDay {
		d.Cost = cost(nanos[day])
		out.Days = append(out.Days, *d)
		out.Totals.addTotals(d.UsageTotals)
	}
	slices.SortFunc(out.Days, func(a, b DayUsage) int { return strings.Compare(a.Day, b.Day) })
	out.Totals.Cost = cost(total)
	return out, nil
}

// UsageReport is the usage of every token (admins), or of one user's
// tokens, per user and per token; by default this month so far.
func (s *Service) UsageReport(ctx context.Context, caller auth.Principal, req UsageRequest) (UsageReport, error) {
	if !caller.IsAdmin {
		return UsageReport{}, apierr.New(apierr.Forbidden, "only admins can read the usage of every token: GET /api-tokens/{tokenUUID}/usage reads one of your own").WithCode("not_admin")
	}
	if req.Username != "" {
		if _, err := validateUsername(req.Username); err != nil {
			return UsageReport{}, apierr.New(apierr.Invalid, "username: %s", apierr.Message(err))
		}
	}
	from, to, err := s.usageRange(req, func(today time.Time) time.Time { return today.AddDate(0, 0, 1-today.Day()) })
	if err != nil {
		return UsageReport{}, err
	}
	if s.usage == nil {
		return UsageReport{}, errNoUsage
	}
	rows, err := s.usage.Rows(ctx, req.Username, from, to)
	if err != nil {
		return UsageReport{}, usageFailure(err, "read usage")
	}
	type acc struct {
		username string
		totals   UsageTotals
		nanos    int64
	}
	users, tokens := map[string]*acc{}, map[string]*acc{}
	for _, r := range rows {
		for _, a := range []struct {
			m   map[string]*acc
			key string
		}{{users, r.Username}, {tokens, r.TokenUUID}} {
			x := a.m[a.key]
			if x == nil {
				x = &acc{username: r.Username}
				a.m[a.key] = x
			}
			x.totals.add(r)
			x.nanos += r.CostNanos
		}
	}
	// Top consumers first: by cost (compared exactly, in nanos), then by
	// tokens, then by name so that the order is stable.
	order := func(m map[string]*acc) []string {
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		slices.SortFunc(keys, func(a, b string) int {
			x, y := m[a], m[b]
			return cmp.Or(cmp.Compare(y.nanos, x.nanos), cmp.Compare(y.totals.TotalTokens, x.totals.TotalTokens), strings.Compare(a, b))
		})
		return keys
	}
	out := UsageReport{From: from, To: to, Users: []UserUsage{}, Tokens: []TokenUsageTotals{}}
	for _, k := range order(users) {
		x := users[k]
		x.totals.Cost = cost(x.nanos)
		out.Users = append(out.Users, UserUsage{Username: k, UsageTotals: x.totals})
	}
	for _, k := range order(tokens) {
		x := tokens[k]
		x.totals.Cost = cost(x.nanos)
		out.Tokens = append(out.Tokens, TokenUsageTotals{TokenUUID: k, Username: x.username, UsageTotals: x.totals})
	}
	return out, nil
}

func (t *UsageTotals) add(r usage.Row) {
	t.Requests += r.Requests
	t.Errors += r.Errors
	t.PromptTokens += r.PromptTokens
	t.CompletionTokens += r.CompletionTokens
	t.TotalTokens += r.PromptTokens + r.CompletionTokens
}

func (t *UsageTotals) addTotals(o UsageTotals) {
	t.Requests += o.Requests
	t.Errors += o.Errors
	t.PromptTokens += o.PromptTokens
	t.CompletionTokens += o.CompletionTokens
	t.TotalTokens += o.TotalTokens
}

// cost is nanos in the unit of MODEL_PRICES.
func cost(nanos int64) float64 { return float64(nanos) / limits.NanosPerUnit }

// usageRange resolves req's days: to defaults to today by the service's
// clock (UTC), from to defaultFrom(to).
func (s *Service) usageRange(req UsageRequest, defaultFrom func(to time.Time) time.Time) (string, string, error) {
	to := s.now().UTC().Truncate(24 * time.Hour)
	if req.To != "" {
		d, err := parseDay("to", req.To)
		if err != nil {
			return "", "", err
		}
		to = d
	}
	from := defaultFrom(to)
	if req.From != "" {
		d, err := parseDay("from", req.From)
		if err != nil {
			return "", "", err
		}
		from = d
	}
	if from.After(to) {
		return "", "", apierr.New(apierr.Invalid, "from (%s) is after to (%s)", from.Format(dayLayout), to.Format(dayLayout)).WithCode("invalid_range")
	}
	if days := int(to.Sub(from)/(24*time.Hour)) + 1; days > usage.MaxRangeDays {
		return "", "", apierr.New(apierr.Invalid, "from %s to %s is %d days: at most %d can be read at once", from.Format(dayLayout), to.Format(dayLayout), days, usage.MaxRangeDays).WithCode("invalid_range")
	}
	return from.Format(dayLayout), to.Format(dayLayout), nil
}

func parseDay(field, v string) (time.Time, error) {
	d, err := time.Parse(dayLayout, v)
	if err != nil || d.Format(dayLayout) != v {
		return time.Time{}, apierr.New(apierr.Invalid, "%s must be a day YYYY-MM-DD (UTC), such as 2026-01-31", field).WithCode("invalid_range")
	}
	return d, nil
}

var errNoUsage = apierr.New(apierr.Unavailable, "usage is not recorded on this deployment (no usage table is configured)").WithCode("usage_unavailable")

// usageFailure hides usage store errors from callers, as storeFailure
// does for the token store.
func usageFailure(err error, op string) error {
	if errors.Is(err, usage.ErrBadRange) {
		// Not reachable: the range was checked above.
		return apierr.Wrap(apierr.Invalid, err, "invalid day range")
	}
	return apierr.Wrap(apierr.Unavailable, fmt.Errorf("%s: %w", op, err), "usage store unavailable, try again")
}
