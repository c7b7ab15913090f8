package apigw_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/llmgw/apitokens/pkg/limits"
	"github.com/llmgw/apitokens/pkg/store"
	"github.com/llmgw/apitokens/pkg/tokensvc"
)

// testPolicy: ten requests a minute and 1000 tokens a day by default; the
// API group gets 30 a minute, "power" 100 a minute and a budget.
func testPolicy(c *tokensvc.Config) {
	var err error
	if c.Limits.Default, err = limits.Parse("DEFAULT_TOKEN_LIMITS", []byte(`{"requestsPerMinute":10,"tokensPerDay":1000}`)); err != nil {
		panic(err)
	}
	if c.Limits.Groups, err = limits.ParseGroups("GROUP_TOKEN_LIMITS", []byte(`{"lisa-api-users":{"requestsPerMinute":30},"power":{"requestsPerMinute":100,"budgetPerMonth":50}}`)); err != nil {
		panic(err)
	}
}

// jsonOf is v as the API writes it, for comparing limits objects.
func jsonOf(v any) string {
	if v == nil {
		return ""
	}
	m, _ := v.(map[string]any)
	var parts []string
	for _, k := range []string{"requestsPerMinute", "requestsPerHour", "requestsPerDay", "tokensPerDay", "tokensPerMonth", "budgetPerMonth"} {
		if x, ok := m[k]; ok {
			parts = append(parts, fmt.Sprintf("%q:%v", k, x))
		}
	}
	return "{" + strings.Join(parts, ",") + "}"
}

