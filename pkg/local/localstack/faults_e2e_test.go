package localstack_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/llmgw/apitokens/pkg/local/devoidc"
	"github.com/llmgw/apitokens/pkg/local/dynamolocal"
	"github.com/llmgw/apitokens/pkg/local/dynamolocal/dltest"
	"github.com/llmgw/apitokens/pkg/local/localstack"
)

// envIssuer makes this test binary, re-executed, serve only a development
// OIDC issuer: a process of its own that a test can pause with SIGSTOP. It
// listens on a port of its own choosing and prints its address as the first
// line of its output (choosing a port for it beforehand would race with
// every other test binary on the machine).
const envIssuer = "LOCALSTACK_TEST_ISSUER"

func init() {
	if os.Getenv(envIssuer) == "" {
		return
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	addr := ln.Addr().String()
	iss, err := devoidc.New(devoidc.Options{IssuerURL: "http://" + addr + localstack.IssuerPath, Audience: localstack.DefaultClientID, GroupsClaim: "groups"})
	if err != nil {
		panic(err)
	}
	fmt.Println(addr)
	srv := &http.Server{Handler: iss, ReadHeaderTimeout: 5 * time.Second}
	if err := srv.Serve(ln); err != nil {
		panic(err)
	}
	os.Exit(0)
}

// faultBound is far above every deadline on the path (3 s per DynamoDB
// request, 5 s per issuer request) and far below "hangs": a call that takes
// longer is a hang, whatever it answers.
const faultBound = 20 * time.Second

// timed sends one request and fails the test if it takes faultBound or
// more; it returns the status and how long it took.
func timed(t *testing.T, c *client, method, path, body string, headers ...string) (int, time.Duration) {
	t.Helper()
	start := time.Now()
	a := c.do(method, path, body, headers...)
	d := time.Since(start)
	if d >= faultBound {
		t.Fatalf("%s %s took %v: a dependency that does not answer must not hang the call", method, path, d)
	}
	return a.status, d
}

// eventually retries until the call answers want, for up to 30 s.
func eventually(t *testing.T, c *client, want int, method, path, body string, headers ...string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		a := c.do(method, path, body, headers...)
		if a.status == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s %s still answers %d after the dependency returned: %s", method, path, a.status, a.raw)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// signal sends sig to pid. For SIGSTOP it also waits until the process
// has stopped: kill returns when the signal is queued, and a process still
// running on the other core could answer one more request.
func signal(t *testing.T, pid int, sig syscall.Signal) {
	t.Helper()
	if err := syscall.Kill(pid, sig); err != nil {
		t.Fatalf("kill -%v %d: %v", sig, pid, err)
	}
	if sig != syscall.SIGSTOP {
		return
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			t.Fatalf("process %d: %v", pid, err)
		}
		// The state follows the parenthesised command name.
		if f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:])); len(f) > 0 && f[0] == "T" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("process %d did not stop", pid)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// With DynamoDB Local frozen, every path answers an error within the
// bound (never an Allow), and works again once it thaws.
func TestFrozenDynamoDBFailsClosedFast(t *testing.T) {
	dltest.Client(t) // skip or fail as every DynamoDB test does without Java or npm
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ddb, err := dynamolocal.Start(ctx, dynamolocal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = syscall.Kill(ddb.PID(), syscall.SIGCONT)
		_ = ddb.Stop()
	})
	s := startStack(t, map[string]string{"DYNAMODB_ENDPOINT": ddb.Endpoint(), "TOKEN_CACHE_SECONDS": "0"})
	c := newClient(t, s)
	admin := c.jwt("admin", "lisa-admins", "lisa-users")
	tok := c.want(c.do("POST", "/api-tokens/alice", `{"name":"a","groups":["lisa-api-users"]}`, bearer(admin)...), 201).str("token")
	c.want(c.do("GET", "/v2/serve/models", "", bearer(tok)...), 200)

	signal(t, ddb.PID(), syscall.SIGSTOP)
	for _, tc := range []struct {
		name, method, path, body string
		headers                  []string
		want                     int
	}{
		{"authorizer reading a token", "GET", "/api-tokens/", "", bearer(tok), 500},
		{"list with a JWT", "GET", "/api-tokens/", "", bearer(admin), 503},
		{"create with a JWT", "POST", "/api-tokens/bob", `{"name":"b"}`, bearer(admin), 503},
		{"serve reading a token", "GET", "/v2/serve/models", "", bearer(tok), 503},
	} {
		status, d := timed(t, c, tc.method, tc.path, tc.body, tc.headers...)
		t.Logf("%s with DynamoDB frozen: %d after %v", tc.name, status, d.Round(time.Millisecond))
		if status != tc.want {
			t.Errorf("%s: status %d, want %d", tc.name, status, tc.want)
		}
	}

	signal(t, ddb.PID(), syscall.SIGCONT)
	eventually(t, c, 200, "GET", "/api-tokens/", "", bearer(tok)...)
	eventually(t, c, 200, "GET", "/v2/serve/models", "", bearer(tok)...)
	c.want(c.do("POST", "/api-tokens/bob", `{"name":"b"}`, bearer(admin)...), 201)
}

// With the OIDC issuer frozen before any key was fetched, JWT calls on
// both paths fail closed within the bound; API tokens keep working (they
// need no issuer); once the issuer thaws, JWTs work again by themselves.
func TestFrozenIssuerFailsClosedFast(t *testing.T) {
	dltest.Client(t)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envIssuer+"=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGCONT)
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("the issuer process did not say where it listens: %v", err)
	}
	addr := strings.TrimSpace(line)
	issuer := "http://" + addr + localstack.IssuerPath
	ic := &client{t: t, base: "http://" + addr, http: &http.Client{Timeout: 10 * time.Second}}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if resp, err := http.Get(issuer + "/.well-known/openid-configuration"); err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the issuer process did not start")
		}
		time.Sleep(100 * time.Millisecond)
	}

	s := startStack(t, map[string]string{"AUTHORITY": issuer})
	c := newClient(t, s)
	admin := ic.jwt("admin", "lisa-admins", "lisa-users")
	// An API token made while the issuer answers; then freeze it before
	// the serve path has fetched any key.
	tok := c.want(c.do("POST", "/api-tokens/alice", `{"name":"a","groups":["lisa-api-users"]}`, bearer(admin)...), 201).str("token")

	signal(t, cmd.Process.Pid, syscall.SIGSTOP)
	status, d := timed(t, c, "GET", "/v2/serve/models", "", bearer(admin)...)
	t.Logf("serve with a JWT, issuer frozen: %d after %v", status, d.Round(time.Millisecond))
	if status != 503 {
		t.Errorf("serve with a JWT: status %d, want 503", status)
	}
	status, d = timed(t, c, "GET", "/v2/serve/models", "", bearer(admin)...)
	t.Logf("serve with a JWT again, issuer frozen: %d after %v", status, d.Round(time.Millisecond))
	if status != 503 {
		t.Errorf("serve with a JWT, again: status %d, want 503", status)
	}
	c.want(c.do("GET", "/v2/serve/models", "", bearer(tok)...), 200)
	c.want(c.do("GET", "/api-tokens/", "", bearer(tok)...), 200)

	signal(t, cmd.Process.Pid, syscall.SIGCONT)
	eventually(t, c, 200, "GET", "/v2/serve/models", "", bearer(admin)...)
}
