package apigw_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/llmgw/apitokens/pkg/apigw"
	"github.com/llmgw/apitokens/pkg/auth"
	"github.com/llmgw/apitokens/pkg/internal/syncbuf"
	"github.com/llmgw/apitokens/pkg/routes"
	"github.com/llmgw/apitokens/pkg/store"
	"github.com/llmgw/apitokens/pkg/store/storetest"
	"github.com/llmgw/apitokens/pkg/tokensvc"
)

var groups = auth.Groups{Admin: "lisa-admins", User: "lisa-users", API: "lisa-api-users"}

func principal(name string, gs ...string) auth.Principal {
	p := auth.Principal{Username: name, Groups: gs, AuthType: auth.AuthJWT}
	p.IsAdmin, p.IsAPIUser = groups.Roles(gs)
	return p
}

var (
	admin = principal("admin", "lisa-admins", "lisa-users")
	alice = principal("alice", "lisa-users", "lisa-api-users")
	bob   = principal("bob", "lisa-users", "lisa-api-users")
	carol = principal("carol", "lisa-users") // not in the API group
)

// env drives the token API the way API Gateway does: route match, proxy
// event with the authorizer context, the real adapter and handler.
type env struct {
	t    *testing.T
	st   store.Store
	now  time.Time
	logs *syncbuf.Buffer
	fns  map[string]func(context.Context, events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error)
	// authn decides API-token calls as the authorizer does (no cache).
	authn   *auth.Core
	mu      sync.Mutex
	secrets []string // every plain token issued; checked against logs and later bodies
	bodies  []string // every response body except create responses
}

func newEnv(t *testing.T, st store.Store, mutate ...func(*tokensvc.Config)) *env {
	t.Helper()
	return newEnvWith(t, st, nil, mutate...)
}

// newEnvWith is newEnv with more service options (such as a usage store).
func newEnvWith(t *testing.T, st store.Store, opts []tokensvc.Option, mutate ...func(*tokensvc.Config)) *env {
	t.Helper()
	cfg := tokensvc.Config{Groups: groups, DefaultTokenDays: 90, MaxTokenDays: 365, AllowUserManaged: true}
	for _, m := range mutate {
		m(&cfg)
	}
	e := &env{t: t, st: st, now: time.Unix(1_800_000_000, 0), logs: &syncbuf.Buffer{}}
	logger := slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	opts = append([]tokensvc.Option{tokensvc.WithClock(func() time.Time { return e.now }), tokensvc.WithLogger(logger)}, opts...)
	svc := tokensvc.New(st, cfg, opts...)
	e.fns = map[string]func(context.Context, events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error){}
	clock := func() time.Time { return e.now }
	e.authn = auth.NewCore(auth.Options{Tokens: st, Groups: groups, FreshTokens: true, Now: clock, Logger: logger})
	fresh := auth.NewCore(auth.Options{Tokens: st, Groups: groups, FreshTokens: true, Now: clock, Logger: logger})
	for name, h := range apigw.Handlers(svc) {
		e.fns[name] = apigw.Adapt(h, fresh, logger)
	}
	t.Cleanup(e.checkNoSecretLeaked)
	return e
}

type resp struct {
	status int
	raw    string
	body   map[string]any
}

func (r resp) str(k string) string { s, _ := r.body[k].(string); return s }
func (r resp) num(k string) int64  { f, _ := r.body[k].(float64); return int64(f) }

// do sends method target (path with optional query) as caller.
func (e *env) do(caller auth.Principal, method, target, body string) resp {
	e.t.Helper()
	return e.send(caller, nil, method, target, body)
}

// as decides token the way the authorizer does and returns the principal
// it would put in the context; it fails the test on a refusal.
func (e *env) as(token string) auth.Principal {
	e.t.Helper()
	p, err := e.authn.Authenticate(context.Background(), http.Header{"Authorization": {"Bearer " + token}})
	if err != nil {
		e.t.Fatalf("authorizer refused the token: %v", err)
	}
	return p
}

// withToken sends a request carrying token, with the authorizer decision
// made now; a refusal by the authorizer is API Gateway's 401.
func (e *env) withToken(token, method, target, body string) resp {
	e.t.Helper()
	p, err := e.authn.Authenticate(context.Background(), http.Header{"Authorization": {"Bearer " + token}})
	if err != nil {
		return resp{status: 401, raw: `{"message":"Unauthorized"}`, body: map[string]any{"message": "Unauthorized"}}
	}
	return e.send(p, map[string]string{"Authorization": "Bearer " + token}, method, target, body)
}

// withStaleDecision sends a request carrying token with an authorizer
// decision made earlier (as an authorizer result cache would replay it).
func (e *env) withStaleDecision(decision auth.Principal, token, method, target, body string) resp {
	e.t.Helper()
	return e.send(decision, map[string]string{"Authorization": "Bearer " + token}, method, target, body)
}