// runLimits is a token's own limits through create and PATCH, and the
// effective limits views show, against each backend.
func runLimits(t *testing.T, b backend) {
	newEnvFor := func(t *testing.T, mutate ...func(*tokensvc.Config)) *env {
		st, _ := b.new(t)
		return newEnv(t, st, mutate...)
	}
	// keepsLimits skips t on a store whose Update drops a token's limits
	// (memstore, until it copies them as dynamostore writes them): what
	// these tests check is the service's part, not a store's.
	keepsLimits := func(t *testing.T) {
		st, _ := b.new(t)
		ctx := context.Background()
		tk := store.Token{Hash: strings.Repeat("a", 64), UUID: uuid.NewString(), Username: "probe", Groups: []string{}, Expiration: 1900000000, Name: "p"}
		if err := st.Create(ctx, tk); err != nil {
			t.Fatal(err)
		}
		n := int64(1)
		up := tk
		up.Limits = &limits.Limits{RequestsPerMinute: &n}
		if err := st.Update(ctx, tk, up); err != nil {
			t.Fatal(err)
		}
		if got, _ := st.GetByUUID(ctx, tk.UUID); got.Limits == nil {
			t.Skipf("the %s store's Update does not keep Limits", b.name)
		}
	}
	stored := func(e *env, id string) string {
		e.t.Helper()
		tk, err := e.st.GetByUUID(context.Background(), id)
		if err != nil {
			e.t.Fatal(err)
		}
		return limits.Encode(tk.Limits)
	}
	wantLimits := func(t *testing.T, r resp, own, effective string) {
		t.Helper()
		if got := jsonOf(r.body["limits"]); got != own {
			t.Errorf("limits %s, want %s (body %s)", got, own, r.raw)
		}
		if got := jsonOf(r.body["effectiveLimits"]); got != effective {
			t.Errorf("effectiveLimits %s, want %s (body %s)", got, effective, r.raw)
		}
	}

	t.Run("views show own and effective limits; the most generous group wins", func(t *testing.T) {
		e := newEnvFor(t, testPolicy)
		c := e.create(admin, "dave", `{"name":"power user","isSystemToken":true,"groups":["lisa-api-users","power"]}`)
		wantLimits(t, c, "", `{"requestsPerMinute":100,"tokensPerDay":1000,"budgetPerMonth":50}`)
		id := c.str("tokenUUID")
		wantLimits(t, e.do(admin, "GET", "/api-tokens/"+id, ""), "", `{"requestsPerMinute":100,"tokensPerDay":1000,"budgetPerMonth":50}`)

		c = e.create(admin, "bob", `{"name":"bob's","groups":["lisa-api-users"],"limits":{"requestsPerMinute":5,"budgetPerMonth":2.5}}`)
		wantLimits(t, c, `{"requestsPerMinute":5,"budgetPerMonth":2.5}`, `{"requestsPerMinute":5,"tokensPerDay":1000,"budgetPerMonth":2.5}`)
		l := listAll(t, e, admin, "?username=bob")
		if len(l) != 1 || jsonOf(l[0]["limits"]) != `{"requestsPerMinute":5,"budgetPerMonth":2.5}` || jsonOf(l[0]["effectiveLimits"]) != `{"requestsPerMinute":5,"tokensPerDay":1000,"budgetPerMonth":2.5}` {
			t.Errorf("listed: %v", l)
		}
		// No group of the policy: the default.
		c = e.create(admin, "erin", `{"name":"plain"}`)
		wantLimits(t, c, "", `{"requestsPerMinute":10,"tokensPerDay":1000}`)

		// Without any policy, a token without limits has no own limits and
		// empty effective ones: "no limit", told apart from a server that
		// knows nothing of limits.
		e2 := newEnvFor(t)
		r := e2.create(alice, "", `{"name":"free"}`)
		if _, ok := r.body["limits"]; ok {
			t.Errorf("limits shown for a token without: %s", r.raw)
		}
		if got := jsonOf(r.body["effectiveLimits"]); got != "{}" {
			t.Errorf("effectiveLimits without any = %s: %s", got, r.raw)
		}
		g := e2.do(alice, "GET", "/api-tokens/"+r.str("tokenUUID"), "")
		if strings.Contains(g.raw, `"limits"`) || !strings.Contains(g.raw, `"effectiveLimits":{}`) {
			t.Errorf("view: %s", g.raw)
		}
	})

	t.Run("admins set any limits at create; the create event records them", func(t *testing.T) {
		e := newEnvFor(t, testPolicy)
		c := e.create(admin, "bob", `{"name":"big","limits":{"requestsPerMinute":1000,"tokensPerMonth":5000000,"budgetPerMonth":12.5}}`)
		id := c.str("tokenUUID")
		want := `{"requestsPerMinute":1000,"tokensPerMonth":5000000,"budgetPerMonth":12.5}`
		if got := stored(e, id); got != want {
			t.Errorf("stored %s, want %s", got, want)
		}
		ev := tokenEvents(t, e, admin, id)[0]
		if ev["action"] != "create" || !strings.Contains(fmt.Sprint(ev["changes"]), "field:limits new:"+want+" old:]") {
			t.Errorf("create event: %v", ev)
		}
		// An admin's own token, too.
		e.create(admin, "", `{"name":"mine","limits":{"requestsPerDay":100000}}`)
		// {} and null are no limits.
		for _, body := range []string{`{"name":"n","limits":null}`, `{"name":"n","limits":{}}`} {
			r := e.create(admin, "carol", body)
			if _, ok := r.body["limits"]; ok || stored(e, r.str("tokenUUID")) != "" {
				t.Errorf("%s: %s", body, r.raw)
			}
			e.want(e.do(admin, "DELETE", "/api-tokens/"+r.str("tokenUUID"), ""), 200, "")
		}
	})

	t.Run("self-service limits only within what the caller's groups get", func(t *testing.T) {
		e := newEnvFor(t, testPolicy)
		before := e.snapshot()
		for _, tc := range []struct{ body, field string }{
			{`{"name":"x","limits":{"requestsPerMinute":31}}`, "limits.requestsPerMinute"},
			{`{"name":"x","limits":{"tokensPerDay":1001}}`, "limits.tokensPerDay"},
			{`{"name":"x","limits":{"requestsPerMinute":30,"tokensPerDay":2000}}`, "limits.tokensPerDay"},
		} {
			r := e.do(bob, "POST", "/api-tokens/", tc.body)
			e.want(r, 400, tc.field)
			e.want(r, 400, "only an admin")
		}
		assertUnchanged(t, e, before)
		// Lowering, and limits the defaults do not set, are fine.
		c := e.create(alice, "", `{"name":"mine","limits":{"requestsPerMinute":20,"tokensPerDay":500,"budgetPerMonth":5}}`)
		wantLimits(t, c, `{"requestsPerMinute":20,"tokensPerDay":500,"budgetPerMonth":5}`, `{"requestsPerMinute":20,"tokensPerDay":500,"budgetPerMonth":5}`)
		e.create(bob, "", `{"name":"mine","limits":{"requestsPerMinute":30}}`)
	})

	t.Run("an admin's API token cannot create a token above the policy", func(t *testing.T) {
		e := newEnvFor(t, testPolicy)
		tok := e.create(admin, "ops", `{"name":"ops","isSystemToken":true,"groups":["lisa-admins","lisa-api-users"]}`).str("token")
		before := e.snapshot()
		e.want(e.withToken(tok, "POST", "/api-tokens/bob", `{"name":"x","groups":["lisa-api-users"],"limits":{"requestsPerMinute":31}}`), 400, "limits.requestsPerMinute")
		assertUnchanged(t, e, before)
		r := e.withToken(tok, "POST", "/api-tokens/bob", `{"name":"x","groups":["lisa-api-users"],"limits":{"requestsPerMinute":3}}`)
		e.want(r, 201, "")
		wantLimits(t, r, `{"requestsPerMinute":3}`, `{"requestsPerMinute":3,"tokensPerDay":1000}`)
	})

	t.Run("PATCH sets, replaces and clears limits; each change is recorded", func(t *testing.T) {
		keepsLimits(t)
		e := newEnvFor(t, testPolicy)
		id := e.create(admin, "bob", `{"name":"bob's","groups":["lisa-api-users"]}`).str("tokenUUID")
		r := e.do(admin, "PATCH", "/api-tokens/"+id, `{"limits":{"requestsPerMinute":500}}`)
		e.want(r, 200, "")
		wantLimits(t, r, `{"requestsPerMinute":500}`, `{"requestsPerMinute":500,"tokensPerDay":1000}`)
		// Replaced, not merged: requestsPerMinute is the group's again.
		r = e.do(admin, "PATCH", "/api-tokens/"+id, `{"limits":{"tokensPerDay":100}}`)
		e.want(r, 200, "")
		wantLimits(t, r, `{"tokensPerDay":100}`, `{"requestsPerMinute":30,"tokensPerDay":100}`)
		if got := stored(e, id); got != `{"tokensPerDay":100}` {
			t.Errorf("stored %s", got)
		}
		// The same limits again change nothing and record nothing.
		e.want(e.do(admin, "PATCH", "/api-tokens/"+id, `{"limits":{"tokensPerDay":100}}`), 200, "")
		r = e.do(admin, "PATCH", "/api-tokens/"+id, `{"limits":null}`)
		e.want(r, 200, "")
		wantLimits(t, r, "", `{"requestsPerMinute":30,"tokensPerDay":1000}`)
		if got := stored(e, id); got != "" {
			t.Errorf("stored after clearing: %s", got)
		}
		// Clearing what is clear changes nothing.
		e.want(e.do(admin, "PATCH", "/api-tokens/"+id, `{"limits":{}}`), 200, "")
		evs := tokenEvents(t, e, admin, id)
		if len(evs) != 4 {
			t.Fatalf("%d events, want create and three updates: %v", len(evs), evs)
		}
		for i, want := range []string{
			"field:limits new: old:{\"tokensPerDay\":100}",
			"field:limits new:{\"tokensPerDay\":100} old:{\"requestsPerMinute\":500}",
			"field:limits new:{\"requestsPerMinute\":500} old:",
		} {
			if evs[i]["action"] != "update" || fmt.Sprint(evs[i]["changes"]) != "[map["+want+"]]" {
				t.Errorf("event %d: %v, want update with %s", i, evs[i], want)
			}
		}
		// A rotation keeps the limits.
		e.want(e.do(admin, "PATCH", "/api-tokens/"+id, `{"limits":{"requestsPerHour":60}}`), 200, "")
		rot := e.do(admin, "POST", "/api-tokens/"+id+"/rotate", ``)
		e.want(rot, 201, "")
		wantLimits(t, rot, `{"requestsPerHour":60}`, `{"requestsPerMinute":30,"requestsPerHour":60,"tokensPerDay":1000}`)
		if got := stored(e, rot.str("tokenUUID")); got != `{"requestsPerHour":60}` {
			t.Errorf("the rotated token's limits: %s", got)
		}
	})

	t.Run("only an admin signed in raises limits", func(t *testing.T) {
		keepsLimits(t)
		e := newEnvFor(t, testPolicy)
		id := e.create(alice, "", `{"name":"mine","limits":{"requestsPerMinute":20}}`).str("tokenUUID")
		// The owner lowers...
		e.want(e.do(alice, "PATCH", "/api-tokens/"+id, `{"limits":{"requestsPerMinute":10}}`), 200, "")
		before := e.snapshot()
		// ...but cannot raise, even below the group's 30, nor clear (which
		// would give the group's 30), nor drop a limit the default sets.
		for _, body := range []string{
			`{"limits":{"requestsPerMinute":25}}`,
			`{"limits":null}`,
			`{"limits":{"requestsPerMinute":10,"tokensPerDay":5000}}`,
			`{"name":"renamed","limits":{"requestsPerMinute":11}}`,
		} {
			e.want(e.do(alice, "PATCH", "/api-tokens/"+id, body), 400, "limits.")
		}
		assertUnchanged(t, e, before)
		if got := stored(e, id); got != `{"requestsPerMinute":10}` {
			t.Errorf("stored after refused raises: %s", got)
		}
		// Outside the API group, not at all, also with a disable.
		left := principal("alice", "lisa-users")
		e.want(e.do(left, "PATCH", "/api-tokens/"+id, `{"disabled":true,"limits":{"requestsPerMinute":1}}`), 403, "API group")

		// An admin's API token may lower another's limits, not raise them.
		tok := e.create(admin, "ops", `{"name":"ops","isSystemToken":true,"groups":["lisa-admins"]}`).str("token")
		r := e.withToken(tok, "PATCH", "/api-tokens/"+id, `{"limits":{"requestsPerMinute":40}}`)
		e.want(r, 400, "limits.requestsPerMinute")
		if !strings.Contains(r.str("message"), "signed in") {
			t.Errorf("message: %s", r.raw)
		}
		e.want(e.withToken(tok, "PATCH", "/api-tokens/"+id, `{"limits":{"requestsPerMinute":5}}`), 200, "")
		// An admin signed in may.
		r = e.do(admin, "PATCH", "/api-tokens/"+id, `{"limits":null}`)
		e.want(r, 200, "")
		wantLimits(t, r, "", `{"requestsPerMinute":30,"tokensPerDay":1000}`)
		ev := tokenEvents(t, e, alice, id)
		if ev[0]["actor"] != "admin" || ev[1]["authType"] == "jwt" || len(ev) != 4 {
			t.Errorf("events: %v", ev)
		}
	})

	t.Run("bad limits are refused and store nothing", func(t *testing.T) {
		e := newEnvFor(t, testPolicy)
		id := e.create(admin, "bob", `{"name":"bob's"}`).str("tokenUUID")
		before := e.snapshot()
		for _, tc := range []struct {
			limits string
			status int
			msg    string
		}{
			{`{"requestsPerMinute":0}`, 400, "limits.requestsPerMinute"},
			{`{"tokensPerDay":-5}`, 400, "limits.tokensPerDay"},
			{`{"requestsPerDay":1000000000001}`, 400, "limits.requestsPerDay"},
			{`{"budgetPerMonth":0}`, 400, "limits.budgetPerMonth"},
			{`{"budgetPerMonth":1e10}`, 400, "limits.budgetPerMonth"},
			{`{"requestsPerMinute":1.5}`, 422, "requestsPerMinute"},
			{`{"requestsPerMinute":"5"}`, 422, "requestsPerMinute"},
			{`{"rpm":5}`, 422, "unknown field \"rpm\""},
			{`{"requestsPerMinute":5,"global":true}`, 422, "unknown field"},
			{`"none"`, 422, "limits"},
			{`[1]`, 422, "limits"},
			{`5`, 422, "limits"},
		} {
			for _, req := range []struct {
				method, path, body string
			}{
				{"POST", "/api-tokens/carol", `{"name":"x","limits":` + tc.limits + `}`},
				{"PATCH", "/api-tokens/" + id, `{"limits":` + tc.limits + `}`},
			} {
				r := e.do(admin, req.method, req.path, req.body)
				if r.status != tc.status || !strings.Contains(r.str("message"), tc.msg) {
					t.Errorf("%s %s: %d %s; want %d mentioning %q", req.method, req.body, r.status, r.raw, tc.status, tc.msg)
				}
			}
		}
		assertUnchanged(t, e, before)
		if n := len(tokenEvents(t, e, admin, id)); n != 1 {
			t.Errorf("%d events after refused changes, want 1", n)
		}
		if got := stored(e, id); got != "" {
			t.Errorf("stored %s", got)
		}
	})
}
