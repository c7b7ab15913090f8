package serve_test

import (
	"net/http"
	"testing"
)

// TestModelRoutingBypassesAreRefused: every way of making an upstream serve
// another model than the one checked is refused before the upstream sees
// the call.
func TestModelRoutingBypassesAreRefused(t *testing.T) {
	e := newEnv(t, nil)
	tests := []struct {
		name   string
		body   string
		status int
		code   string
		param  string
	}{
		{"fallbacks", `{"model":"local-echo","fallbacks":["local-restricted"],` + msgs + `}`, 400, "param_not_allowed", "fallbacks"},
		{"context_window_fallbacks", `{"model":"local-echo","context_window_fallbacks":[{"local-echo":["local-restricted"]}],` + msgs + `}`, 400, "param_not_allowed", "context_window_fallbacks"},
		{"content_policy_fallbacks", `{"model":"local-echo","content_policy_fallbacks":[{"local-echo":["local-restricted"]}],` + msgs + `}`, 400, "param_not_allowed", "content_policy_fallbacks"},
		{"fastest_response comma list", `{"model":"local-echo,local-restricted","fastest_response":true,` + msgs + `}`, 400, "invalid_model", "model"},
		{"fastest_response on its own", `{"model":"local-echo","fastest_response":true,` + msgs + `}`, 400, "param_not_allowed", "fastest_response"},
		{"model with comma", `{"model":"local-echo, local-restricted",` + msgs + `}`, 400, "invalid_model", "model"},
		{"wildcard model", `{"model":"local-*",` + msgs + `}`, 400, "invalid_model", "model"},
		{"question-mark wildcard model", `{"model":"local-restricte?",` + msgs + `}`, 400, "invalid_model", "model"},
		{"whitespace inside the model", `{"model":"local-echo local-restricted",` + msgs + `}`, 400, "invalid_model", "model"},
		{"control character inside the model", `{"model":"local-\u0000restricted",` + msgs + `}`, 400, "invalid_model", "model"},
		{"invisible character inside the model", `{"model":"local-\u200brestricted",` + msgs + `}`, 400, "invalid_model", "model"},
		{"duplicate model", `{"model":"local-echo","model":"local-restricted",` + msgs + `}`, 400, "duplicate_key", "model"},
		{"model then MODEL", `{"model":"local-echo","MODEL":"local-restricted",` + msgs + `}`, 400, "duplicate_key", "MODEL"},
		{"MODEL then model", `{"MODEL":"local-restricted","model":"local-echo",` + msgs + `}`, 400, "duplicate_key", "model"},
		{"model then Model", `{"model":"local-echo","Model":"local-restricted",` + msgs + `}`, 400, "duplicate_key", "Model"},
		{"Model alone", `{"Model":"local-restricted",` + msgs + `}`, 400, "invalid_model", "Model"},
		{"escaped duplicate model", `{"model":"local-echo","mod\u0065l":"local-restricted",` + msgs + `}`, 400, "duplicate_key", "model"},
		{"duplicate routing key in two cases", `{"model":"local-echo","fallbacks":[],"FALLBACKS":["local-restricted"],` + msgs + `}`, 400, "duplicate_key", "FALLBACKS"},
		{"provider prefix", `{"model":"openai/local-restricted",` + msgs + `}`, 403, "model_not_allowed", "model"},
		{"provider prefix in upper case", `{"model":"OpenAI/Local-Restricted",` + msgs + `}`, 403, "model_not_allowed", "model"},
		{"litellm_proxy prefix", `{"model":"litellm_proxy/local-restricted",` + msgs + `}`, 403, "model_not_allowed", "model"},
		{"hosted_vllm prefix", `{"model":"hosted_vllm/local-restricted",` + msgs + `}`, 403, "model_not_allowed", "model"},
		{"ollama prefix", `{"model":"ollama/local-restricted",` + msgs + `}`, 403, "model_not_allowed", "model"},
		{"nested prefix", `{"model":"litellm_proxy/openai/local-restricted",` + msgs + `}`, 403, "model_not_allowed", "model"},
		{"empty path segment", `{"model":"openai//local-restricted",` + msgs + `}`, 400, "invalid_model", "model"},
		{"api_base redirection", `{"model":"local-echo","api_base":"http://attacker.example/v1",` + msgs + `}`, 400, "param_not_allowed", "api_base"},
		{"base_url redirection", `{"model":"local-echo","base_url":"http://attacker.example/v1",` + msgs + `}`, 400, "param_not_allowed", "base_url"},
		{"api_key redirection", `{"model":"local-echo","api_key":"sk-caller",` + msgs + `}`, 400, "param_not_allowed", "api_key"},
		{"user_config redirection", `{"model":"local-echo","user_config":{"model_list":[{"model_name":"local-echo","litellm_params":{"model":"local-restricted"}}]},` + msgs + `}`, 400, "param_not_allowed", "user_config"},
		{"routing key in another case", `{"model":"local-echo","API_BASE":"http://attacker.example/v1",` + msgs + `}`, 400, "param_not_allowed", "API_BASE"},
		// encoding/json folds U+017F (long s) to "s": a Go upstream reads
		// this key as api_base.
		{"routing key with a long s", `{"model":"local-echo","api_ba\u017fe":"http://attacker.example/v1",` + msgs + `}`, 400, "param_not_allowed", "api_ba\u017fe"},
		{"tag routing in metadata", `{"model":"local-echo","metadata":{"tags":["restricted-tier"]},` + msgs + `}`, 400, "param_not_allowed", "metadata.tags"},
		{"trailing second object", `{"model":"local-echo",` + msgs + `} {"model":"local-restricted"}`, 400, "invalid_json", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := e.up.Count()
			r := e.call(t, "POST", "/v2/serve/chat/completions", tt.body, bearer(userToken)...)
			if tt.param == "" {
				if r.status != tt.status || r.errorBody(t).Code != tt.code || e.up.Count() != before {
					t.Fatalf("status = %d (want %d), upstream calls %d: %s", r.status, tt.status, e.up.Count()-before, r.body)
				}
				return
			}
			e.wantRefused(t, r, before, tt.status, tt.code, tt.param)
		})
	}
}

