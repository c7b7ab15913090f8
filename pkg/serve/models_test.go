package serve_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/llmgw/apitokens/pkg/config"
	"github.com/llmgw/apitokens/pkg/local/devupstream"
	"github.com/llmgw/apitokens/pkg/serve"
)

// TestProviderPrefixesDoNotHideAPermission: a permission on an id holds
// under every provider prefix, and an id with a "/" of its own still
// matches exactly.
func TestProviderPrefixesDoNotHideAPermission(t *testing.T) {
	e := newEnv(t, func(c *serve.Config) {
		c.ModelPermissions = map[string][]string{"local-restricted": {"ml-team"}, "meta-llama/Llama-3-8B": {"ml-team"}}
	})
	tests := []struct {
		name, token, model string
		allowed            bool
	}{
		{"exact id with a slash", userToken, "meta-llama/Llama-3-8B", false},
		{"id with a slash, other case", userToken, "META-LLAMA/llama-3-8b", false},
		{"id with a slash under a provider prefix", userToken, "openai/meta-llama/Llama-3-8B", false},
		{"id with a slash under two prefixes", userToken, "litellm_proxy/hosted_vllm/meta-llama/Llama-3-8B", false},
		{"bare restricted id under a prefix", userToken, "hosted_vllm/local-restricted", false},
		{"the last segment alone is another id", userToken, "Llama-3-8B", true},
		{"another organisation's model of the same name", userToken, "other-org/Llama-3-8B", true},
		{"group member under a prefix", teamToken, "openai/meta-llama/Llama-3-8B", true},
		{"admin under a prefix", adminToken, "ollama/local-restricted", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := e.up.Count()
			r := e.call(t, "POST", "/v2/serve/chat/completions", `{"model":"`+tt.model+`",`+msgs+`}`, bearer(tt.token)...)
			if !tt.allowed {
				e.wantRefused(t, r, before, 403, "model_not_allowed", "model")
				return
			}
			// The development upstream knows none of these ids and answers
			// 404; what matters is that the call reached it with the id
			// that was checked.
			reqs := e.up.Requests()
			if e.up.Count()-before != 1 || reqs[len(reqs)-1].Model != tt.model {
				t.Fatalf("status %d, upstream calls %d, want the call forwarded with model %q: %s", r.status, e.up.Count()-before, tt.model, r.body)
			}
		})
	}
	t.Run("GET /models/{id} with a prefix", func(t *testing.T) {
		before := e.up.Count()
		r := e.call(t, "GET", "/v2/serve/models/openai/local-restricted", "", bearer(userToken)...)
		if r.status != http.StatusNotFound || r.errorBody(t).Code != "model_not_found" {
			t.Fatalf("status = %d: %s", r.status, r.body)
		}
		if e.up.Count() != before {
			t.Error("the upstream was asked about a model the caller may not use")
		}
	})
}

// TestModelsListUsesThePrefixRule: the list hides what a call would refuse,
// prefixed ids included, and ids that no call could use.
func TestModelsListUsesThePrefixRule(t *testing.T) {
	listed := []string{"local-echo", "openai/local-restricted", "Hosted_vLLM/Local-Restricted", "meta-llama/Llama-3-8B", "openai/*", "local-echo,local-restricted"}
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		data := []map[string]any{}
		for _, id := range listed {
			data = append(data, map[string]any{"id": id, "object": "model"})
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"object": "list", "data": data})
	}))
	t.Cleanup(up.Close)
	e := newEnv(t, func(c *serve.Config) { c.UpstreamURL = up.URL + "/v1" })
	tests := []struct {
		token string
		want  []string
	}{
		{userToken, []string{"local-echo", "meta-llama/Llama-3-8B"}},
		{teamToken, []string{"local-echo", "openai/local-restricted", "Hosted_vLLM/Local-Restricted", "meta-llama/Llama-3-8B"}},
		{adminToken, []string{"local-echo", "openai/local-restricted", "Hosted_vLLM/Local-Restricted", "meta-llama/Llama-3-8B"}},
	}
	for _, tt := range tests {
		t.Run(principals[tt.token].Username, func(t *testing.T) {
			r := e.call(t, "GET", "/v2/serve/models", "", bearer(tt.token)...)
			if r.status != http.StatusOK {
				t.Fatalf("status = %d: %s", r.status, r.body)
			}
			if got := modelIDs(t, r.body); !slices.Equal(got, tt.want) {
				t.Errorf("models = %v, want %v", got, tt.want)
			}
		})
	}
}

// withUnlistedModels makes the configuration go through config.Load and
// FromConfig with MODEL_PERMISSIONS_DEFAULT set to mode, keeping the test
// environment's upstream, key, permissions and logger.
func withUnlistedModels(t *testing.T, mode string) func(*serve.Config) {
	return func(c *serve.Config) {
		t.Helper()
		env := map[string]string{
			config.EnvServeUpstreamURL:  c.UpstreamURL,
			config.EnvServeUpstreamKey:  c.UpstreamKey,
			config.EnvModelPermissions:  testPermissions,
			config.EnvModelPermsDefault: mode,
			config.EnvAdminGroup:        "lisa-admins",
			config.EnvAPIGroup:          "lisa-api-users",
		}
		lc, err := config.Load(func(k string) string { return env[k] })
		if err != nil {
			t.Fatal(err)
		}
		fc, err := serve.FromConfig(lc)
		if err != nil {
			t.Fatal(err)
		}
		fc.Timeout, fc.Logger = c.Timeout, c.Logger
		*c = fc
	}
}

