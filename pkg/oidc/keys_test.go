package oidc_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/llmgw/apitokens/pkg/apierr"
	"github.com/llmgw/apitokens/pkg/local/devoidc"
	"github.com/llmgw/apitokens/pkg/oidc"
)

func TestNewRejectsBadConfig(t *testing.T) {
	ok := oidc.Config{Issuer: "https://idp.example.com", Audience: "c"}
	for _, tc := range []struct {
		name string
		edit func(*oidc.Config)
	}{
		{"no issuer", func(c *oidc.Config) { c.Issuer = "" }},
		{"relative issuer", func(c *oidc.Config) { c.Issuer = "idp.example.com" }},
		{"plain http to a remote host", func(c *oidc.Config) { c.Issuer = "http://idp.example.com" }},
		{"issuer with a query", func(c *oidc.Config) { c.Issuer = "https://idp.example.com?x=1" }},
		{"no audience", func(c *oidc.Config) { c.Audience = "" }},
		{"leeway too long", func(c *oidc.Config) { c.Leeway = oidc.MaxLeeway + time.Second }},
		{"negative leeway", func(c *oidc.Config) { c.Leeway = -time.Second }},
		{"negative timeout", func(c *oidc.Config) { c.HTTPTimeout = -time.Second }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := ok
			tc.edit(&cfg)
			if _, err := oidc.New(t.Context(), cfg); err == nil {
				t.Fatalf("New(%+v) succeeded, want a configuration error", cfg)
			}
		})
	}
	for _, iss := range []string{"https://idp.example.com", "http://127.0.0.1:9", "http://localhost:8080/dev-oidc", "http://[::1]:80"} {
		cfg := ok
		cfg.Issuer = iss
		if _, err := oidc.New(t.Context(), cfg); err != nil {
			t.Errorf("New with issuer %s: %v", iss, err)
		}
	}
}

// New must not touch the network: a Lambda cold start with the issuer down
// (or hanging) must start.
func TestNewDoesNoIO(t *testing.T) {
	hang := hangingServer(t)
	start := time.Now()
	_, err := oidc.New(t.Context(), oidc.Config{Issuer: hang.URL, Audience: "c"})
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > time.Second { // far below the 5s HTTP timeout a request would take
		t.Errorf("New took %v against a hanging issuer", d)
	}
}

func TestUnknownKIDRefreshIsRateLimited(t *testing.T) {
	e := newEnv(t, devoidc.Options{KeyType: devoidc.ES256}, func(c *oidc.Config) {
		c.RefreshUnknownKIDInterval = time.Hour
	})
	mustVerify(t, e.v, e.token(t, "alice"))
	if got := e.iss.JWKSHits(); got != 1 {
		t.Fatalf("JWKS hits after the first verification = %d, want 1", got)
	}
	claims := e.iss.Claims("mallory", nil, time.Hour)
	for i := range 2 {
		tok := signForeign(t, jwt.SigningMethodES256, fmt.Sprintf("made-up-%d", i), claims)
		expectRefusal(t, e.v, e.logs, tok, apierr.Unauthenticated, oidc.CodeUnknownKID)
	}
	if got := e.iss.JWKSHits(); got != 2 {
		t.Errorf("JWKS hits after two unknown kids = %d, want 2 (one refresh within the interval)", got)
	}
	// A flood of them, concurrently, costs nothing more.
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			tok := signForeign(t, jwt.SigningMethodES256, fmt.Sprintf("flood-%d", i), claims)
			if _, err := e.v.Verify(t.Context(), tok); apierr.CodeOf(err) != oidc.CodeUnknownKID {
				t.Errorf("flood token: %v, want %s", err, oidc.CodeUnknownKID)
			}
		})
	}
	wg.Wait()
	if got := e.iss.JWKSHits(); got != 2 {
		t.Errorf("JWKS hits after a flood of unknown kids = %d, want still 2", got)
	}
}

