package apigw_test

import (
	"context"
	"reflect"
	"testing"

	"github.com/llmgw/apitokens/pkg/auth"
	"github.com/llmgw/apitokens/pkg/store"
	"github.com/llmgw/apitokens/pkg/tokensvc"
)

func TestSettingsMemory(t *testing.T)   { runSettings(t, memoryBackend) }
func TestSettingsDynamoDB(t *testing.T) { runSettings(t, dynamoBackend) }

// runSettings is GET and PUT /settings and their effect on self-service
// creates, against each backend.
func runSettings(t *testing.T, b backend) {
	t.Run("GET shows the default until an admin sets a value", func(t *testing.T) {
		for _, allow := range []bool{true, false} {
			st, _ := b.new(t)
			e := newEnv(t, st, func(c *tokensvc.Config) { c.AllowUserManaged = allow })
			for _, who := range []auth.Principal{admin, alice, carol} {
				r := e.do(who, "GET", "/settings", "")
				e.want(r, 200, "")
				want := map[string]any{"allowUserManagedTokens": allow, "source": "default"}
				if !reflect.DeepEqual(r.body, want) {
					t.Fatalf("default %v, GET /settings as %s = %s, want %v", allow, who.Username, r.raw, want)
				}
			}
		}
	})

	t.Run("PUT as admin stores the value, GET shows it, creates obey it", func(t *testing.T) {
		st, _ := b.new(t)
		e := newEnv(t, st)
		r := e.do(admin, "PUT", "/settings", `{"allowUserManagedTokens":false}`)
		e.want(r, 200, "")
		want := map[string]any{"allowUserManagedTokens": false, "source": "table", "updatedBy": "admin", "updatedAt": float64(e.now.Unix())}
		if !reflect.DeepEqual(r.body, want) {
			t.Fatalf("PUT answered %s, want %v", r.raw, want)
		}
		if g := e.do(alice, "GET", "/settings", ""); !reflect.DeepEqual(g.body, want) {
			t.Fatalf("GET after PUT = %s, want %v", g.raw, want)
		}
		stored, err := st.GetSettings(context.Background())
		if err != nil || stored.AllowUserManagedTokens == nil || *stored.AllowUserManagedTokens || stored.UpdatedBy != "admin" || stored.UpdatedAt != e.now.Unix() {
			t.Fatalf("stored settings %+v, %v", stored, err)
		}
		before := e.snapshot()
		e.want(e.do(alice, "POST", "/api-tokens/", `{"name":"x"}`), 403, "user-managed API tokens are disabled")
		assertUnchanged(t, e, before)
		// Admins are not affected, on either path; owners still delete.
		issued := e.create(admin, "alice", `{"name":"issued by admin"}`)
		e.create(admin, "", `{"name":"admin's own"}`)
		e.want(e.do(alice, "DELETE", "/api-tokens/"+issued.str("tokenUUID"), ""), 200, "")

		e.want(e.do(admin, "PUT", "/settings", `{"allowUserManagedTokens":true}`), 200, "")
		e.create(alice, "", `{"name":"mine again"}`)
	})

	t.Run("the table value wins over a default of false", func(t *testing.T) {
		st, _ := b.new(t)
		e := newEnv(t, st, func(c *tokensvc.Config) { c.AllowUserManaged = false })
		e.want(e.do(alice, "POST", "/api-tokens/", `{"name":"x"}`), 403, "disabled")
		e.want(e.do(admin, "PUT", "/settings", `{"allowUserManagedTokens":true}`), 200, "")
		e.create(alice, "", `{"name":"allowed by the table"}`)
	})

	t.Run("only admins change the settings, by JWT or admin API token", func(t *testing.T) {
		st, _ := b.new(t)
		e := newEnv(t, st)
		userTok := e.create(admin, "bob", `{"name":"bob","groups":["lisa-users","lisa-api-users"]}`).str("token")
		adminTok := e.create(admin, "ops", `{"name":"ops","isSystemToken":true,"groups":["lisa-admins"]}`).str("token")
		for _, r := range []resp{
			e.do(alice, "PUT", "/settings", `{"allowUserManagedTokens":false}`),
			e.do(carol, "PUT", "/settings", `{"allowUserManagedTokens":false}`),
			e.withToken(userTok, "PUT", "/settings", `{"allowUserManagedTokens":false}`),
		} {
			e.want(r, 403, "admin")
		}
		assertSettings(t, st, store.Settings{})
		// Reading is open to every authenticated caller, tokens included.
		e.want(e.withToken(userTok, "GET", "/settings", ""), 200, "")
		r := e.withToken(adminTok, "PUT", "/settings", `{"allowUserManagedTokens":false}`)
		e.want(r, 200, "")
		if r.str("updatedBy") != "ops" || r.body["allowUserManagedTokens"] != false {
			t.Fatalf("admin token PUT answered %s", r.raw)
		}
	})

	t.Run("bad bodies change nothing", func(t *testing.T) {
		st, _ := b.new(t)
		e := newEnv(t, st)
		e.want(e.do(admin, "PUT", "/settings", `{"allowUserManagedTokens":true}`), 200, "")
		want, err := st.GetSettings(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		e.now = e.now.Add(3600) // a write now would change updatedAt
		for _, tc := range []struct {
			name, body string
			status     int
			msg        string
		}{
			{"missing field", `{}`, 400, "allowUserManagedTokens"},
			{"empty body", ``, 400, "allowUserManagedTokens"},
			{"null", `{"allowUserManagedTokens":null}`, 400, "allowUserManagedTokens"},
			{"string", `{"allowUserManagedTokens":"false"}`, 422, "allowUserManagedTokens"},
			{"number", `{"allowUserManagedTokens":0}`, 422, "allowUserManagedTokens"},
			{"unknown field", `{"allowUserManagedTokens":false,"extra":1}`, 422, "extra"},
			{"misspelt field", `{"allowUserManagedToken":false}`, 422, "allowUserManagedToken"},
			{"not an object", `[false]`, 422, ""},
			{"malformed", `{"allowUserManagedTokens":`, 422, "JSON"},
			{"trailing data", `{"allowUserManagedTokens":false} {}`, 422, ""},
		} {
			t.Run(tc.name, func(t *testing.T) {
				e.want(e.do(admin, "PUT", "/settings", tc.body), tc.status, tc.msg)
				assertSettings(t, st, want)
			})
		}
		e.create(alice, "", `{"name":"still allowed"}`)
	})
}

func assertSettings(t *testing.T, st store.Store, want store.Settings) {
	t.Helper()
	got, err := st.GetSettings(context.Background())
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("stored settings %+v, %v; want %+v", got, err, want)
	}
}
