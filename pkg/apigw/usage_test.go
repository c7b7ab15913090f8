package apigw_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/llmgw/apitokens/pkg/auth"
	"github.com/llmgw/apitokens/pkg/limits"
	"github.com/llmgw/apitokens/pkg/tokensvc"
	"github.com/llmgw/apitokens/pkg/usage"
)

// fakeUsage is an exact in-memory usage.Store for the usage endpoints:
// it answers Days and Rows from seeded rows (or fails with err). The serve
// path's calls are not the token API's and are refused.
type fakeUsage struct {
	mu   sync.Mutex
	rows []usage.Row
	err  error
}

var errFakeOnly = errors.New("fakeUsage: not a token API call")

func (f *fakeUsage) Admit(context.Context, usage.Admit) (usage.Admission, error) {
	return usage.Admission{}, errFakeOnly
}
func (f *fakeUsage) AdmitGlobal(context.Context, time.Time, limits.Global) (usage.Admission, error) {
	return usage.Admission{}, errFakeOnly
}
func (f *fakeUsage) Unadmit(context.Context, string, time.Time) error { return errFakeOnly }
func (f *fakeUsage) Record(context.Context, string, string, time.Time, usage.Usage) error {
	return errFakeOnly
}

func (f *fakeUsage) Days(_ context.Context, tokenUUID, from, to string) ([]usage.Row, error) {
	return f.query(func(r usage.Row) bool { return r.TokenUUID == tokenUUID }, from, to, true)
}

func (f *fakeUsage) Rows(_ context.Context, username, from, to string) ([]usage.Row, error) {
	return f.query(func(r usage.Row) bool { return username == "" || r.Username == username }, from, to, false)
}

func (f *fakeUsage) query(match func(usage.Row) bool, from, to string, sorted bool) ([]usage.Row, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return nil, f.err
	}
	if from > to {
		return nil, usage.ErrBadRange
	}
	var out []usage.Row
	for _, r := range f.rows {
		if match(r) && from <= r.Day && r.Day <= to {
			out = append(out, r)
		}
	}
	if sorted {
		slices.SortFunc(out, func(a, b usage.Row) int { return strings.Compare(a.Day, b.Day) })
	} else {
		// "In no particular order": make sure nobody relies on one.
		slices.Reverse(out)
	}
	return out, nil
}

func (f *fakeUsage) seed(rows ...usage.Row) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rows = append(f.rows, rows...)
}

// totals is a UsageTotals as a test writes it.
type totals struct {
	requests, errors, prompt, completion, total int64
	cost                                        float64
}

func totalsOf(t *testing.T, v any) totals {
	t.Helper()
	m, ok := v.(map[string]any)
	if !ok {
		t.Fatalf("not an object: %v", v)
	}
	n := func(k string) int64 { f, _ := m[k].(float64); return int64(f) }
	c, ok := m["cost"].(float64)
	if !ok {
		t.Fatalf("cost is not a number: %v", m)
	}
	return totals{n("requests"), n("errors"), n("promptTokens"), n("completionTokens"), n("totalTokens"), c}
}

