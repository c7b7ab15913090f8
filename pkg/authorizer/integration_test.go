package authorizer_test

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/llmgw/apitokens/pkg/auth"
	"github.com/llmgw/apitokens/pkg/authorizer"
	"github.com/llmgw/apitokens/pkg/internal/syncbuf"
	"github.com/llmgw/apitokens/pkg/internal/testclock"
	"github.com/llmgw/apitokens/pkg/local/devoidc"
	"github.com/llmgw/apitokens/pkg/local/dynamolocal"
	"github.com/llmgw/apitokens/pkg/local/dynamolocal/dltest"
	"github.com/llmgw/apitokens/pkg/oidc"
	"github.com/llmgw/apitokens/pkg/secret"
	"github.com/llmgw/apitokens/pkg/store"
	"github.com/llmgw/apitokens/pkg/store/dynamostore"
	"github.com/llmgw/apitokens/pkg/store/dynamostore/dynamotest"
)

func TestMain(m *testing.M) { os.Exit(dltest.Main(m)) }

// rig is the real authorizer: decision core over DynamoDB Local and a real
// OIDC issuer on loopback, with an injected clock.
type rig struct {
	h      authorizer.Handler
	st     *dynamotest.Store
	reads  *dynamotest.Counting
	issuer *devoidc.Issuer
	clock  *testclock.Clock
	logs   *syncbuf.Buffer
}

const ttl = 5 * time.Second

