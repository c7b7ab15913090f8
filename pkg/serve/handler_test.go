package serve_test

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/llmgw/apitokens/pkg/albevent"
	"github.com/llmgw/apitokens/pkg/config"
	"github.com/llmgw/apitokens/pkg/local/devupstream"
	"github.com/llmgw/apitokens/pkg/serve"
)

func modelIDs(t *testing.T, body []byte) []string {
	t.Helper()
	var list struct {
		Object string `json:"object"`
		Data   []struct {
			ID     string `json:"id"`
			Object string `json:"object"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &list); err != nil || list.Object != "list" {
		t.Fatalf("not a model list: %q", body)
	}
	var ids []string
	for _, m := range list.Data {
		if m.Object != "model" {
			t.Errorf("model %q lost its fields: %q", m.ID, body)
		}
		ids = append(ids, m.ID)
	}
	return ids
}

func TestModelsListIsFilteredByPermission(t *testing.T) {
	e := newEnv(t, nil)
	tests := []struct {
		name  string
		token string
		want  []string
	}{
		{"user sees open models only", userToken, []string{devupstream.ModelEcho}},
		{"member of the model's group", teamToken, []string{devupstream.ModelEcho, devupstream.ModelRestricted}},
		{"admin sees every model", adminToken, []string{devupstream.ModelEcho, devupstream.ModelRestricted}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
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

func TestModelPermissionsOnCalls(t *testing.T) {
	e := newEnv(t, nil)
	tests := []struct {
		name, token, path, body string
		want                    int
	}{
		{"user, open model", userToken, "/v2/serve/chat/completions", chatBody("local-echo", "hi", false), 200},
		{"user, restricted model", userToken, "/v2/serve/chat/completions", chatBody("local-restricted", "hi", false), 403},
		{"user, restricted model spelled differently", userToken, "/v2/serve/chat/completions", chatBody(" Local-Restricted", "hi", false), 403},
		{"group member, restricted model", teamToken, "/v2/serve/chat/completions", chatBody("local-restricted", "hi", false), 200},
		{"admin, restricted model", adminToken, "/v2/serve/chat/completions", chatBody("local-restricted", "hi", false), 200},
		{"user, restricted completions", userToken, "/v2/serve/completions", `{"model":"local-restricted","prompt":"x"}`, 403},
		{"user, open completions", userToken, "/v2/serve/completions", `{"model":"local-echo","prompt":"x"}`, 200},
		{"user, restricted embeddings", userToken, "/v2/serve/embeddings", `{"model":"local-restricted","input":"x"}`, 403},
		{"admin, restricted embeddings", adminToken, "/v2/serve/embeddings", `{"model":"local-restricted","input":"x"}`, 200},
		{"user, one restricted model", userToken, "/v2/serve/models/local-restricted", "", 404},
		{"user, one open model", userToken, "/v2/serve/models/local-echo", "", 200},
		{"admin, one restricted model", adminToken, "/v2/serve/models/local-restricted", "", 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			method := "POST"
			if tt.body == "" {
				method = "GET"
			}
			before := e.up.Count()
			r := e.call(t, method, tt.path, tt.body, bearer(tt.token)...)
			if r.status != tt.want {
				t.Fatalf("status = %d, want %d: %s", r.status, tt.want, r.body)
			}
			forwarded := e.up.Count() - before
			if tt.want == 403 {
				d := r.errorBody(t)
				if d.Code != "model_not_allowed" || d.Type != serve.TypePermission || !strings.Contains(strings.ToLower(d.Message), "local-restricted") {
					t.Errorf("403 body = %+v, want code model_not_allowed naming the model", d)
				}
			}
			if (tt.want == 200) != (forwarded == 1) {
				t.Errorf("upstream calls = %d for status %d", forwarded, r.status)
			}
		})
	}
}

func TestUpstreamGetsItsOwnKeyNeverTheCallers(t *testing.T) {
	e := newEnv(t, nil)
	r := e.call(t, "POST", "/v2/serve/chat/completions?api_key="+userToken+"&api-version=1",
		chatBody("local-echo", "hello", false),
		"Api-Key", userToken,
		"Cookie", "session="+userToken,
		"X-Api-Key", userToken,
		"X-LiteLLM-Api-Key", userToken,
		"Proxy-Authorization", "Bearer "+userToken,
		"User-Agent", "test-agent/1",
	)
	if r.status != http.StatusOK {
		t.Fatalf("status = %d: %s", r.status, r.body)
	}
	reqs := e.up.Requests()
	if len(reqs) != 1 {
		t.Fatalf("upstream saw %d requests, want 1", len(reqs))
	}
	got := reqs[0]
	if got.Authorization != "Bearer "+upstreamKey {
		t.Errorf("upstream Authorization = %q, want the upstream key", got.Authorization)
	}
	if got.APIKey != "" || got.Cookie != "" || got.RawQuery != "" {
		t.Errorf("caller credentials reached the upstream: %+v", got)
	}
	if got.Path != "/v1/chat/completions" || got.Model != "local-echo" || got.ContentType != "application/json" {
		t.Errorf("upstream saw %+v", got)
	}
	if raw, _ := json.Marshal(reqs); strings.Contains(string(raw), userToken) {
		t.Errorf("the caller's token reached the upstream: %s", raw)
	}
	if !strings.Contains(string(r.body), `"content":"hello"`) {
		t.Errorf("answer does not echo the message: %s", r.body)
	}
	if r.header.Get("X-Request-Id") == "" || r.header.Get("Cache-Control") != "no-store" {
		t.Errorf("answer headers = %v", r.header)
	}
}

func TestUpstreamRefusingTheGatewayKeyIsABadGateway(t *testing.T) {
	e := newEnv(t, func(c *serve.Config) { c.UpstreamKey = "wrong-key" })
	r := e.call(t, "GET", "/v2/serve/models", "", bearer(userToken)...)
	if r.status != http.StatusBadGateway {
		t.Fatalf("status = %d, want 502 (the caller's key is fine): %s", r.status, r.body)
	}
	if d := r.errorBody(t); d.Code != "upstream_auth_failed" {
		t.Errorf("code = %q", d.Code)
	}
}

func TestUnauthenticatedCallsAreRefusedBeforeAnythingElse(t *testing.T) {
	e := newEnv(t, nil)
	tests := []struct {
		name    string
		method  string
		path    string
		headers []string
		code    string
	}{
		{"no credential", "GET", "/v2/serve/models", nil, "missing_credential"},
		{"unknown token", "GET", "/v2/serve/models", bearer("nope"), "invalid_api_key"},
		{"unknown token in Api-Key", "POST", "/v2/serve/chat/completions", []string{"Api-Key", "nope"}, "invalid_api_key"},
		{"unknown path", "GET", "/v2/serve/files", nil, "missing_credential"},
		{"wrong method", "DELETE", "/v2/serve/models", nil, "missing_credential"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.call(t, tt.method, tt.path, "", tt.headers...)
			if r.status != http.StatusUnauthorized {
				t.Fatalf("status = %d, want 401: %s", r.status, r.body)
			}
			d := r.errorBody(t)
			if d.Code != tt.code || d.Type != serve.TypeAuthentication || d.Message == "" {
				t.Errorf("401 body = %+v", d)
			}
			if r.header.Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
		})
	}
	if n := e.up.Count(); n != 0 {
		t.Errorf("upstream called %d times for refused calls", n)
	}
}

func TestDecisionCoreFailureFailsClosed(t *testing.T) {
	e := newEnv(t, nil)
	r := e.call(t, "POST", "/v2/serve/chat/completions", chatBody("local-echo", "x", false), bearer(downToken)...)
	if r.status != http.StatusServiceUnavailable {
		t.Fatalf("status = %d, want 503", r.status)
	}
	if d := r.errorBody(t); d.Type != serve.TypeAPI || d.Code != "store_unavailable" {
		t.Errorf("503 body = %+v", d)
	}
	if strings.Contains(string(r.body), "unexpected EOF") {
		t.Errorf("the cause leaked to the caller: %s", r.body)
	}
	if e.up.Count() != 0 {
		t.Error("forwarded without a decision")
	}
}

func TestEveryCallIsAuthorized(t *testing.T) {
	e := newEnv(t, nil)
	const n = 5
	for i := 0; i < n; i++ {
		e.call(t, "GET", "/v2/serve/models", "", bearer(userToken)...)
	}
	if got := e.auths.Load(); got != n {
		t.Errorf("%d calls made %d decisions", n, got)
	}
}

func TestRequestErrors(t *testing.T) {
	e := newEnv(t, func(c *serve.Config) { c.MaxRequestBytes = 1024 })
	big := chatBody("local-echo", strings.Repeat("x", 2000), false)
	tests := []struct {
		name, method, path, body string
		want                     int
		code                     string
	}{
		{"not JSON", "POST", "/v2/serve/chat/completions", "{not json", 400, "invalid_json"},
		{"JSON array", "POST", "/v2/serve/chat/completions", `[{"model":"local-echo"}]`, 400, "invalid_json"},
		{"no model", "POST", "/v2/serve/chat/completions", `{"messages":[]}`, 400, "missing_model"},
		{"null model", "POST", "/v2/serve/embeddings", `{"model":null,"input":"x"}`, 400, "missing_model"},
		{"empty model", "POST", "/v2/serve/completions", `{"model":"  ","prompt":"x"}`, 400, "missing_model"},
		{"model not a string", "POST", "/v2/serve/chat/completions", `{"model":42}`, 400, "invalid_model"},
		{"body over the limit", "POST", "/v2/serve/chat/completions", big, 413, "request_too_large"},
		{"unknown endpoint", "POST", "/v2/serve/files", `{}`, 404, "unknown_url"},
		{"upstream admin endpoint", "POST", "/v2/serve/key/generate", `{}`, 404, "unknown_url"},
		{"dot segments", "GET", "/v2/serve/models/../key/info", "", 404, "unknown_url"},
		{"encoded dot segments", "GET", "/v2/serve/models/%2e%2e/key/info", "", 404, "unknown_url"},
		{"empty segment", "GET", "/v2/serve//models", "", 404, "unknown_url"},
		{"wrong method", "GET", "/v2/serve/chat/completions", "", 405, "method_not_allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.call(t, tt.method, tt.path, tt.body, bearer(userToken)...)
			if r.status != tt.want {
				t.Fatalf("status = %d, want %d: %s", r.status, tt.want, r.body)
			}
			if d := r.errorBody(t); d.Code != tt.code || d.Type != serve.TypeInvalidRequest {
				t.Errorf("body = %+v, want code %q of type %s", d, tt.code, serve.TypeInvalidRequest)
			}
		})
	}
	if e.up.Count() != 0 {
		t.Errorf("upstream called %d times for refused requests", e.up.Count())
	}
}

func TestUpstreamDownIsBadGateway(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens here now: connections are refused
	e := newEnv(t, func(c *serve.Config) { c.UpstreamURL = "http://" + addr + "/v1" })
	start := time.Now()
	r := e.call(t, "POST", "/v2/serve/chat/completions", chatBody("local-echo", "x", false), bearer(userToken)...)
	if r.status != http.StatusBadGateway {
		t.Fatalf("status = %d, want 502: %s", r.status, r.body)
	}
	if d := r.errorBody(t); d.Code != "upstream_unavailable" || d.Type != serve.TypeAPI {
		t.Errorf("body = %+v", d)
	}
	if strings.Contains(string(r.body), addr) {
		t.Errorf("the upstream address leaked: %s", r.body)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("took %s", d)
	}
}

func TestSlowUpstreamIsGatewayTimeout(t *testing.T) {
	tests := []struct {
		name     string
		timeout  time.Duration
		deadline time.Duration // of the request context (the Lambda's), 0 for none
	}{
		{"configured timeout", 200 * time.Millisecond, 0},
		{"shortened to the Lambda deadline", time.Minute, 800 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, func(c *serve.Config) { c.Timeout = tt.timeout })
			e.up.SetKnobs(devupstream.Knobs{Delay: 10 * time.Second})
			req := httptest.NewRequest("POST", "/v2/serve/chat/completions", strings.NewReader(chatBody("local-echo", "x", false)))
			req.Header.Set("Authorization", "Bearer "+userToken)
			if tt.deadline > 0 {
				ctx, cancel := context.WithTimeout(req.Context(), tt.deadline)
				defer cancel()
				req = req.WithContext(ctx)
			}
			w := httptest.NewRecorder()
			start := time.Now()
			e.h.ServeHTTP(w, req)
			took := time.Since(start)
			if w.Code != http.StatusGatewayTimeout {
				t.Fatalf("status = %d, want 504: %s", w.Code, w.Body)
			}
			if d := (result{status: w.Code, header: w.Header(), body: w.Body.Bytes()}).errorBody(t); d.Code != "upstream_timeout" {
				t.Errorf("body = %+v", d)
			}
			if took > 2*time.Second {
				t.Errorf("took %s; the timeout did not hold", took)
			}
		})
	}
}

func TestLargeUpstreamAnswersAreRefusedNotTruncated(t *testing.T) {
	tests := []struct {
		name   string
		pad    int
		prompt string
		want   int
	}{
		{"well under the limit", 500_000, "x", 200},
		{"over the limit", 1_100_000, "x", 502},
		// The body is under 1 MB but its ALB encoding is not: every quote
		// is escaped in the upstream's JSON and again in the ALB's.
		{"under the limit, encoded over it", 0, strings.Repeat(`"`, 450_000), 502},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, nil)
			e.up.SetKnobs(devupstream.Knobs{PadBytes: tt.pad})
			r := e.call(t, "POST", "/v2/serve/chat/completions", chatBody("local-echo", tt.prompt, false), bearer(userToken)...)
			if r.status != tt.want {
				t.Fatalf("status = %d, want %d (%d bytes)", r.status, tt.want, len(r.body))
			}
			if tt.want == 502 {
				d := r.errorBody(t)
				if d.Code != "upstream_response_too_large" || d.Message != "upstream response exceeds the 1 MB ALB limit" {
					t.Errorf("body = %+v", d)
				}
				return
			}
			if size := albevent.ResponseSize(r.status, r.header, r.body); size > albevent.MaxResponseBytes {
				t.Errorf("answer of %d encoded bytes passed", size)
			}
		})
	}
}