// runUsage is GET /api-tokens/{id}/usage and GET /api-token-usage, with
// the token store of each backend (owners are checked against it) and an
// exact fake usage store.
func runUsage(t *testing.T, b backend) {
	// The service clock: 2027-01-15 08:00 UTC.
	setup := func(t *testing.T) (*env, *fakeUsage, map[string]string) {
		st, _ := b.new(t)
		u := &fakeUsage{}
		e := newEnvWith(t, st, []tokensvc.Option{tokensvc.WithUsage(u)})
		if got := e.now.UTC().Format("2006-01-02"); got != "2027-01-15" {
			t.Fatalf("test clock is %s", got)
		}
		ids := map[string]string{
			"D": uuid.NewString(), // alice's, deleted (made before personal usage keys): only its usage is left
			"E": uuid.NewString(), // erin's, deleted
		}
		// X is a token's id, kX the key its usage is kept under (the
		// user's, for these personal tokens), as the usage report names it.
		for x, c := range map[string]resp{
			"A": e.create(alice, "", `{"name":"alice's"}`),
			"B": e.create(bob, "", `{"name":"bob's"}`),
			"C": e.create(admin, "carol", `{"name":"carol's"}`),
		} {
			ids[x], ids["k"+x] = c.str("tokenUUID"), c.str("usageKey")
			if ids["k"+x] == "" || ids["k"+x] == ids[x] {
				t.Fatalf("personal token %s has no usage key of its user: %s", x, c.raw)
			}
		}
		u.seed(
			usage.Row{TokenUUID: ids["kA"], Username: "alice", Day: "2027-01-15", Requests: 3, Errors: 1, PromptTokens: 100, CompletionTokens: 50, CostNanos: 1_500_000},
			usage.Row{TokenUUID: ids["kA"], Username: "alice", Day: "2027-01-10", Requests: 2, PromptTokens: 10, CompletionTokens: 5, CostNanos: 250_000_000},
			usage.Row{TokenUUID: ids["kA"], Username: "alice", Day: "2026-12-01", Requests: 7, PromptTokens: 70, CompletionTokens: 7, CostNanos: 7},
			usage.Row{TokenUUID: ids["kB"], Username: "bob", Day: "2027-01-12", Requests: 10, PromptTokens: 1000, CompletionTokens: 1000, CostNanos: 2_000_000_000},
			usage.Row{TokenUUID: ids["kC"], Username: "carol", Day: "2027-01-03", Requests: 5, PromptTokens: 2000, CostNanos: 251_500_000},
			usage.Row{TokenUUID: ids["D"], Username: "alice", Day: "2027-01-02", Requests: 1, PromptTokens: 1, CompletionTokens: 1},
			usage.Row{TokenUUID: ids["E"], Username: "erin", Day: "2027-01-04", Requests: 4, PromptTokens: 1500, CompletionTokens: 500, CostNanos: 251_500_000},
		)
		return e, u, ids
	}
	usageOf := func(e *env, who string, id, query string) resp {
		e.t.Helper()
		return e.do(principals[who], "GET", "/api-tokens/"+id+"/usage"+query, "")
	}

	t.Run("a token's usage per day with totals, by default the last 30 days", func(t *testing.T) {
		e, _, ids := setup(t)
		r := usageOf(e, "alice", ids["A"], "")
		e.want(r, 200, "")
		if r.str("tokenUUID") != ids["A"] || r.str("from") != "2026-12-17" || r.str("to") != "2027-01-15" {
			t.Fatalf("range: %s", r.raw)
		}
		days := objects(r.body["days"])
		if len(days) != 2 || days[0]["day"] != "2027-01-10" || days[1]["day"] != "2027-01-15" {
			t.Fatalf("days: %s", r.raw)
		}
		if got, want := totalsOf(t, days[1]), (totals{3, 1, 100, 50, 150, 0.0015}); got != want {
			t.Errorf("2027-01-15: %+v, want %+v", got, want)
		}
		if got, want := totalsOf(t, days[0]), (totals{2, 0, 10, 5, 15, 0.25}); got != want {
			t.Errorf("2027-01-10: %+v, want %+v", got, want)
		}
		if got, want := totalsOf(t, r.body["totals"]), (totals{5, 1, 110, 55, 165, 0.2515}); got != want {
			t.Errorf("totals: %+v, want %+v", got, want)
		}
		// An explicit range; and with only to, the 30 days up to it.
		r = usageOf(e, "alice", ids["A"], "?from=2026-12-01&to=2026-12-31")
		e.want(r, 200, "")
		if days := objects(r.body["days"]); len(days) != 1 || days[0]["day"] != "2026-12-01" || totalsOf(t, r.body["totals"]) != (totals{7, 0, 70, 7, 77, 0.000000007}) {
			t.Errorf("December: %s", r.raw)
		}
		r = usageOf(e, "alice", ids["A"], "?to=2026-12-31")
		e.want(r, 200, "")
		if r.str("from") != "2026-12-02" || r.str("to") != "2026-12-31" || len(objects(r.body["days"])) != 0 || totalsOf(t, r.body["totals"]) != (totals{}) {
			t.Errorf("to only: %s", r.raw)
		}
		// Upper-case UUIDs name the same token.
		e.want(usageOf(e, "alice", strings.ToUpper(ids["A"]), ""), 200, "")
	})

	t.Run("owner or admin; another's token is a 404", func(t *testing.T) {
		e, _, ids := setup(t)
		e.want(usageOf(e, "admin", ids["A"], ""), 200, "")
		e.want(usageOf(e, "bob", ids["A"], ""), 404, "not found")
		// Outside the API group, one's own usage is still one's own.
		e.want(usageOf(e, "carol", ids["C"], ""), 200, "")
		e.want(usageOf(e, "carol", ids["B"], ""), 404, "")
		// A deleted token: its owner (by its usage rows) and admins.
		r := usageOf(e, "alice", ids["D"], "")
		e.want(r, 200, "")
		if totalsOf(t, r.body["totals"]) != (totals{1, 0, 1, 1, 2, 0}) {
			t.Errorf("deleted token's usage: %s", r.raw)
		}
		e.want(usageOf(e, "bob", ids["D"], ""), 404, "")
		e.want(usageOf(e, "admin", ids["D"], ""), 200, "")
		// A token that never existed: 404, for admins an empty answer.
		none := uuid.NewString()
		e.want(usageOf(e, "alice", none, ""), 404, "")
		r = usageOf(e, "admin", none, "")
		e.want(r, 200, "")
		if len(objects(r.body["days"])) != 0 || totalsOf(t, r.body["totals"]) != (totals{}) {
			t.Errorf("unknown token for an admin: %s", r.raw)
		}
	})

	t.Run("ranges are checked", func(t *testing.T) {
		e, _, ids := setup(t)
		for _, q := range []struct {
			query, msg string
		}{
			{"?from=2027-01-16&to=2027-01-15", "after"},
			{"?from=2025-01-01&to=2027-01-15", "at most 366"},
			{"?from=2026-01-14&to=2027-01-15", "367 days"},
			{"?from=2027-1-5", "YYYY-MM-DD"},
			{"?to=2027-02-30", "YYYY-MM-DD"},
			{"?from=yesterday", "YYYY-MM-DD"},
			{"?to=1768435200", "YYYY-MM-DD"},
		} {
			e.want(usageOf(e, "alice", ids["A"], q.query), 400, q.msg)
			e.want(e.do(admin, "GET", "/api-token-usage"+q.query, ""), 400, q.msg)
		}
		// 366 days, both ends included, is the most.
		r := usageOf(e, "alice", ids["A"], "?from=2026-01-15&to=2027-01-15")
		e.want(r, 200, "")
		if len(objects(r.body["days"])) != 3 {
			t.Errorf("a year of usage: %s", r.raw)
		}
		e.want(usageOf(e, "alice", "legacy-0123456789abcdef", ""), 400, "token UUID")
		e.want(usageOf(e, "alice", "not-a-uuid", ""), 400, "token UUID")
	})

	t.Run("the report: per user and per token, top consumers first, by default this month", func(t *testing.T) {
		e, _, ids := setup(t)
		r := e.do(admin, "GET", "/api-token-usage", "")
		e.want(r, 200, "")
		if r.str("from") != "2027-01-01" || r.str("to") != "2027-01-15" {
			t.Fatalf("range: %s", r.raw)
		}
		users := objects(r.body["users"])
		var names []string
		for _, u := range users {
			names = append(names, u["username"].(string))
		}
		// bob costs most; carol and erin cost the same as alice, with more
		// tokens; carol and erin tie, by name.
		if got := strings.Join(names, ","); got != "bob,carol,erin,alice" {
			t.Fatalf("users by cost, tokens, name: %s (%s)", got, r.raw)
		}
		if got, want := totalsOf(t, users[3]), (totals{6, 1, 111, 56, 167, 0.2515}); got != want {
			t.Errorf("alice: %+v, want %+v", got, want)
		}
		if got, want := totalsOf(t, users[0]), (totals{10, 0, 1000, 1000, 2000, 2}); got != want {
			t.Errorf("bob: %+v, want %+v", got, want)
		}
		tied := []string{ids["kC"], ids["E"]}
		slices.Sort(tied)
		want := []string{ids["kB"], tied[0], tied[1], ids["kA"], ids["D"]}
		var got []string
		for _, tk := range objects(r.body["tokens"]) {
			got = append(got, tk["tokenUUID"].(string))
			if owner := map[string]string{ids["kA"]: "alice", ids["kB"]: "bob", ids["kC"]: "carol", ids["D"]: "alice", ids["E"]: "erin"}[tk["tokenUUID"].(string)]; tk["username"] != owner {
				t.Errorf("token %v: username %v, want %s", tk["tokenUUID"], tk["username"], owner)
			}
		}
		if !slices.Equal(got, want) {
			t.Errorf("tokens %v, want %v", got, want)
		}
		if tk := objects(r.body["tokens"])[3]; totalsOf(t, tk) != (totals{5, 1, 110, 55, 165, 0.2515}) {
			t.Errorf("alice's token this month: %v", tk)
		}

		// One user's tokens; another range.
		r = e.do(admin, "GET", "/api-token-usage?username=alice&from=2026-12-01&to=2027-01-15", "")
		e.want(r, 200, "")
		if us := objects(r.body["users"]); len(us) != 1 || us[0]["username"] != "alice" || totalsOf(t, us[0]) != (totals{13, 1, 181, 63, 244, 0.251500007}) {
			t.Errorf("alice since December: %s", r.raw)
		}
		if tks := objects(r.body["tokens"]); len(tks) != 2 || tks[0]["tokenUUID"] != ids["kA"] || tks[1]["tokenUUID"] != ids["D"] {
			t.Errorf("alice's tokens: %s", r.raw)
		}
		// The month of to, when only to is given; nothing used: empty lists.
		r = e.do(admin, "GET", "/api-token-usage?to=2027-02-10", "")
		e.want(r, 200, "")
		if r.str("from") != "2027-02-01" || r.raw != `{"from":"2027-02-01","to":"2027-02-10","users":[],"tokens":[]}` {
			t.Errorf("February: %s", r.raw)
		}
	})

	t.Run("the report is for admins", func(t *testing.T) {
		e, _, _ := setup(t)
		e.want(e.do(alice, "GET", "/api-token-usage", ""), 403, "admins")
		e.want(e.do(alice, "GET", "/api-token-usage?username=alice", ""), 403, "admins")
		e.want(e.do(admin, "GET", "/api-token-usage?username=a%20b", ""), 400, "username")
	})

	t.Run("the usage store down is a 503 that names nothing inside", func(t *testing.T) {
		e, u, ids := setup(t)
		u.err = fmt.Errorf("operation error DynamoDB: Query, table %s", "secret-table")
		for _, r := range []resp{usageOf(e, "alice", ids["A"], ""), e.do(admin, "GET", "/api-token-usage", "")} {
			e.want(r, 503, "usage store unavailable")
			if strings.Contains(r.raw, "secret-table") {
				t.Errorf("the answer names the table: %s", r.raw)
			}
		}
	})

	t.Run("without a usage store: 503", func(t *testing.T) {
		st, _ := b.new(t)
		e := newEnv(t, st)
		id := e.create(alice, "", `{"name":"x"}`).str("tokenUUID")
		e.want(e.do(alice, "GET", "/api-tokens/"+id+"/usage", ""), 503, "not recorded")
		e.want(e.do(admin, "GET", "/api-token-usage", ""), 503, "not recorded")
	})
}

var principals = map[string]auth.Principal{"alice": alice, "bob": bob, "carol": carol, "admin": admin}
