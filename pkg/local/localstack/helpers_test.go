package localstack_test

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/llmgw/apitokens/pkg/local/dynamolocal/dltest"
	"github.com/llmgw/apitokens/pkg/local/localstack"
	"github.com/llmgw/apitokens/pkg/local/localstack/stacktest"
)

func TestMain(m *testing.M) { os.Exit(dltest.Main(m)) }

// startStack starts a local stack on a free loopback port against the
// shared DynamoDB Local, with its own deployment name (so its own table).
// env overrides the stack's environment.
func startStack(t *testing.T, env map[string]string) *localstack.Stack {
	t.Helper()
	s := stacktest.Start(t, "e2e", env)
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close local stack: %v", err)
		}
	})
	return s
}

func uniqueName(t *testing.T) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return "e2e-" + hex.EncodeToString(b[:])
}

// client talks to the stack over real HTTP, as curl would.
type client struct {
	t    *testing.T
	base string
	http *http.Client
}

func newClient(t *testing.T, s *localstack.Stack) *client {
	c := &client{t: t, base: s.URL, http: &http.Client{Timeout: 30 * time.Second}}
	// Runs before the stack's Close (registered after it): a connection
	// dialled for a burst of calls but never used would otherwise hold a
	// graceful shutdown for its full grace time.
	t.Cleanup(c.http.CloseIdleConnections)
	return c
}

type answer struct {
	status int
	raw    string
	body   map[string]any
	header http.Header
}

func (a answer) str(k string) string { s, _ := a.body[k].(string); return s }

// do sends a request; headers are name/value pairs.
func (c *client) do(method, path, body string, headers ...string) answer {
	c.t.Helper()
	req, err := http.NewRequest(method, c.base+path, strings.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := c.http.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	a := answer{status: resp.StatusCode, raw: string(raw), header: resp.Header}
	_ = json.Unmarshal(raw, &a.body)
	return a
}

func (c *client) want(a answer, status int) answer {
	c.t.Helper()
	if a.status != status {
		c.t.Fatalf("status %d, want %d: %s", a.status, status, a.raw)
	}
	return a
}

// jwt gets an ID token from the development issuer.
func (c *client) jwt(username string, groups ...string) string {
	c.t.Helper()
	if groups == nil {
		groups = []string{}
	}
	b, _ := json.Marshal(map[string]any{"username": username, "groups": groups, "expiresIn": 3600})
	a := c.want(c.do("POST", localstack.IssuerPath+"/token", string(b)), 200)
	if a.str("token_type") != "Bearer" || a.str("id_token") == "" {
		c.t.Fatalf("token endpoint answered %s", a.raw)
	}
	return a.str("id_token")
}

func bearer(tok string) []string { return []string{"Authorization", "Bearer " + tok} }