func TestStreamedChatIsRelayedWhole(t *testing.T) {
	e := newEnv(t, nil)
	r := e.call(t, "POST", "/v2/serve/chat/completions", chatBody("local-echo", "one two three", true), bearer(userToken)...)
	if r.status != http.StatusOK || r.header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("status = %d, Content-Type %q", r.status, r.header.Get("Content-Type"))
	}
	events := strings.Split(strings.TrimSuffix(string(r.body), "\n\n"), "\n\n")
	if last := events[len(events)-1]; last != "data: [DONE]" {
		t.Fatalf("stream does not end with [DONE]: %q", last)
	}
	var text strings.Builder
	for _, ev := range events[:len(events)-1] {
		var chunk struct {
			Object  string `json:"object"`
			Choices []struct {
				Delta struct {
					Content string `json:"content"`
				} `json:"delta"`
			} `json:"choices"`
		}
		if err := json.Unmarshal([]byte(strings.TrimPrefix(ev, "data: ")), &chunk); err != nil || chunk.Object != "chat.completion.chunk" {
			t.Fatalf("bad chunk %q: %v", ev, err)
		}
		for _, c := range chunk.Choices {
			text.WriteString(c.Delta.Content)
		}
	}
	if text.String() != "one two three" {
		t.Errorf("streamed text = %q", text.String())
	}
	if reqs := e.up.Requests(); len(reqs) != 1 || !reqs[0].Stream {
		t.Errorf("upstream saw %+v", reqs)
	}
}