func TestUnknownKIDRefreshAgainAfterInterval(t *testing.T) {
	const interval = 100 * time.Millisecond
	e := newEnv(t, devoidc.Options{KeyType: devoidc.ES256}, func(c *oidc.Config) {
		c.RefreshUnknownKIDInterval = interval
	})
	mustVerify(t, e.v, e.token(t, "alice"))
	claims := e.iss.Claims("mallory", nil, time.Hour)
	expectRefusal(t, e.v, e.logs, signForeign(t, jwt.SigningMethodES256, "x1", claims), apierr.Unauthenticated, oidc.CodeUnknownKID)
	time.Sleep(interval + 20*time.Millisecond)
	expectRefusal(t, e.v, e.logs, signForeign(t, jwt.SigningMethodES256, "x2", claims), apierr.Unauthenticated, oidc.CodeUnknownKID)
	if got := e.iss.JWKSHits(); got != 3 {
		t.Errorf("JWKS hits = %d, want 3 (initial, then one refresh per interval)", got)
	}
}

func TestKeyRotation(t *testing.T) {
	e := newEnv(t, devoidc.Options{}, nil) // RS256, default (long) unknown-kid interval
	old := e.iss.CurrentKID()
	before := e.token(t, "alice", "g")
	mustVerify(t, e.v, before)

	newKID, err := e.iss.Rotate(devoidc.RS256)
	if err != nil {
		t.Fatal(err)
	}
	after := e.token(t, "alice", "g")
	if kid := headerKID(t, after); kid != newKID || kid == old {
		t.Fatalf("token after rotation has kid %q, want the new %q", kid, newKID)
	}
	if id := mustVerify(t, e.v, after); id.Username != "alice" {
		t.Errorf("identity after rotation = %+v", id)
	}
	mustVerify(t, e.v, before) // the old key is still published
	if got := e.iss.JWKSHits(); got != 2 {
		t.Errorf("JWKS hits = %d, want 2 (initial fetch and one refresh for the new kid)", got)
	}
}

