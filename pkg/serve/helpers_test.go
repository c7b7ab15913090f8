package serve_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/llmgw/apitokens/pkg/apierr"
	"github.com/llmgw/apitokens/pkg/auth"
	"github.com/llmgw/apitokens/pkg/internal/syncbuf"
	"github.com/llmgw/apitokens/pkg/local/devupstream"
	"github.com/llmgw/apitokens/pkg/serve"
)

// Test credentials of the stub authenticator, and the upstream's own key.
const (
	userToken   = "user-token-0123456789"
	adminToken  = "admin-token-0123456789"
	teamToken   = "team-token-0123456789"
	downToken   = "down-token-0123456789" // the decision core's store is unreachable
	upstreamKey = "upstream-secret-0123456789"
)

var principals = map[string]auth.Principal{
	userToken:  {Username: "alice", Groups: []string{"lisa-users", "lisa-api-users"}, AuthType: auth.AuthAPIToken, TokenUUID: "11111111-1111-4111-8111-111111111111", IsAPIUser: true},
	adminToken: {Username: "root", Groups: []string{"lisa-admins"}, AuthType: auth.AuthAPIToken, TokenUUID: "22222222-2222-4222-8222-222222222222", IsAdmin: true, IsAPIUser: true},
	teamToken:  {Username: "bob", Groups: []string{"ml-team"}, AuthType: auth.AuthJWT},
}

// testPermissions restricts local-restricted to ml-team; admins see it as
// admins.
const testPermissions = `{"local-restricted": ["ml-team"]}`

// stubAuth maps the fixed test credentials to principals, with the real
// credential extraction. calls counts decisions.
func stubAuth(calls *atomic.Int64) auth.Authenticator {
	return auth.AuthenticatorFunc(func(_ context.Context, h http.Header) (auth.Principal, error) {
		if calls != nil {
			calls.Add(1)
		}
		cred, err := auth.Credential(h)
		if err != nil {
			return auth.Principal{}, err
		}
		if cred == downToken {
			return auth.Principal{}, apierr.Wrap(apierr.Unavailable, io.ErrUnexpectedEOF, "token store unavailable").WithCode("store_unavailable")
		}
		p, ok := principals[cred]
		if !ok {
			return auth.Principal{}, apierr.New(apierr.Unauthenticated, "unknown or revoked token").WithCode("unknown_token")
		}
		return p, nil
	})
}

type testEnv struct {
	up     *devupstream.Server
	upURL  string // the upstream's base URL, .../v1
	h      *serve.Handler
	srv    *httptest.Server
	auths  *atomic.Int64
	logs   *syncbuf.Buffer
	config serve.Config
}

// newEnv starts a development upstream that requires upstreamKey and a
// serve handler in front of it; mutate may adjust the configuration.
func newEnv(t *testing.T, mutate func(*serve.Config)) *testEnv {
	t.Helper()
	up := devupstream.New(devupstream.Options{APIKey: upstreamKey})
	upSrv := httptest.NewServer(up)
	t.Cleanup(upSrv.Close)
	perms, err := serve.ParseModelPermissions(testPermissions)
	if err != nil {
		t.Fatal(err)
	}
	e := &testEnv{up: up, upURL: upSrv.URL + devupstream.BasePath, auths: &atomic.Int64{}, logs: &syncbuf.Buffer{}}
	cfg := serve.Config{
		UpstreamURL:      e.upURL,
		UpstreamKey:      upstreamKey,
		Timeout:          5 * time.Second,
		ModelPermissions: perms,
		Logger:           slog.New(slog.NewJSONHandler(e.logs, nil)),
	}
	if mutate != nil {
		mutate(&cfg)
	}
	e.config = cfg
	e.h, err = serve.New(cfg, stubAuth(e.auths))
	if err != nil {
		t.Fatalf("serve.New: %v", err)
	}
	e.srv = httptest.NewServer(e.h)
	t.Cleanup(e.srv.Close)
	return e
}

type result struct {
	status int
	header http.Header
	body   []byte
}

// errorBody decodes an OpenAI-shaped error, failing the test if the body
// does not have that shape.
func (r result) errorBody(t *testing.T) serve.ErrorDetail {
	t.Helper()
	var raw map[string]map[string]any
	if err := json.Unmarshal(r.body, &raw); err != nil {
		t.Fatalf("error body is not JSON: %q", r.body)
	}
	for _, k := range []string{"message", "type", "param", "code"} {
		if _, ok := raw["error"][k]; !ok {
			t.Errorf("error body has no error.%s: %s", k, r.body)
		}
	}
	var e serve.ErrorResponse
	_ = json.Unmarshal(r.body, &e)
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("error Content-Type = %q", ct)
	}
	return e.Error
}

// call makes a real HTTP request to the serve handler; headers alternate
// names and values.
func (e *testEnv) call(t *testing.T, method, path, body string, headers ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var rb io.Reader
	if body != "" {
		rb = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, e.srv.URL+path, rb)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Add(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return result{status: resp.StatusCode, header: resp.Header, body: b}
}

func bearer(token string) []string { return []string{"Authorization", "Bearer " + token} }

func chatBody(model, content string, stream bool) string {
	b, _ := json.Marshal(map[string]any{
		"model":    model,
		"stream":   stream,
		"messages": []map[string]string{{"role": "user", "content": content}},
	})
	return string(b)
}

// msgs is a minimal valid chat conversation, to append to test bodies.
const msgs = `"messages":[{"role":"user","content":"hi"}]`

// wantRefused checks that r is an OpenAI-shaped refusal with the given
// status, code and param, and that the upstream saw nothing since before.
func (e *testEnv) wantRefused(t *testing.T, r result, before, status int, code, param string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status = %d, want %d: %s", r.status, status, r.body)
	}
	d := r.errorBody(t)
	if d.Code != code {
		t.Errorf("code = %q, want %q (%s)", d.Code, code, r.body)
	}
	if d.Param == nil || *d.Param != param {
		t.Errorf("param = %v, want %q (%s)", d.Param, param, r.body)
	}
	if n := e.up.Count() - before; n != 0 {
		t.Errorf("the upstream was called %d times for a refused call: %+v", n, e.up.Requests())
	}
}