func TestUpstreamErrorsAreRelayed(t *testing.T) {
	e := newEnv(t, nil)
	r := e.call(t, "POST", "/v2/serve/chat/completions", chatBody("no-such-model", "x", false), bearer(userToken)...)
	if r.status != http.StatusNotFound {
		t.Fatalf("unlisted model: status = %d, want the upstream's 404", r.status)
	}
	if d := r.errorBody(t); d.Code != "model_not_found" {
		t.Errorf("body = %+v", d)
	}
	e.up.SetKnobs(devupstream.Knobs{FailStatus: http.StatusTooManyRequests})
	r = e.call(t, "GET", "/v2/serve/models", "", bearer(userToken)...)
	if r.status != http.StatusTooManyRequests {
		t.Fatalf("status = %d, want the upstream's 429", r.status)
	}
}

func TestLogsNameTheCallerNeverTheCredential(t *testing.T) {
	e := newEnv(t, nil)
	e.call(t, "POST", "/v2/serve/chat/completions", chatBody("local-echo", "x", false), bearer(userToken)...)
	e.call(t, "POST", "/v2/serve/chat/completions", chatBody("local-restricted", "x", false), "Api-Key", userToken)
	e.call(t, "GET", "/v2/serve/models", "", bearer("wrong-"+userToken)...)
	// The server may finish logging just after the client has its answer.
	deadline := time.Now().Add(2 * time.Second)
	for strings.Count(e.logs.String(), "\n") < 3 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	logs := e.logs.String()
	for _, secret := range []string{userToken, upstreamKey} {
		if strings.Contains(logs, secret) {
			t.Errorf("logs contain a secret:\n%s", logs)
		}
	}
	lines := strings.Split(strings.TrimSpace(logs), "\n")
	if len(lines) != 3 {
		t.Fatalf("want one line per request, got:\n%s", logs)
	}
	var first map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &first); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]any{"username": "alice", "tokenUUID": principals[userToken].TokenUUID, "model": "local-echo", "status": 200.0, "upstreamStatus": 200.0} {
		if first[k] != want {
			t.Errorf("log %s = %v, want %v (line %s)", k, first[k], want, lines[0])
		}
	}
	for _, k := range []string{"requestId", "durationMs"} {
		if _, ok := first[k]; !ok {
			t.Errorf("log has no %s: %s", k, lines[0])
		}
	}
	if !strings.Contains(lines[1], `"reason":"model_not_allowed"`) || !strings.Contains(lines[2], `"reason":"unknown_token"`) {
		t.Errorf("refusals should log their reason:\n%s", logs)
	}
}

