package apigw_test

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/llmgw/apitokens/pkg/auth"
	"github.com/llmgw/apitokens/pkg/secret"
	"github.com/llmgw/apitokens/pkg/store"
	"github.com/llmgw/apitokens/pkg/store/storetest"
	"github.com/llmgw/apitokens/pkg/tokensvc"
)

// backend is a store under test; ops, if set, counts the backend's own
// calls by operation name (e.g. "Query", "Scan").
type backend struct {
	name string
	new  func(t *testing.T) (store.Store, func() map[string]int)
}

// runBehaviour is the token API's behaviour (the token lifecycle),
// run against each backend.
func runBehaviour(t *testing.T, b backend) {
	newStore := func(t *testing.T) (store.Store, func() map[string]int) { return b.new(t) }

	t.Run("admin creates a token for a user", func(t *testing.T) {
		st, _ := newStore(t)
		e := newEnv(t, st)
		r := e.create(admin, "johndoe", `{"name":"CI/CD Pipeline Token","groups":["developers","api-users"],"isSystemToken":false,"tokenExpiration":1800086400}`)
		tok := r.str("token")
		if !secret.WellFormed(tok) {
			t.Fatalf("token %q is not 128 lowercase hex", tok)
		}
		for k, want := range map[string]any{"username": "johndoe", "name": "CI/CD Pipeline Token", "createdBy": "admin", "isSystemToken": false} {
			if r.body[k] != want {
				t.Errorf("%s = %v, want %v", k, r.body[k], want)
			}
		}
		if r.num("tokenExpiration") != 1800086400 || r.num("createdDate") != e.now.Unix() {
			t.Errorf("times = %d, %d", r.num("tokenExpiration"), r.num("createdDate"))
		}
		if fmt.Sprint(r.body["groups"]) != "[developers api-users]" {
			t.Errorf("groups = %v", r.body["groups"])
		}
		if _, err := uuid.Parse(r.str("tokenUUID")); err != nil {
			t.Errorf("tokenUUID %q: %v", r.str("tokenUUID"), err)
		}
		stored, err := st.GetByHash(context.Background(), secret.Hash(tok))
		if err != nil || stored.UUID != r.str("tokenUUID") {
			t.Fatalf("stored by hash: %+v, %v", stored, err)
		}
		if strings.Contains(strings.Join(e.snapshot(), "\n"), tok) {
			t.Fatal("the table holds the plain token")
		}
		if _, err := st.GetByHash(context.Background(), tok); err == nil {
			t.Fatal("the plain token is a key in the table")
		}
		// Shown once: get and list never carry it.
		g := e.do(admin, "GET", "/api-tokens/"+r.str("tokenUUID"), "")
		e.want(g, 200, "")
		if _, ok := g.body["token"]; ok {
			t.Fatal("get returned a token field")
		}
	})

	t.Run("non-admin on POST /api-tokens/{username} is 401", func(t *testing.T) {
		st, _ := newStore(t)
		e := newEnv(t, st)
		before := e.snapshot()
		e.want(e.do(alice, "POST", "/api-tokens/bob", `{"name":"x"}`), 401, "admin")
		e.want(e.do(alice, "POST", "/api-tokens/alice", `{"name":"x"}`), 401, "admin")
		assertUnchanged(t, e, before)
	})

	t.Run("self-service create", func(t *testing.T) {
		st, _ := newStore(t)
		e := newEnv(t, st)
		r := e.create(alice, "", `{"name":"My VSCode Token"}`)
		if fmt.Sprint(r.body["groups"]) != "[lisa-users lisa-api-users]" || r.str("username") != "alice" || r.str("createdBy") != "alice" || r.body["isSystemToken"] != false {
			t.Fatalf("body = %s", r.raw)
		}
		before := e.snapshot()
		e.want(e.do(bob, "POST", "/api-tokens/", `{"name":"x","isSystemToken":true}`), 400, "system")
		e.want(e.do(bob, "POST", "/api-tokens/", `{"name":"x","groups":["lisa-admins"]}`), 400, "groups")
		e.want(e.do(bob, "POST", "/api-tokens/", `{"name":"x","groups":[]}`), 400, "groups")
		e.want(e.do(carol, "POST", "/api-tokens/", `{"name":"x"}`), 403, "API group")
		assertUnchanged(t, e, before)
		e.create(admin, "", `{"name":"admin's own"}`) // admins may use self-service
	})

	t.Run("user-managed tokens disabled", func(t *testing.T) {
		st, _ := newStore(t)
		e := newEnv(t, st, func(c *tokensvc.Config) { c.AllowUserManaged = false })
		e.want(e.do(alice, "POST", "/api-tokens/", `{"name":"x"}`), 403, "disabled")
		e.create(admin, "alice", `{"name":"issued by admin"}`)
		e.create(admin, "", `{"name":"admin self"}`)
	})

	t.Run("one non-system token per user under 50 concurrent creates", func(t *testing.T) {
		st, _ := newStore(t)
		e := newEnv(t, st)
		const n = 50
		statuses := make([]int, n)
		msgs := make([]string, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				<-start
				caller, path := alice, ""
				if i%2 == 1 {
					caller, path = admin, "alice" // admin creates race the user's own
				}
				r := e.do(caller, "POST", "/api-tokens/"+path, fmt.Sprintf(`{"name":"race %d"}`, i))
				statuses[i], msgs[i] = r.status, r.str("message")
			}(i)
		}
		close(start)
		wg.Wait()
		created, refused := 0, 0
		for i, s := range statuses {
			switch {
			case s == 201:
				created++
			case s == 400 && strings.Contains(msgs[i], "already has a token"):
				refused++
			default:
				t.Errorf("create %d: status %d %q", i, s, msgs[i])
			}
		}
		if created != 1 || refused != n-1 {
			t.Fatalf("created %d, refused %d; want 1 and %d", created, refused, n-1)
		}
		if got := listAll(t, e, admin, "?username=alice"); len(got) != 1 {
			t.Fatalf("alice holds %d tokens, want 1", len(got))
		}
	})

	t.Run("system tokens do not count and delete frees the slot", func(t *testing.T) {
		st, _ := newStore(t)
		e := newEnv(t, st)
		first := e.create(alice, "", `{"name":"mine"}`)
		e.create(admin, "alice", `{"name":"svc 1","isSystemToken":true,"groups":["ci"]}`)
		e.create(admin, "alice", `{"name":"svc 2","isSystemToken":true}`)
		e.want(e.do(admin, "POST", "/api-tokens/alice", `{"name":"second"}`), 400, "already has a token")
		e.want(e.do(alice, "DELETE", "/api-tokens/"+first.str("tokenUUID"), ""), 200, "")
		e.create(alice, "", `{"name":"replacement"}`)
		// Deleting a system token leaves the user's slot alone.
		sys := listAll(t, e, alice, "")
		for _, v := range sys {
			if v["isSystemToken"] == true {
				e.want(e.do(admin, "DELETE", "/api-tokens/"+v["tokenUUID"].(string), ""), 200, "")
				break
			}
		}
		e.want(e.do(alice, "POST", "/api-tokens/", `{"name":"third"}`), 400, "already has a token")
	})

	t.Run("expiration defaults and limits", func(t *testing.T) {
		st, _ := newStore(t)
		e := newEnv(t, st)
		day := int64(86400)
		r := e.create(admin, "u1", `{"name":"default"}`)
		if r.num("tokenExpiration") != e.now.Unix()+90*day {
			t.Errorf("default expiration = %d, want now+90d", r.num("tokenExpiration"))
		}
		for _, tc := range []struct {
			in   string
			want int64
		}{{"90d", 90 * day}, {"12h", 12 * 3600}, {"30m", 1800}, {"365d", 365 * day}} {
			r := e.create(admin, "", fmt.Sprintf(`{"name":"x","expiresIn":%q}`, tc.in))
			if r.num("tokenExpiration") != e.now.Unix()+tc.want {
				t.Errorf("expiresIn %s -> %d, want now+%d", tc.in, r.num("tokenExpiration"), tc.want)
			}
			e.want(e.do(admin, "DELETE", "/api-tokens/"+r.str("tokenUUID"), ""), 200, "")
		}
		before := e.snapshot()
		for name, body := range map[string]string{
			"in the past":    fmt.Sprintf(`{"name":"x","tokenExpiration":%d}`, e.now.Unix()-1),
			"now":            fmt.Sprintf(`{"name":"x","tokenExpiration":%d}`, e.now.Unix()),
			"beyond max":     fmt.Sprintf(`{"name":"x","tokenExpiration":%d}`, e.now.Unix()+366*day),
			"expiresIn max":  `{"name":"x","expiresIn":"366d"}`,
			"expiresIn bad":  `{"name":"x","expiresIn":"ninety days"}`,
			"expiresIn zero": `{"name":"x","expiresIn":"0d"}`,
			"both":           fmt.Sprintf(`{"name":"x","expiresIn":"1d","tokenExpiration":%d}`, e.now.Unix()+day),
		} {
			t.Run(name, func(t *testing.T) { e.want(e.do(admin, "POST", "/api-tokens/u2", body), 400, "") })
		}
		assertUnchanged(t, e, before)
	})

	t.Run("list: admins see all, users their own", func(t *testing.T) {
		st, _ := newStore(t)
		e := newEnv(t, st)
		e.create(alice, "", `{"name":"a"}`)
		e.create(bob, "", `{"name":"b"}`)
		e.create(admin, "ci-bot", `{"name":"c","isSystemToken":true}`)
		exp := e.create(admin, "dave", `{"name":"d","expiresIn":"1h"}`)
		e.now = e.now.Add(2 * time.Hour) // dave's token is now expired
		all := listAll(t, e, admin, "")
		if len(all) != 4 {
			t.Fatalf("admin sees %d tokens, want 4", len(all))
		}
		fields := []string{"tokenUUID", "tokenExpiration", "createdDate", "username", "createdBy", "createdVia", "name", "groups", "isSystemToken", "isExpired", "isLegacy"}
		for _, v := range all {
			for _, f := range fields {
				if _, ok := v[f]; !ok {
					t.Errorf("list item lacks %s: %v", f, v)
				}
			}
			if v["isExpired"] != (v["tokenUUID"] == exp.str("tokenUUID")) {
				t.Errorf("isExpired wrong for %v", v)
			}
		}
		mine := listAll(t, e, alice, "")
		if len(mine) != 1 || mine[0]["username"] != "alice" {
			t.Fatalf("alice sees %v", mine)
		}
		if got := listAll(t, e, admin, "?username=bob"); len(got) != 1 || got[0]["username"] != "bob" {
			t.Fatalf("admin filter username=bob: %v", got)
		}
		e.want(e.do(alice, "GET", "/api-tokens/?username=bob", ""), 403, "")
		e.want(e.do(carol, "GET", "/api-tokens/", ""), 403, "API group")
		e.want(e.do(admin, "GET", "/api-tokens/?limit=0", ""), 400, "limit")
		e.want(e.do(admin, "GET", "/api-tokens/?limit=abc", ""), 400, "limit")
		e.want(e.do(admin, "GET", "/api-tokens/?nextToken=garbage", ""), 400, "nextToken")
	})

	t.Run("get and delete", func(t *testing.T) {
		st, _ := newStore(t)
		e := newEnv(t, st)
		a := e.create(alice, "", `{"name":"a"}`)
		id := a.str("tokenUUID")
		g := e.do(alice, "GET", "/api-tokens/"+id, "")
		e.want(g, 200, "")
		if g.str("tokenUUID") != id || g.str("name") != "a" || g.body["isLegacy"] != false {
			t.Fatalf("get = %s", g.raw)
		}
		e.want(e.do(bob, "GET", "/api-tokens/"+id, ""), 404, "not found")
		e.want(e.do(bob, "DELETE", "/api-tokens/"+id, ""), 404, "not found")
		e.want(e.do(alice, "GET", "/api-tokens/"+uuid.NewString(), ""), 404, "not found")
		e.want(e.do(alice, "GET", "/api-tokens/not-a-uuid", ""), 400, "token id")
		d := e.do(alice, "DELETE", "/api-tokens/"+id, "")
		e.want(d, 200, "")
		if d.str("message") != "Token deleted successfully" || d.str("tokenUUID") != id {
			t.Fatalf("delete = %s", d.raw)
		}
		e.want(e.do(alice, "DELETE", "/api-tokens/"+id, ""), 404, "")
		e.want(e.do(alice, "GET", "/api-tokens/"+id, ""), 404, "")
	})

	t.Run("legacy items", func(t *testing.T) {
		st, _ := newStore(t)
		li, ok := st.(storetest.LegacyInserter)
		if !ok {
			t.Fatalf("%T cannot insert legacy items", st)
		}
		e := newEnv(t, st)
		const value = "YOUR_STRING_HERE_legacy_plaintext"
		if err := li.PutLegacy(context.Background(), value, e.now.Unix()+3600); err != nil {
			t.Fatal(err)
		}
		e.create(alice, "", `{"name":"modern"}`)
		all := listAll(t, e, admin, "")
		var legacy map[string]any
		for _, v := range all {
			if v["isLegacy"] == true {
				legacy = v
			}
		}
		if legacy == nil || !strings.HasPrefix(legacy["tokenUUID"].(string), "legacy-") {
			t.Fatalf("legacy item not listed with a legacy id: %v", all)
		}
		for _, b := range e.bodies {
			if strings.Contains(b, value) {
				t.Fatalf("the stored legacy value leaked: %s", b)
			}
		}
		if mine := listAll(t, e, alice, ""); len(mine) != 1 {
			t.Fatalf("alice sees %d tokens", len(mine))
		}
		id := legacy["tokenUUID"].(string)
		before := e.snapshot()
		e.want(e.do(alice, "DELETE", "/api-tokens/"+id, ""), 403, "admin")
		assertUnchanged(t, e, before)
		e.want(e.do(admin, "GET", "/api-tokens/"+id, ""), 200, "")
		d := e.do(admin, "DELETE", "/api-tokens/"+id, "")
		e.want(d, 200, "")
		if d.str("tokenUUID") != id {
			t.Fatalf("delete = %s", d.raw)
		}
		if len(listAll(t, e, admin, "")) != 1 {
			t.Fatal("legacy item still listed after delete")
		}
		e.want(e.do(admin, "DELETE", "/api-tokens/"+id, ""), 404, "")
		e.want(e.do(admin, "DELETE", "/api-tokens/legacy-zz", ""), 400, "")
	})

	t.Run("bad input changes nothing", func(t *testing.T) {
		st, _ := newStore(t)
		e := newEnv(t, st)
		e.create(alice, "", `{"name":"existing"}`)
		before := e.snapshot()
		cases := []struct {
			name, path, body string
			status           int
			msg              string
		}{
			{"malformed JSON", "", `{"name":`, 422, "JSON"},
			{"not an object", "", `["name"]`, 422, ""},
			{"trailing data", "", `{"name":"x"} {}`, 422, ""},
			{"name wrong type", "", `{"name":5}`, 422, "name"},
			{"expiration wrong type", "u", `{"name":"x","tokenExpiration":"soon"}`, 422, "tokenExpiration"},
			{"expiration fractional", "u", `{"name":"x","tokenExpiration":1800000000.5}`, 422, "tokenExpiration"},
			{"isSystemToken wrong type", "u", `{"name":"x","isSystemToken":"yes"}`, 422, "isSystemToken"},
			{"groups not a list", "u", `{"name":"x","groups":"ci"}`, 422, "groups"},
			{"groups of numbers", "u", `{"name":"x","groups":[1,2]}`, 422, "groups"},
			{"unknown field", "u", `{"name":"x","expiry":1}`, 422, "expiry"},
			{"missing name", "u", `{}`, 400, "name"},
			{"empty name", "u", `{"name":"  "}`, 400, "name"},
			{"name too long", "u", fmt.Sprintf(`{"name":%q}`, strings.Repeat("n", 129)), 400, "128"},
			{"name with control characters", "u", `{"name":"a\u0007b"}`, 400, "control"},
			{"empty group", "u", `{"name":"x","groups":["ok",""]}`, 400, "groups[1]"},
			{"too many groups", "u", fmt.Sprintf(`{"name":"x","groups":[%s]}`, strings.TrimSuffix(strings.Repeat(`"g",`, 51), ",")), 400, "50"},
			{"username with space", "a%20b", `{"name":"x"}`, 400, "username"},
			{"username with control", "a%07b", `{"name":"x"}`, 400, "username"},
			{"username too long", strings.Repeat("u", 129), `{"name":"x"}`, 400, "username"},
			{"oversized body", "u", fmt.Sprintf(`{"name":"x","pad":%q}`, strings.Repeat("p", 20000)), 413, "larger"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				e.want(e.do(admin, "POST", "/api-tokens/"+tc.path, tc.body), tc.status, tc.msg)
			})
		}
		assertUnchanged(t, e, before)
	})
}