func newRig(t *testing.T, userGroup string, api dynamostore.API) *rig {
	t.Helper()
	issuer, srv, err := devoidc.NewTestServer(devoidc.Options{Audience: "lisa-local", GroupsClaim: "cognito:groups"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	r := &rig{issuer: issuer, clock: testclock.New(time.Now()), logs: &syncbuf.Buffer{}}
	logger := slog.New(slog.NewJSONHandler(r.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	table := "unused"
	if api == nil {
		client := dltest.Client(t)
		api = client
		table = dltest.TokenTable(t, client)
	}
	r.reads = dynamotest.NewCounting(api)
	r.st = dynamotest.New(r.reads, table)
	v, err := oidc.New(context.Background(), oidc.Config{
		Issuer: issuer.URL(), Audience: "lisa-local", GroupsClaim: "cognito:groups",
		Now: r.clock.Now, Logger: logger, RefreshUnknownKIDInterval: time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	core := auth.NewCore(auth.Options{
		Tokens: r.st, JWT: v, CacheTTL: ttl, Now: r.clock.Now, Logger: logger,
		Groups: auth.Groups{Admin: "lisa-admins", User: userGroup, API: "lisa-api-users"},
	})
	r.h = authorizer.New(core, logger)
	return r
}

// outcome is one authorizer answer.
type outcome struct {
	resp events.APIGatewayCustomAuthorizerResponse
	err  error
}

func (r *rig) call(t *testing.T, kv ...string) outcome {
	t.Helper()
	ev := loadEvent(t)
	setHeaders(&ev, kv...)
	resp, err := r.h(context.Background(), ev)
	return outcome{resp, err}
}

func (r *rig) token(t *testing.T, username string, groups []string, expiresIn time.Duration) (string, store.Token) {
	t.Helper()
	s, err := secret.Generate(nil)
	if err != nil {
		t.Fatal(err)
	}
	tk := store.Token{
		Hash: secret.Hash(s), UUID: "6a1f0c2e-6a43-4d0e-9b6e-" + secret.Hash(s)[:12], Username: username, CreatedBy: "admin",
		CreatedDate: r.clock.Now().Unix(), Expiration: r.clock.Now().Add(expiresIn).Unix(), Name: "n", Groups: groups, IsSystem: true,
	}
	if err := r.st.Create(context.Background(), tk); err != nil {
		t.Fatal(err)
	}
	return s, tk
}

func allowed(t *testing.T, o outcome) auth.Principal {
	t.Helper()
	resp, err := o.resp, o.err
	if err != nil {
		t.Fatalf("refused: %v", err)
	}
	if len(resp.PolicyDocument.Statement) != 1 || resp.PolicyDocument.Statement[0].Effect != "Allow" {
		t.Fatalf("policy = %+v", resp.PolicyDocument)
	}
	p, err := auth.PrincipalFromContext(resp.Context)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func unauthorized(t *testing.T, o outcome) {
	t.Helper()
	resp, err := o.resp, o.err
	if !errors.Is(err, authorizer.ErrUnauthorized) || len(resp.PolicyDocument.Statement) != 0 {
		t.Fatalf("want Unauthorized and no policy, got %+v, %v", resp.PolicyDocument, err)
	}
}

func failedClosed(t *testing.T, o outcome) {
	t.Helper()
	resp, err := o.resp, o.err
	if err == nil || errors.Is(err, authorizer.ErrUnauthorized) || len(resp.PolicyDocument.Statement) != 0 {
		t.Fatalf("want a non-Unauthorized error (500) and no policy, got %+v, %v", resp.PolicyDocument, err)
	}
}

func TestAPITokensAgainstDynamoDBLocal(t *testing.T) {
	r := newRig(t, "", nil)
	good, tk := r.token(t, "ci-bot", []string{"ci", "lisa-api-users"}, time.Hour)

	t.Run("valid token: allow with stored groups", func(t *testing.T) {
		p := allowed(t, r.call(t, "Authorization", "Bearer "+good))
		if p.Username != "ci-bot" || p.TokenUUID != tk.UUID || strings.Join(p.Groups, ",") != "ci,lisa-api-users" || !p.IsAPIUser || p.AuthType != auth.AuthAPIToken {
			t.Fatalf("principal = %+v", p)
		}
	})
	t.Run("expired at tokenExpiration", func(t *testing.T) {
		s, _ := r.token(t, "short", nil, 10*time.Second)
		allowed(t, r.call(t, "Api-Key", s))
		r.clock.Add(10 * time.Second)
		unauthorized(t, r.call(t, "Api-Key", s))
	})
	t.Run("deleted: refused once the cache TTL has passed", func(t *testing.T) {
		s, dtk := r.token(t, "gone", nil, time.Hour)
		allowed(t, r.call(t, "Api-Key", s))
		if err := r.st.Delete(context.Background(), dtk); err != nil {
			t.Fatal(err)
		}
		allowed(t, r.call(t, "Api-Key", s)) // within the documented bound
		r.clock.Add(ttl)
		unauthorized(t, r.call(t, "Api-Key", s))
	})
	t.Run("legacy items are refused though their value is in the table", func(t *testing.T) {
		for _, v := range []string{"YOUR_STRING_HERE", strings.Repeat("9f", 64)} {
			if err := r.st.PutLegacy(context.Background(), v, r.clock.Now().Add(time.Hour).Unix()); err != nil {
				t.Fatal(err)
			}
			unauthorized(t, r.call(t, "Authorization", "Bearer "+v))
			unauthorized(t, r.call(t, "Api-Key", v))
		}
	})
	t.Run("damaged tokens cost no read", func(t *testing.T) {
		before := r.reads.Counts()["GetItem"]
		for _, bad := range []string{good[:127], good[:64] + " " + good[65:], good + "0", " " + good[:127], "\t"} {
			unauthorized(t, r.call(t, "Api-Key", bad))
		}
		if n := r.reads.Counts()["GetItem"] - before; n != 0 {
			t.Fatalf("%d GetItem calls for malformed tokens, want 0", n)
		}
	})
	t.Run("one strongly consistent read per uncached decision", func(t *testing.T) {
		r.clock.Add(ttl) // expire cache entries
		before := r.reads.Counts()["GetItem"]
		allowed(t, r.call(t, "Api-Key", good))
		allowed(t, r.call(t, "Api-Key", good))
		if n := r.reads.Counts()["GetItem"] - before; n != 1 {
			t.Fatalf("%d GetItem calls, want 1 (then cached)", n)
		}
	})
	t.Run("no secret in the logs", func(t *testing.T) {
		if strings.Contains(r.logs.String(), good) || strings.Contains(r.logs.String(), good[:127]) {
			t.Fatal("a token appears in the logs")
		}
		if !strings.Contains(r.logs.String(), `"reason":"malformed_token"`) {
			t.Fatalf("refusals are not logged with a reason code:\n%s", r.logs.String())
		}
	})
}

func TestJWTsThroughTheAuthorizer(t *testing.T) {
	r := newRig(t, "lisa-users", nil)
	before := r.reads.Counts()["GetItem"]

	rs, err := r.issuer.Token("alice", []string{"lisa-users", "lisa-api-users"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	p := allowed(t, r.call(t, "Authorization", "Bearer "+rs))
	if p.Username != "alice" || p.AuthType != auth.AuthJWT || !p.IsAPIUser || p.IsAdmin {
		t.Fatalf("RS256 principal = %+v", p)
	}
	if _, err := r.issuer.Rotate(devoidc.ES256); err != nil {
		t.Fatal(err)
	}
	es, err := r.issuer.Token("root", []string{"lisa-admins"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if p := allowed(t, r.call(t, "Authorization", "bearer "+es)); !p.IsAdmin || p.Username != "root" {
		t.Fatalf("ES256 after rotation: principal = %+v", p)
	}
	outsider, _ := r.issuer.Token("mallory", []string{"guests"}, time.Hour)
	unauthorized(t, r.call(t, "Authorization", "Bearer "+outsider))
	unauthorized(t, r.call(t, "Authorization", "Bearer "+rs[:len(rs)-2]+"xx"))

	if n := r.reads.Counts()["GetItem"] - before; n != 0 {
		t.Fatalf("JWTs caused %d DynamoDB reads, want 0", n)
	}
	for _, tok := range []string{rs, es, outsider} {
		if strings.Contains(r.logs.String(), tok) {
			t.Fatal("a JWT appears in the logs")
		}
	}

	// Issuer down: cached keys still verify; a verifier with no keys fails closed.
	r.issuer.SetDown(true)
	allowed(t, r.call(t, "Authorization", "Bearer "+es))
	cold := newRig(t, "", nil)
	cold.issuer.SetDown(true)
	tok, _ := cold.issuer.Token("alice", []string{"lisa-users"}, time.Hour)
	failedClosed(t, cold.call(t, "Authorization", "Bearer "+tok))
}

func TestDynamoDBUnreachableFailsClosed(t *testing.T) {
	client, err := dynamolocal.NewClient(context.Background(), "http://127.0.0.1:1", func(o *dynamodb.Options) { o.RetryMaxAttempts = 1 })
	if err != nil {
		t.Fatal(err)
	}
	r := newRig(t, "", client)
	failedClosed(t, r.call(t, "Api-Key", strings.Repeat("ab", 64)))
}