func (e *env) send(caller auth.Principal, headers map[string]string, method, target, body string) resp {
	e.t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		e.t.Fatal(err)
	}
	rt, params, exists := routes.Match(method, u.Path)
	if !exists || rt.Function == "" {
		e.t.Fatalf("no route for %s %s", method, target)
	}
	q := map[string]string{}
	for k, vs := range u.Query() {
		q[k] = vs[0]
	}
	ev := events.APIGatewayProxyRequest{
		HTTPMethod: method, Resource: rt.Resource, Path: u.Path, PathParameters: params,
		QueryStringParameters: q, Body: body, Headers: headers,
		RequestContext: events.APIGatewayProxyRequestContext{RequestID: "req-" + method, Authorizer: caller.Context(),
			Identity: events.APIGatewayRequestIdentity{SourceIP: "198.51.100.7", UserAgent: "lifecycle-test/1"}},
	}
	out, err := e.fns[rt.Function](context.Background(), ev)
	if err != nil {
		e.t.Fatalf("handler returned a Lambda error: %v", err)
	}
	checkDocumented(e.t, rt, params, q, body, out)
	r := resp{status: out.StatusCode, raw: out.Body}
	if err := json.Unmarshal([]byte(out.Body), &r.body); err != nil {
		e.t.Fatalf("body is not a JSON object: %q", out.Body)
	}
	if out.Headers["Content-Type"] != "application/json" || out.Headers["Cache-Control"] != "no-store" {
		e.t.Fatalf("headers = %v", out.Headers)
	}
	if r.status >= 400 {
		if m := r.str("message"); m == "" || len(r.body) != 1 {
			e.t.Fatalf("error body must be {\"message\": ...}, got %s", out.Body)
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if s := r.str("token"); s != "" && r.status == 201 {
		e.secrets = append(e.secrets, s)
	} else {
		e.bodies = append(e.bodies, out.Body)
	}
	return r
}

func (e *env) want(r resp, status int, msgContains string) {
	e.t.Helper()
	if r.status != status {
		e.t.Fatalf("status = %d, want %d; body %s", r.status, status, r.raw)
	}
	if msgContains != "" && !strings.Contains(r.str("message"), msgContains) {
		e.t.Fatalf("message %q does not mention %q", r.str("message"), msgContains)
	}
}

// create makes a token and returns the 201 body.
func (e *env) create(caller auth.Principal, forUser, body string) resp {
	e.t.Helper()
	r := e.do(caller, "POST", "/api-tokens/"+forUser, body)
	e.want(r, 201, "")
	return r
}

// snapshot lists the whole table through the store, for "nothing changed" checks.
func (e *env) snapshot() []string {
	e.t.Helper()
	var out []string
	cursor := ""
	for {
		p, err := e.st.List(context.Background(), store.ListOptions{Limit: 1000, Cursor: cursor})
		if err != nil {
			e.t.Fatal(err)
		}
		for _, t := range p.Tokens {
			out = append(out, fmt.Sprintf("%s|%s|%s|%d|%s|%v", t.Hash, t.UUID, t.Username, t.Expiration, t.Name, t.Groups))
		}
		if p.Cursor == "" {
			break
		}
		cursor = p.Cursor
	}
	slices.Sort(out)
	return out
}

func (e *env) checkNoSecretLeaked() {
	logs := e.logs.String()
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, s := range e.secrets {
		if strings.Contains(logs, s) {
			e.t.Errorf("a plain token appears in the logs")
		}
		for _, b := range e.bodies {
			if strings.Contains(b, s) {
				e.t.Errorf("a plain token appears in a later response: %s", b)
			}
		}
	}
}

// mustCreate writes tokens straight to the store, for volume tests.
func mustCreate(t *testing.T, st store.Store, toks []store.Token) {
	t.Helper()
	if bc, ok := st.(storetest.BulkCreator); ok {
		if err := bc.PutBatch(context.Background(), toks); err != nil {
			t.Fatal(err)
		}
		return
	}
	var wg sync.WaitGroup
	errs := make(chan error, len(toks))
	sem := make(chan struct{}, 16)
	for _, tk := range toks {
		wg.Add(1)
		sem <- struct{}{}
		go func(tk store.Token) {
			defer wg.Done()
			defer func() { <-sem }()
			if err := st.Create(context.Background(), tk); err != nil {
				errs <- err
			}
		}(tk)
	}
	wg.Wait()
	close(errs)
	if err := errors.Join(func() []error {
		var es []error
		for e := range errs {
			es = append(es, e)
		}
		return es
	}()...); err != nil {
		t.Fatal(err)
	}
}