// listAll pages through GET /api-tokens/ as caller and returns every item.
func listAll(t *testing.T, e *env, caller auth.Principal, query string) []map[string]any {
	t.Helper()
	return listPages(t, e, caller, query, nil)
}

func listPages(t *testing.T, e *env, caller auth.Principal, query string, pages *int) []map[string]any {
	t.Helper()
	var out []map[string]any
	next := ""
	sep := "?"
	if query != "" {
		sep = "&"
	}
	for i := 0; ; i++ {
		target := "/api-tokens/" + query
		if next != "" {
			target += sep + "nextToken=" + url.QueryEscape(next)
		}
		r := e.do(caller, "GET", target, "")
		e.want(r, 200, "")
		items, _ := r.body["tokens"].([]any)
		for _, it := range items {
			out = append(out, it.(map[string]any))
		}
		next = r.str("nextToken")
		if pages != nil {
			*pages = i + 1
		}
		if next == "" {
			return out
		}
		if i > 10000 {
			t.Fatal("pagination does not end")
		}
	}
}

func assertUnchanged(t *testing.T, e *env, before []string) {
	t.Helper()
	after := e.snapshot()
	if strings.Join(before, "\n") != strings.Join(after, "\n") {
		t.Fatalf("the table changed:\nbefore %v\nafter  %v", before, after)
	}
}

