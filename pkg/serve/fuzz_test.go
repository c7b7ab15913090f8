package serve_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/llmgw/apitokens/pkg/serve"
)

// captureUpstream is an http.RoundTripper standing in for the upstream: it
// keeps the body it is sent and answers a fixed completion.
type captureUpstream struct {
	body []byte
	sent bool
}

func (c *captureUpstream) RoundTrip(r *http.Request) (*http.Response, error) {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, err
	}
	c.body, c.sent = b, true
	return &http.Response{
		StatusCode: http.StatusOK,
		Header:     http.Header{"Content-Type": {"application/json"}},
		Body:       io.NopCloser(strings.NewReader(`{"id":"x","object":"chat.completion","choices":[]}`)),
		Request:    r,
	}, nil
}

// restrictedForUser is the test's own reading of testPermissions for
// userToken (not in ml-team): local-restricted under any spelling the
// upstreams accept (case, surrounding spaces, provider prefixes) is not
// theirs. It is independent of the handler's code on purpose.
func restrictedForUser(model string) bool {
	segs := strings.Split(strings.TrimSpace(model), "/")
	for i := range segs {
		if strings.EqualFold(strings.TrimSpace(strings.Join(segs[i:], "/")), "local-restricted") {
			return true
		}
	}
	return false
}

// FuzzModelCheck: whatever the body, if the handler forwards it, then a
// case-insensitive Go upstream (a struct with a Model field) and a
// case-sensitive one (a map's "model") read the same model, that model is
// one the caller may use, and for a non-admin no routing key is present.
func FuzzModelCheck(f *testing.F) {
	seeds := []string{
		`{"model":"local-echo","messages":[{"role":"user","content":"hi"}]}`,
		`{"model":"local-restricted","messages":[]}`,
		`{"model":"local-echo","MODEL":"local-restricted"}`,
		`{"MODEL":"local-restricted","model":"local-echo"}`,
		`{"model":"local-echo","model":"local-restricted"}`,
		`{"model":"local-echo","Model":"local-restricted"}`,
		`{"model":"local-echo","mod\u0065l":"local-restricted"}`,
		`{"Model":"local-restricted"}`,
		`{"model":"openai/local-restricted"}`,
		`{"model":"a/b/Local-Restricted "}`,
		`{"model":"local-echo,local-restricted","fastest_response":true}`,
		`{"model":"local-*"}`,
		`{"model":"local-echo","fallbacks":["local-restricted"]}`,
		`{"model":"local-echo","Fallbacks":["local-restricted"]}`,
		`{"model":"local-echo","context_window_fallbacks":[{"local-echo":["local-restricted"]}]}`,
		`{"model":"local-echo","api_base":"http://attacker.example"}`,
		`{"model":"local-echo","api_ba\u017fe":"http://attacker.example"}`,
		`{"model":"local-echo","user_config":{"model_list":[]}}`,
		`{"model":"local-echo","extra_body":{"model":"local-restricted"}}`,
		`{"model":"local-echo","metadata":{"tags":["x"]}}`,
		`{"model":"local-echo"} {"model":"local-restricted"}`,
		`{"model":"local-re\ud800stricted"}`,
		`[{"model":"local-restricted"}]`,
		`{"model":null,"MODEL":"local-restricted"}`,
	}
	for _, s := range seeds {
		f.Add(s, false)
		f.Add(s, true)
	}
	perms, err := serve.ParseModelPermissions(testPermissions)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body string, admin bool) {
		up := &captureUpstream{}
		h, err := serve.New(serve.Config{
			UpstreamURL:      "https://upstream.invalid/v1",
			ModelPermissions: perms,
			Client:           &http.Client{Transport: up},
		}, stubAuth(nil))
		if err != nil {
			t.Fatal(err)
		}
		token := userToken
		if admin {
			token = adminToken
		}
		req := httptest.NewRequest("POST", "/v2/serve/chat/completions", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if !up.sent {
			if w.Code == http.StatusOK {
				t.Fatalf("200 without an upstream call")
			}
			return
		}
		if string(up.body) != body {
			t.Fatalf("the forwarded body differs from the caller's")
		}
		var folded struct{ Model string }
		if err := json.Unmarshal(up.body, &folded); err != nil {
			t.Fatalf("forwarded a body a Go upstream cannot read: %v: %q", err, body)
		}
		var exact map[string]any
		if err := json.Unmarshal(up.body, &exact); err != nil {
			t.Fatalf("forwarded a body a Go upstream cannot read: %v: %q", err, body)
		}
		model, ok := exact["model"].(string)
		if !ok || model != folded.Model {
			t.Fatalf("case-sensitive upstream reads model %#v, case-insensitive one %q: %q", exact["model"], folded.Model, body)
		}
		if !admin && restrictedForUser(model) {
			t.Fatalf("forwarded restricted model %q for a user: %q", model, body)
		}
		if admin {
			return
		}
		for k, v := range exact {
			for rk := range routingKeysUnderTest {
				if strings.EqualFold(k, rk) {
					t.Fatalf("forwarded routing key %q for a user: %q", k, body)
				}
			}
			if meta, ok := v.(map[string]any); ok && strings.EqualFold(k, "metadata") {
				for mk := range meta {
					if strings.EqualFold(mk, "tags") {
						t.Fatalf("forwarded metadata.%s for a user: %q", mk, body)
					}
				}
			}
		}
	})
}