func TestNewRefusesUnusableConfig(t *testing.T) {
	authn := stubAuth(nil)
	tests := map[string]serve.Config{
		"no upstream":             {},
		"relative upstream":       {UpstreamURL: "/v1"},
		"other scheme":            {UpstreamURL: "ftp://host/v1"},
		"credentials in the URL":  {UpstreamURL: "http://user:pass@host/v1"},
		"query in the URL":        {UpstreamURL: "http://host/v1?key=x"},
		"negative timeout":        {UpstreamURL: "https://host/v1", Timeout: -1},
		"ambiguous model ids":     {UpstreamURL: "https://host/v1", ModelPermissions: map[string][]string{"A": {"g"}, "a": {"h"}}},
		"negative response limit": {UpstreamURL: "https://host/v1", MaxResponseBytes: -1},
	}
	for name, cfg := range tests {
		t.Run(name, func(t *testing.T) {
			if _, err := serve.New(cfg, authn); err == nil {
				t.Fatal("want an error")
			}
		})
	}
	if _, err := serve.New(serve.Config{UpstreamURL: "https://host/v1"}, nil); err == nil {
		t.Error("no authenticator: want an error")
	}
}

// The serve function applies the same clear-text rule as synth: a plain
// http upstream must be loopback unless explicitly allowed.
func TestPlainHTTPUpstreamNeedsLoopbackOrConsent(t *testing.T) {
	authn := stubAuth(nil)
	for url, ok := range map[string]bool{
		"http://litellm:4000/v1":          false,
		"http://10.0.0.5/v1":              false,
		"http://localhost.example.com/v1": false,
		"http://127.0.0.1.nip.io/v1":      false,
		"http://127.0.0.1:4000/v1":        true,
		"http://127.9.9.9/v1":             true,
		"http://[::1]:4000/v1":            true,
		"http://LocalHost:4000/v1":        true,
		"https://litellm:4000/v1":         true,
	} {
		_, err := serve.New(serve.Config{UpstreamURL: url}, authn)
		if (err == nil) != ok {
			t.Errorf("%s: err = %v, want ok=%v", url, err, ok)
		}
		if err != nil && !strings.Contains(err.Error(), "clear text") {
			t.Errorf("%s: %v does not say why", url, err)
		}
		if _, err := serve.New(serve.Config{UpstreamURL: url, AllowInsecureUpstream: true}, authn); err != nil {
			t.Errorf("%s allowed explicitly: %v", url, err)
		}
		if err := serve.CheckUpstreamURL(url, false); (err == nil) != ok {
			t.Errorf("CheckUpstreamURL(%s) = %v, want ok=%v", url, err, ok)
		}
	}
	env := map[string]string{config.EnvServeUpstreamURL: "http://litellm:4000/v1", config.EnvServeAllowInsecure: "true"}
	c, err := config.Load(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	sc, err := serve.FromConfig(c)
	if err != nil || !sc.AllowInsecureUpstream {
		t.Fatalf("SERVE_ALLOW_INSECURE_UPSTREAM=true: %+v, %v", sc, err)
	}
}

func TestParseModelPermissions(t *testing.T) {
	tests := []struct {
		in      string
		want    map[string][]string
		wantErr bool
	}{
		{"", map[string][]string{}, false},
		{`{}`, map[string][]string{}, false},
		{`{"local-restricted": ["lisa-admins"]}`, map[string][]string{"local-restricted": {"lisa-admins"}}, false},
		{`{"admin-only": []}`, map[string][]string{"admin-only": {}}, false},
		{`{"m": "lisa-admins"}`, nil, true},
		{`{"m": null}`, nil, true},
		{`{"m": [""]}`, nil, true},
		{`{"": ["g"]}`, nil, true},
		{`["m"]`, nil, true},
		{`null`, nil, true},
		{`{"m": ["g"]} trailing`, nil, true},
		{`{"m": ["g"]`, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := serve.ParseModelPermissions(tt.in)
			if tt.wantErr {
				if err == nil || !strings.Contains(err.Error(), config.EnvModelPermissions) {
					t.Fatalf("err = %v, want an error naming %s", err, config.EnvModelPermissions)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
			for k, v := range tt.want {
				if !slices.Equal(got[k], v) {
					t.Errorf("%q: got %v, want %v", k, got[k], v)
				}
			}
		})
	}
}

func TestFromConfig(t *testing.T) {
	env := map[string]string{
		config.EnvServeUpstreamURL:    "https://litellm:4000/v1/",
		config.EnvServeUpstreamKey:    "k",
		config.EnvServeTimeoutSeconds: "7",
		config.EnvModelPermissions:    devupstream.DefaultModelPermissions,
		config.EnvAdminGroup:          "lisa-admins",
	}
	c, err := config.Load(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	sc, err := serve.FromConfig(c)
	if err != nil {
		t.Fatal(err)
	}
	if sc.UpstreamURL != "https://litellm:4000/v1" || sc.UpstreamKey != "k" || sc.Timeout != 7*time.Second ||
		sc.AllowInsecureUpstream || !slices.Equal(sc.ModelPermissions["local-restricted"], []string{"lisa-admins"}) {
		t.Errorf("FromConfig = %+v", sc)
	}
	if sc.Stream {
		t.Error("Stream is on in the default (lambda) mode")
	}
	env[config.EnvServeMode] = config.ServeModeContainer
	c, _ = config.Load(func(k string) string { return env[k] })
	if sc, err = serve.FromConfig(c); err != nil || !sc.Stream {
		t.Errorf("container mode: Stream = %v, %v", sc.Stream, err)
	}
	env[config.EnvModelPermissions] = "{oops"
	c, _ = config.Load(func(k string) string { return env[k] })
	if _, err := serve.FromConfig(c); err == nil || !strings.Contains(err.Error(), config.EnvModelPermissions) {
		t.Errorf("invalid MODEL_PERMISSIONS: err = %v", err)
	}
}