// runVolume shows that listing pages through a large table and that get
// and delete find a token among many with one index query.
func runVolume(t *testing.T, b backend, listN, getN int) {
	t.Run(fmt.Sprintf("list pages through %d tokens", listN), func(t *testing.T) {
		st, _ := b.new(t)
		e := newEnv(t, st)
		toks := make([]store.Token, listN)
		for i := range toks {
			toks[i] = store.Token{
				Hash: secret.Hash(fmt.Sprintf("volume-%d", i)), UUID: uuid.NewString(),
				Username: fmt.Sprintf("user-%d", i%97), CreatedBy: "admin", CreatedDate: e.now.Unix(),
				Expiration: e.now.Unix() + 3600, Name: fmt.Sprintf("token %d", i), Groups: []string{"g"}, IsSystem: true,
			}
		}
		mustCreate(t, st, toks)
		pages := 0
		all := listPages(t, e, admin, "?limit=500", &pages)
		seen := map[string]bool{}
		for _, v := range all {
			id := v["tokenUUID"].(string)
			if seen[id] {
				t.Fatalf("token %s listed twice", id)
			}
			seen[id] = true
		}
		if len(seen) != listN {
			t.Fatalf("listed %d distinct tokens, want %d", len(seen), listN)
		}
		if pages < listN/500 {
			t.Fatalf("%d pages for %d tokens at limit 500", pages, listN)
		}
		if got := listAll(t, e, admin, "?username=user-5&limit=7"); len(got) != (listN+96-5)/97 {
			t.Fatalf("user-5 has %d tokens listed", len(got))
		}
	})

	t.Run(fmt.Sprintf("get and delete among %d tokens with one index query", getN), func(t *testing.T) {
		st, ops := b.new(t)
		e := newEnv(t, st)
		toks := make([]store.Token, getN)
		for i := range toks {
			toks[i] = store.Token{
				Hash: secret.Hash(fmt.Sprintf("many-%d", i)), UUID: uuid.NewString(), Username: fmt.Sprintf("u%d", i),
				CreatedBy: "admin", CreatedDate: e.now.Unix(), Expiration: e.now.Unix() + 3600, Name: "n", Groups: []string{},
			}
		}
		mustCreate(t, st, toks)
		target := toks[getN/2]
		owner := principal(target.Username, "lisa-api-users")
		var before map[string]int
		if ops != nil {
			before = ops()
		}
		g := e.do(owner, "GET", "/api-tokens/"+target.UUID, "")
		e.want(g, 200, "")
		if g.str("name") != "n" || g.str("username") != target.Username {
			t.Fatalf("get = %s", g.raw)
		}
		if ops != nil {
			after := ops()
			if q, s := after["Query"]-before["Query"], after["Scan"]-before["Scan"]; q != 1 || s != 0 {
				t.Fatalf("get used %d queries and %d scans, want 1 and 0", q, s)
			}
			before = after
		}
		e.want(e.do(principal("someone-else", "lisa-api-users"), "GET", "/api-tokens/"+target.UUID, ""), 404, "")
		if ops != nil {
			before = ops()
		}
		e.want(e.do(owner, "DELETE", "/api-tokens/"+target.UUID, ""), 200, "")
		if ops != nil {
			after := ops()
			if q, s := after["Query"]-before["Query"], after["Scan"]-before["Scan"]; q != 1 || s != 0 {
				t.Fatalf("delete used %d queries and %d scans, want 1 and 0", q, s)
			}
		}
		if _, err := st.GetByHash(context.Background(), target.Hash); err == nil {
			t.Fatal("deleted token still in the table")
		}
		e.create(owner, "", `{"name":"after delete"}`) // the slot is free again
	})
}