func TestPeriodicRefreshDropsWithdrawnKeys(t *testing.T) {
	e := newEnv(t, devoidc.Options{KeyType: devoidc.ES256}, func(c *oidc.Config) {
		c.RefreshInterval = 30 * time.Millisecond
		c.RefreshUnknownKIDInterval = time.Hour
	})
	old := e.iss.CurrentKID()
	oldTok := e.token(t, "alice")
	mustVerify(t, e.v, oldTok)
	if _, err := e.iss.Rotate(devoidc.ES256); err != nil {
		t.Fatal(err)
	}
	if err := e.iss.RemoveKey(old); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(3 * time.Second)
	for {
		_, err := e.v.Verify(t.Context(), oldTok) // also what triggers the refresh
		if apierr.CodeOf(err) == oidc.CodeUnknownKID {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("token of a withdrawn key still gives %v after 3s", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	mustVerify(t, e.v, e.token(t, "alice")) // the new key came with the refresh
}

func TestIssuerDownWithKeysCached(t *testing.T) {
	e := newEnv(t, devoidc.Options{KeyType: devoidc.ES256}, func(c *oidc.Config) {
		c.RefreshInterval = time.Millisecond // a due periodic refresh must not hurt either
	})
	mustVerify(t, e.v, e.token(t, "alice"))
	e.iss.SetDown(true)
	for range 3 {
		mustVerify(t, e.v, e.token(t, "bob"))
	}
	// An unknown kid may be a key rotated in while the issuer is down: we
	// cannot tell, so that is unavailability, not a refusal.
	unknown := signForeign(t, jwt.SigningMethodES256, "rotated-in?", e.iss.Claims("carol", nil, time.Hour))
	expectRefusal(t, e.v, e.logs, unknown, apierr.Unavailable, oidc.CodeIssuerUnavailable)
	e.srv.Close() // now connections are refused outright
	mustVerify(t, e.v, e.token(t, "dave"))
}

func TestIssuerDownFromTheStart(t *testing.T) {
	t.Run("issuer answers 503", func(t *testing.T) {
		e := newEnv(t, devoidc.Options{KeyType: devoidc.ES256}, func(c *oidc.Config) { c.RetryInterval = time.Hour })
		e.iss.SetDown(true)
		tok := e.token(t, "alice")
		expectUnavailableQuickly(t, e.v, tok, 2*time.Second)
		expectUnavailableQuickly(t, e.v, tok, 2*time.Second)
		if got := e.iss.DiscoveryHits(); got != 1 {
			t.Errorf("discovery hits = %d, want 1: retries are spaced by RetryInterval", got)
		}
		if !strings.Contains(e.logs.String(), "OIDC discovery failed") {
			t.Errorf("discovery failure was not logged: %s", e.logs)
		}
	})
	t.Run("connection refused", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		v, _ := newVerifier(t, "http://"+addr, nil)
		expectUnavailableQuickly(t, v, signForeign(t, jwt.SigningMethodRS256, "k", jwt.MapClaims{"exp": 1}), 2*time.Second)
	})
	t.Run("issuer hangs", func(t *testing.T) {
		hang := hangingServer(t)
		v, _ := newVerifier(t, hang.URL, func(c *oidc.Config) { c.HTTPTimeout = 100 * time.Millisecond })
		expectUnavailableQuickly(t, v, signForeign(t, jwt.SigningMethodRS256, "k", jwt.MapClaims{"exp": 1}), 2*time.Second)
	})
	t.Run("JWKS unreachable", func(t *testing.T) {
		srv := httptest.NewUnstartedServer(nil)
		iss, err := devoidc.New(devoidc.Options{IssuerURL: "http://" + srv.Listener.Addr().String(), Audience: audience, KeyType: devoidc.ES256, Now: clock})
		if err != nil {
			t.Fatal(err)
		}
		srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == devoidc.PathJWKS {
				http.Error(w, "broken", http.StatusInternalServerError)
				return
			}
			iss.ServeHTTP(w, r)
		})
		srv.Start()
		t.Cleanup(srv.Close)
		v, _ := newVerifier(t, iss.URL(), nil)
		tok, _ := iss.Token("alice", nil, time.Hour)
		expectUnavailableQuickly(t, v, tok, 2*time.Second)
	})
	t.Run("discovery names another issuer", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprint(w, `{"issuer":"https://evil.example.com","jwks_uri":"https://evil.example.com/jwks"}`)
		}))
		t.Cleanup(srv.Close)
		v, _ := newVerifier(t, srv.URL, nil)
		expectUnavailableQuickly(t, v, signForeign(t, jwt.SigningMethodRS256, "k", jwt.MapClaims{"exp": 1}), 2*time.Second)
	})
	t.Run("empty key set", func(t *testing.T) {
		srv := httptest.NewUnstartedServer(nil)
		url := "http://" + srv.Listener.Addr().String()
		srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/jwks" {
				fmt.Fprint(w, `{"keys":[]}`)
				return
			}
			fmt.Fprintf(w, `{"issuer":%q,"jwks_uri":%q}`, url, url+"/jwks")
		})
		srv.Start()
		t.Cleanup(srv.Close)
		v, _ := newVerifier(t, url, nil)
		expectUnavailableQuickly(t, v, signForeign(t, jwt.SigningMethodRS256, "k", jwt.MapClaims{"exp": 1}), 2*time.Second)
	})
}

func TestRecoversWhenIssuerComesBack(t *testing.T) {
	// That retries wait for RetryInterval is checked in
	// TestIssuerDownFromTheStart; here the interval is short so that the
	// test need not sleep long.
	const retry = 20 * time.Millisecond
	e := newEnv(t, devoidc.Options{KeyType: devoidc.ES256}, func(c *oidc.Config) { c.RetryInterval = retry })
	tok := e.token(t, "alice")
	e.iss.SetDown(true)
	if err := e.v.Warm(t.Context()); apierr.KindOf(err) != apierr.Unavailable {
		t.Fatalf("Warm with the issuer down = %v, want Unavailable", err)
	}
	e.iss.SetDown(false)
	time.Sleep(retry + 10*time.Millisecond)
	mustVerify(t, e.v, tok)
	if got := e.iss.DiscoveryHits(); got != 2 {
		t.Errorf("discovery hits = %d, want 2", got)
	}
}

