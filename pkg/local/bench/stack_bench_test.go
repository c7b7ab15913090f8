package bench_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"testing"

	"github.com/llmgw/apitokens/pkg/config"
	"github.com/llmgw/apitokens/pkg/local/bench"
	"github.com/llmgw/apitokens/pkg/local/localstack"
	"github.com/llmgw/apitokens/pkg/local/localstack/stacktest"
)

// stack is a local stack on a free loopback port, against this binary's
// DynamoDB Local, with its own table, driven over HTTP like any client.
type stack struct {
	*localstack.Stack
	client *http.Client
	admin  string // an admin's JWT from the development issuer
}

// startStack starts a local stack; env overrides its environment (for
// example TOKEN_CACHE_SECONDS). Usage tracking is off unless env turns it
// on: a figure measures one cost, and the usage write of every model call
// is figure 10's. It is closed when b ends.
func startStack(b *testing.B, env map[string]string) *stack {
	b.Helper()
	env = maps.Clone(env)
	if _, ok := env[config.EnvUsageTracking]; !ok {
		if env == nil {
			env = map[string]string{}
		}
		env[config.EnvUsageTracking] = "false"
	}
	s := stacktest.Start(b, "bench", env)
	st := &stack{Stack: s, client: bench.NewClient(64)}
	b.Cleanup(func() {
		// A graceful shutdown waits up to 5 s for a connection that was
		// opened but never used: close the load's idle ones first (the
		// stack closes its own to the upstream).
		st.client.CloseIdleConnections()
		// Not a failure of the figures, which are already reported.
		if err := s.Close(); err != nil {
			progress("warning: closing the local stack: %v", err)
		}
	})
	st.admin = st.jwt(b, "bench-admin", "lisa-admins", "lisa-users")
	return st
}

// jwt gets an ID token from the stack's development issuer.
func (s *stack) jwt(b *testing.B, username string, groups ...string) string {
	b.Helper()
	var out struct {
		IDToken string `json:"id_token"`
	}
	s.call(b, http.MethodPost, localstack.IssuerPath+"/token", "", map[string]any{"username": username, "groups": groups, "expiresIn": 3600}, http.StatusOK, &out)
	return out.IDToken
}

// createToken has the admin create a token for username and returns the
// secret.
func (s *stack) createToken(b *testing.B, username string, groups ...string) string {
	b.Helper()
	if groups == nil {
		groups = []string{}
	}
	var out struct {
		Token string `json:"token"`
	}
	s.call(b, http.MethodPost, "/api-tokens/"+username, s.admin, map[string]any{"name": "bench", "groups": groups}, http.StatusCreated, &out)
	return out.Token
}

// call sends one JSON request and decodes the answer into out.
func (s *stack) call(b *testing.B, method, path, bearer string, body any, want int, out any) {
	b.Helper()
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			b.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, s.URL+path, rd)
	if err != nil {
		b.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		b.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		b.Fatalf("%s %s: status %d, want %d: %s", method, path, resp.StatusCode, want, raw)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			b.Fatalf("%s %s: %v: %s", method, path, err, raw)
		}
	}
}

// newRequest builds a request with an optional body and bearer credential.
func newRequest(method, url, bearer string, body []byte) (*http.Request, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	return req, nil
}

// users names n distinct users.
func users(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s-%05d", prefix, i)
	}
	return out
}