func TestUnlistedModelsUnderDeny(t *testing.T) {
	e := newEnv(t, withUnlistedModels(t, config.ModelsDeny))
	calls := []struct {
		name, token, model string
		allowed            bool
	}{
		{"user, unlisted model", userToken, devupstream.ModelEcho, false},
		{"user, unlisted model under a prefix", userToken, "openai/" + devupstream.ModelEcho, false},
		{"user, listed model of another group", userToken, devupstream.ModelRestricted, false},
		{"group member, unlisted model", teamToken, devupstream.ModelEcho, false},
		{"group member, its listed model", teamToken, devupstream.ModelRestricted, true},
		{"admin, unlisted model", adminToken, devupstream.ModelEcho, true},
		{"admin, listed model", adminToken, devupstream.ModelRestricted, true},
	}
	for _, tt := range calls {
		t.Run(tt.name, func(t *testing.T) {
			before := e.up.Count()
			r := e.call(t, "POST", "/v2/serve/chat/completions", chatBody(tt.model, "hi", false), bearer(tt.token)...)
			if !tt.allowed {
				e.wantRefused(t, r, before, 403, "model_not_allowed", "model")
				return
			}
			if r.status != http.StatusOK || e.up.Count()-before != 1 {
				t.Fatalf("status = %d, upstream calls %d: %s", r.status, e.up.Count()-before, r.body)
			}
		})
	}
	lists := []struct {
		token string
		want  []string
	}{
		{userToken, nil},
		{teamToken, []string{devupstream.ModelRestricted}},
		{adminToken, []string{devupstream.ModelEcho, devupstream.ModelRestricted}},
	}
	for _, tt := range lists {
		t.Run("GET /models as "+principals[tt.token].Username, func(t *testing.T) {
			r := e.call(t, "GET", "/v2/serve/models", "", bearer(tt.token)...)
			if r.status != http.StatusOK {
				t.Fatalf("status = %d: %s", r.status, r.body)
			}
			if got := modelIDs(t, r.body); !slices.Equal(got, tt.want) {
				t.Errorf("models = %v, want %v", got, tt.want)
			}
		})
	}
	t.Run("GET /models/{id} of an unlisted model", func(t *testing.T) {
		before := e.up.Count()
		r := e.call(t, "GET", "/v2/serve/models/"+devupstream.ModelEcho, "", bearer(userToken)...)
		if r.status != http.StatusNotFound || e.up.Count() != before {
			t.Fatalf("status = %d, upstream calls %d: %s", r.status, e.up.Count()-before, r.body)
		}
		r = e.call(t, "GET", "/v2/serve/models/"+devupstream.ModelEcho, "", bearer(adminToken)...)
		if r.status != http.StatusOK {
			t.Fatalf("admin: status = %d: %s", r.status, r.body)
		}
	})
}

func TestUnlistedModelsUnderOpenAreEveryonesByDefault(t *testing.T) {
	for _, mode := range []string{"", config.ModelsOpen} {
		t.Run("MODEL_PERMISSIONS_DEFAULT="+mode, func(t *testing.T) {
			e := newEnv(t, withUnlistedModels(t, mode))
			r := e.call(t, "POST", "/v2/serve/chat/completions", chatBody(devupstream.ModelEcho, "hi", false), bearer(userToken)...)
			if r.status != http.StatusOK {
				t.Fatalf("status = %d: %s", r.status, r.body)
			}
			r = e.call(t, "POST", "/v2/serve/chat/completions", chatBody(devupstream.ModelRestricted, "hi", false), bearer(userToken)...)
			if r.status != http.StatusForbidden {
				t.Fatalf("restricted: status = %d: %s", r.status, r.body)
			}
		})
	}
}

func TestFromConfigCarriesTheUnlistedModelsDefault(t *testing.T) {
	for _, mode := range []string{config.ModelsOpen, config.ModelsDeny} {
		env := map[string]string{config.EnvServeUpstreamURL: "https://host/v1", config.EnvModelPermsDefault: mode}
		lc, err := config.Load(func(k string) string { return env[k] })
		if err != nil {
			t.Fatal(err)
		}
		sc, err := serve.FromConfig(lc)
		if err != nil {
			t.Fatal(err)
		}
		if sc.ModelPermissionsDefault != mode {
			t.Errorf("%s=%s: FromConfig gives %q", config.EnvModelPermsDefault, mode, sc.ModelPermissionsDefault)
		}
	}
}

func TestNewRefusesAnUnknownUnlistedModelsDefault(t *testing.T) {
	cfg := serve.Config{UpstreamURL: "https://host/v1", ModelPermissionsDefault: "maybe"}
	if _, err := serve.New(cfg, stubAuth(nil)); err == nil || !strings.Contains(err.Error(), config.EnvModelPermsDefault) {
		t.Fatalf("err = %v, want an error naming %s", err, config.EnvModelPermsDefault)
	}
}