func TestWarm(t *testing.T) {
	e := newEnv(t, devoidc.Options{KeyType: devoidc.ES256}, nil)
	if err := e.v.Warm(t.Context()); err != nil {
		t.Fatalf("Warm: %v", err)
	}
	mustVerify(t, e.v, e.token(t, "alice"))
	if e.iss.DiscoveryHits() != 1 || e.iss.JWKSHits() != 1 {
		t.Errorf("hits after Warm and Verify: discovery %d jwks %d, want 1 and 1", e.iss.DiscoveryHits(), e.iss.JWKSHits())
	}
}

// A caller that gives up must not make later callers wait for
// RetryInterval.
func TestCancelledCallerDoesNotPoison(t *testing.T) {
	e := newEnv(t, devoidc.Options{KeyType: devoidc.ES256}, func(c *oidc.Config) { c.RetryInterval = time.Hour })
	tok := e.token(t, "alice")
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := e.v.Verify(ctx, tok); apierr.KindOf(err) != apierr.Unavailable {
		t.Fatalf("Verify with a cancelled context = %v, want Unavailable", err)
	}
	mustVerify(t, e.v, tok)
}

func TestConcurrentVerify(t *testing.T) {
	e := newEnv(t, devoidc.Options{KeyType: devoidc.ES256}, nil)
	const n = 50
	toks := make([]string, n)
	for i := range toks {
		toks[i] = e.token(t, fmt.Sprintf("user-%d", i), "g")
	}
	bad := signForeign(t, jwt.SigningMethodES256, "nope", e.iss.Claims("mallory", nil, time.Hour))
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start // all at once, on a cold verifier: discovery races too
			id, err := e.v.Verify(t.Context(), toks[i])
			if err != nil || id.Username != fmt.Sprintf("user-%d", i) {
				t.Errorf("goroutine %d: %+v, %v", i, id, err)
			}
			if i%5 == 0 {
				if _, err := e.v.Verify(t.Context(), bad); apierr.CodeOf(err) != oidc.CodeUnknownKID {
					t.Errorf("goroutine %d: unknown kid gave %v", i, err)
				}
			}
		})
	}
	close(start)
	wg.Wait()
	if got := e.iss.DiscoveryHits(); got != 1 {
		t.Errorf("discovery hits = %d, want 1 (one discovery shared by all)", got)
	}
}

func expectUnavailableQuickly(t *testing.T, v *oidc.Verifier, tok string, within time.Duration) {
	t.Helper()
	start := time.Now()
	id, err := v.Verify(t.Context(), tok)
	if d := time.Since(start); d > within {
		t.Errorf("Verify took %v, want at most %v", d, within)
	}
	if err == nil || id.Username != "" {
		t.Fatalf("Verify = %+v, %v; want no identity and an error", id, err)
	}
	var ae *apierr.Error
	if !errors.As(err, &ae) || ae.Kind != apierr.Unavailable || ae.Code != oidc.CodeIssuerUnavailable {
		t.Errorf("error = %v (kind %v, code %q), want kind Unavailable code %s", err, apierr.KindOf(err), apierr.CodeOf(err), oidc.CodeIssuerUnavailable)
	}
	if apierr.Status(err) != http.StatusServiceUnavailable {
		t.Errorf("status = %d, want 503", apierr.Status(err))
	}
	assertNoLeak(t, tok, err.Error(), "error")
}

// hangingServer accepts requests and never answers until the test ends.
func hangingServer(t *testing.T) *httptest.Server {
	t.Helper()
	done := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-done:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(func() { close(done); srv.Close() })
	return srv
}

func headerKID(t *testing.T, tok string) string {
	t.Helper()
	tk, _, err := jwt.NewParser().ParseUnverified(tok, jwt.MapClaims{})
	if err != nil {
		t.Fatal(err)
	}
	kid, _ := tk.Header["kid"].(string)
	return kid
}