// TestDuplicateModelKeysAreRefusedForAdminsToo: the logged model must be
// the served one, whoever calls.
func TestDuplicateModelKeysAreRefusedForAdminsToo(t *testing.T) {
	e := newEnv(t, nil)
	before := e.up.Count()
	r := e.call(t, "POST", "/v2/serve/chat/completions", `{"model":"local-echo","MODEL":"local-restricted",`+msgs+`}`, bearer(adminToken)...)
	e.wantRefused(t, r, before, 400, "duplicate_key", "MODEL")
	before = e.up.Count()
	r = e.call(t, "POST", "/v2/serve/chat/completions", `{"model":"local-*",`+msgs+`}`, bearer(adminToken)...)
	e.wantRefused(t, r, before, 400, "invalid_model", "model")
}

// routingKeysUnderTest are the body keys that must never reach the
// upstream from a non-admin, with a value of the shape the upstream
// expects. The list is the contract, kept apart from the implementation's
// own list on purpose.
var routingKeysUnderTest = map[string]string{
	"fallbacks":                             `["local-restricted"]`,
	"context_window_fallbacks":              `[{"local-echo":["local-restricted"]}]`,
	"content_policy_fallbacks":              `[{"local-echo":["local-restricted"]}]`,
	"default_fallbacks":                     `["local-restricted"]`,
	"fastest_response":                      `true`,
	"mock_testing_fallbacks":                `true`,
	"mock_testing_context_fallbacks":        `true`,
	"mock_testing_content_policy_fallbacks": `true`,
	"mock_testing_rate_limit_error":         `true`,
	"mock_response":                         `"litellm.RateLimitError"`,
	"mock_timeout":                          `true`,
	"api_base":                              `"http://attacker.example/v1"`,
	"base_url":                              `"http://attacker.example/v1"`,
	"api_key":                               `"sk-caller"`,
	"api_version":                           `"2024-02-01"`,
	"user_config":                           `{"model_list":[]}`,
	"model_list":                            `[{"model_name":"local-echo","litellm_params":{"model":"local-restricted"}}]`,
	"deployment_id":                         `"local-restricted"`,
	"engine":                                `"local-restricted"`,
	"custom_llm_provider":                   `"openai"`,
	"litellm_params":                        `{"model":"local-restricted"}`,
	"specific_deployment":                   `true`,
	"litellm_credential_name":               `"other-account"`,
	"extra_body":                            `{"model":"local-restricted"}`,
	"extra_headers":                         `{"Authorization":"Bearer other"}`,
	"headers":                               `{"Authorization":"Bearer other"}`,
	"tags":                                  `["restricted-tier"]`,
	"kv_transfer_params":                    `{"remote_host":"attacker.example","remote_port":1}`,
}

func TestEveryRoutingKeyIsRefusedForUsersAndAllowedForAdmins(t *testing.T) {
	e := newEnv(t, nil)
	for key, value := range routingKeysUnderTest {
		body := `{"model":"local-echo","` + key + `":` + value + `,` + msgs + `}`
		t.Run(key+"/user", func(t *testing.T) {
			before := e.up.Count()
			r := e.call(t, "POST", "/v2/serve/chat/completions", body, bearer(userToken)...)
			e.wantRefused(t, r, before, 400, "param_not_allowed", key)
		})
		t.Run(key+"/group member", func(t *testing.T) {
			before := e.up.Count()
			r := e.call(t, "POST", "/v2/serve/chat/completions", body, bearer(teamToken)...)
			e.wantRefused(t, r, before, 400, "param_not_allowed", key)
		})
		t.Run(key+"/admin", func(t *testing.T) {
			before := e.up.Count()
			r := e.call(t, "POST", "/v2/serve/chat/completions", body, bearer(adminToken)...)
			if r.status != http.StatusOK {
				t.Fatalf("status = %d, want 200: %s", r.status, r.body)
			}
			if n := e.up.Count() - before; n != 1 {
				t.Fatalf("upstream calls = %d, want 1", n)
			}
		})
	}
}
