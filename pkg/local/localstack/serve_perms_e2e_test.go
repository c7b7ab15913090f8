package localstack_test

import (
	"strings"
	"testing"

	"github.com/llmgw/apitokens/pkg/local/devupstream"
	"github.com/llmgw/apitokens/pkg/local/localstack"
)

const chatMessages = `"messages":[{"role":"user","content":"routed?"}]`

// errorParam is the "param" of an OpenAI-shaped error answer, "" if null.
func errorParam(a answer) (code, param string) {
	e, _ := a.body["error"].(map[string]any)
	code, _ = e["code"].(string)
	param, _ = e["param"].(string)
	return code, param
}

// upstreamSince returns the requests the development upstream received
// after the first n.
func upstreamSince(t *testing.T, s *localstack.Stack, n int) []devupstream.Record {
	t.Helper()
	if got := s.Upstream.Count(); got < n {
		t.Fatalf("upstream count went back from %d to %d", n, got)
	}
	recs := s.Upstream.Requests()
	return recs[len(recs)-(s.Upstream.Count()-n):]
}

// TestServeModelRoutingThroughTheStack: through the ALB, the Lambda adapter
// and the real token store, a call that would make the upstream serve
// another model than the checked one never reaches it, and an allowed one
// reaches it with exactly the checked model.
func TestServeModelRoutingThroughTheStack(t *testing.T) {
	forEachServeMode(t, func(t *testing.T, mode string) {
		s := startStack(t, map[string]string{"SERVE_MODE": mode, "TOKEN_CACHE_SECONDS": "0"})
		c := newClient(t, s)
		userTok := c.want(c.do("POST", "/api-tokens/", `{"name":"routing"}`, bearer(c.jwt("alice", "lisa-users", "lisa-api-users"))...), 201).str("token")
		adminTok := c.want(c.do("POST", "/api-tokens/", `{"name":"admin routing"}`, bearer(c.jwt("admin", "lisa-admins"))...), 201).str("token")

		tests := []struct {
			name, token, body string
			status            int
			code, param       string
			served            string // the model the upstream must receive; "" for a refused call
		}{
			{"user, fallbacks to the restricted model", userTok, `{"model":"local-echo","fallbacks":["local-restricted"],` + chatMessages + `}`, 400, "param_not_allowed", "fallbacks", ""},
			{"user, model and MODEL", userTok, `{"model":"local-echo","MODEL":"local-restricted",` + chatMessages + `}`, 400, "duplicate_key", "MODEL", ""},
			{"user, provider prefix", userTok, `{"model":"openai/local-restricted",` + chatMessages + `}`, 403, "model_not_allowed", "model", ""},
			{"user, api_base", userTok, `{"model":"local-echo","api_base":"http://attacker.example/v1",` + chatMessages + `}`, 400, "param_not_allowed", "api_base", ""},
			{"user, comma list", userTok, `{"model":"local-echo,local-restricted","fastest_response":true,` + chatMessages + `}`, 400, "invalid_model", "model", ""},
			{"user, the open model", userTok, `{"model":"local-echo",` + chatMessages + `}`, 200, "", "", "local-echo"},
			{"admin, fallbacks", adminTok, `{"model":"local-echo","fallbacks":["local-restricted"],` + chatMessages + `}`, 200, "", "", "local-echo"},
			{"admin, model and MODEL", adminTok, `{"model":"local-echo","MODEL":"local-restricted",` + chatMessages + `}`, 400, "duplicate_key", "MODEL", ""},
			{"admin, the restricted model", adminTok, `{"model":"local-restricted",` + chatMessages + `}`, 200, "", "", "local-restricted"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				c := &client{t: t, base: c.base, http: c.http} // fail this subtest, not the test
				before := s.Upstream.Count()
				a := c.want(c.do("POST", "/v2/serve/chat/completions", tt.body, bearer(tt.token)...), tt.status)
				got := upstreamSince(t, s, before)
				if tt.served == "" {
					if code, param := errorParam(a); code != tt.code || param != tt.param {
						t.Errorf("error code %q param %q, want %q %q: %s", code, param, tt.code, tt.param, a.raw)
					}
					if len(got) != 0 {
						t.Fatalf("the upstream received a refused call: %+v", got)
					}
					return
				}
				if len(got) != 1 || got[0].Model != tt.served || got[0].Status != 200 {
					t.Fatalf("upstream received %+v, want one call for %q", got, tt.served)
				}
				if !strings.Contains(a.raw, "routed?") {
					t.Errorf("answer does not echo the message: %s", a.raw)
				}
			})
		}
	})
}

// TestServeUnlistedModelsDeny: with MODEL_PERMISSIONS_DEFAULT=deny a model
// not in MODEL_PERMISSIONS is for admins only, and users do not see it.
func TestServeUnlistedModelsDeny(t *testing.T) {
	forEachServeMode(t, func(t *testing.T, mode string) {
		s := startStack(t, map[string]string{"SERVE_MODE": mode, "TOKEN_CACHE_SECONDS": "0", "MODEL_PERMISSIONS_DEFAULT": "deny"})
		c := newClient(t, s)
		userTok := c.want(c.do("POST", "/api-tokens/", `{"name":"deny"}`, bearer(c.jwt("alice", "lisa-users", "lisa-api-users"))...), 201).str("token")
		adminTok := c.want(c.do("POST", "/api-tokens/", `{"name":"admin deny"}`, bearer(c.jwt("admin", "lisa-admins"))...), 201).str("token")

		if ids := models(t, sdk(s, userTok, false)); len(ids) != 0 {
			t.Errorf("user sees %v, want no model", ids)
		}
		if ids := models(t, sdk(s, adminTok, false)); len(ids) != 2 {
			t.Errorf("admin sees %v, want both models", ids)
		}
		before := s.Upstream.Count()
		_, err := chat(sdk(s, userTok, false), devupstream.ModelEcho, "unlisted")
		if code := apiErrorCode(t, err, 403); code != "model_not_allowed" {
			t.Errorf("user on an unlisted model: code %q", code)
		}
		if got := upstreamSince(t, s, before); len(got) != 0 {
			t.Fatalf("the upstream received a refused call: %+v", got)
		}
		before = s.Upstream.Count()
		if got, err := chat(sdk(s, adminTok, false), devupstream.ModelEcho, "admins may"); err != nil || got != "admins may" {
			t.Fatalf("admin on an unlisted model: %q, %v", got, err)
		}
		if got := upstreamSince(t, s, before); len(got) != 1 || got[0].Model != devupstream.ModelEcho {
			t.Fatalf("upstream received %+v", got)
		}
	})
}
