package oidc_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/llmgw/apitokens/pkg/apierr"
	"github.com/llmgw/apitokens/pkg/local/devoidc"
	"github.com/llmgw/apitokens/pkg/oidc"
)

// A flood of junk tokens with made-up kids must not keep a key the issuer
// has just rotated in from being picked up: the refresh it needs must
// still happen within about one RefreshUnknownKIDInterval, and with its
// full HTTP timeout.
func TestUnknownKIDFloodDoesNotStarveRotation(t *testing.T) {
	const (
		interval    = 300 * time.Millisecond
		httpTimeout = time.Second
		jwksDelay   = 100 * time.Millisecond
		// The verifier must accept the rotated-in key within this much
		// after the rotation: one interval (the refresh just before the
		// rotation may have been spent), one JWKS round trip, and slack
		// for a loaded machine under -race.
		within = interval + jwksDelay + 700*time.Millisecond
	)
	f := startFaultyIssuer(t)
	f.jwksDelay.Store(int64(jwksDelay))
	v, _ := newVerifier(t, f.URL(), func(c *oidc.Config) {
		c.RefreshUnknownKIDInterval = interval
		c.HTTPTimeout = httpTimeout
		c.RefreshInterval = -1 // only unknown kids refresh
	})
	tok, err := f.Token("alice", nil, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	mustVerify(t, v, tok)
	hitsBefore := f.JWKSHits()

	// The flood outlasts the settling time plus the acceptance window.
	const settle, floodFor = 1500 * time.Millisecond, 3500 * time.Millisecond
	floodStart := time.Now()
	wait := flood(t, v, f.Claims("mallory", nil, time.Hour), 300, floodFor)
	defer wait()
	// Let the flood settle in before the rotation: its first refreshes
	// have time to spare, only the later ones are squeezed.
	time.Sleep(settle)

	if _, err := f.Rotate(devoidc.ES256); err != nil {
		t.Fatal(err)
	}
	rotated := time.Now()
	fresh, err := f.Token("bob", nil, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	attempts := 0
	for {
		attempts++
		_, err := v.Verify(t.Context(), fresh)
		if err == nil {
			t.Logf("rotated-in key accepted %v after the rotation, at attempt %d, under a flood of junk kids",
				time.Since(rotated).Round(time.Millisecond), attempts)
			break
		}
		if time.Since(rotated) > within {
			t.Fatalf("token signed with the rotated-in key still refused %v after the rotation (%d attempts, last: %v, code %s)",
				time.Since(rotated).Round(time.Millisecond), attempts, err, apierr.CodeOf(err))
		}
		time.Sleep(20 * time.Millisecond)
	}
	wait()
	// The flood still costs the issuer at most one request per interval.
	elapsed := time.Since(floodStart)
	if hits, limit := f.JWKSHits()-hitsBefore, int(elapsed/interval)+1; hits > limit {
		t.Errorf("the flood caused %d JWKS requests in %v, want at most %d (one per %v)", hits, elapsed.Round(time.Millisecond), limit, interval)
	} else {
		t.Logf("the flood caused %d JWKS requests in %v", hits, elapsed.Round(time.Millisecond))
	}
}

// An issuer that hangs when a token needs an unknown-kid refresh: tokens
// of cached keys go on working at once, the token of a key rotated in
// meanwhile is Unavailable (we cannot tell whether the key exists) after
// about HTTPTimeout at most, and is accepted once the issuer answers
// again.
func TestIssuerHangsAtUnknownKIDRefresh(t *testing.T) {
	const interval = 500 * time.Millisecond // longer than one hanging refresh
	for _, mode := range hangModes {
		t.Run(mode.name, func(t *testing.T) {
			f := startFaultyIssuer(t)
			v, _ := newVerifier(t, f.URL(), func(c *oidc.Config) {
				c.HTTPTimeout = hangTimeout
				c.HTTPClient = noKeepAlive()
				c.RefreshUnknownKIDInterval = interval
				c.RefreshInterval = -1
			})
			old, err := f.Token("alice", nil, time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			mustVerify(t, v, old)
			mode.set(f, true)
			if _, err := f.Rotate(devoidc.ES256); err != nil {
				t.Fatal(err)
			}
			fresh, err := f.Token("bob", nil, time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			// Two rounds: the first refresh, then the next one the limiter
			// allows.
			for round := range 2 {
				errs, longest := verifyConcurrently(t, v, fresh, 4)
				expectAllUnavailable(t, errs, longest, fmt.Sprintf("unknown-kid refresh, round %d", round+1))
				// Until the limiter allows the next refresh, the kid is
				// still Unavailable (not refused: it may exist), at once.
				expectUnavailableQuickly(t, v, fresh, hangTimeout/2)
				start := time.Now()
				mustVerify(t, v, old)
				if d := time.Since(start); d > hangTimeout/2 {
					t.Errorf("token of a cached key took %v while the issuer hangs", d)
				}
				time.Sleep(interval)
			}
			mode.set(f, false)
			deadline := time.Now().Add(interval + 2*hangTimeout + time.Second)
			for {
				if _, err := v.Verify(t.Context(), fresh); err == nil {
					break
				} else if time.Now().After(deadline) {
					t.Fatalf("issuer answers again, but the rotated-in key is still refused: %v", err)
				}
				time.Sleep(10 * time.Millisecond)
			}
		})
	}
}

// Lookups for unknown kids that arrive while a refresh is in flight wait
// for it instead of being refused: all tokens of a key rotated in are
// accepted after one refresh.
func TestConcurrentUnknownKIDsShareOneRefresh(t *testing.T) {
	f := startFaultyIssuer(t)
	f.jwksDelay.Store(int64(200 * time.Millisecond))
	v, _ := newVerifier(t, f.URL(), func(c *oidc.Config) {
		c.RefreshUnknownKIDInterval = time.Hour
		c.RefreshInterval = -1
	})
	tok, _ := f.Token("alice", nil, time.Hour)
	mustVerify(t, v, tok)
	if _, err := f.Rotate(devoidc.ES256); err != nil {
		t.Fatal(err)
	}
	fresh, _ := f.Token("bob", nil, time.Hour)
	errs, _ := verifyConcurrently(t, v, fresh, 10)
	for i, err := range errs {
		if err != nil {
			t.Errorf("call %d for the rotated-in key: %v", i, err)
		}
	}
	if got := f.JWKSHits(); got != 2 {
		t.Errorf("JWKS hits = %d, want 2 (initial fetch and one shared refresh)", got)
	}
}

// The refresh a request starts is not cut short when that request gives
// up: it completes with its own HTTPTimeout and serves later requests.
func TestUnknownKIDRefreshOutlivesCaller(t *testing.T) {
	const jwksDelay = 300 * time.Millisecond
	f := startFaultyIssuer(t)
	v, _ := newVerifier(t, f.URL(), func(c *oidc.Config) {
		c.RefreshUnknownKIDInterval = time.Hour
		c.RefreshInterval = -1
	})
	tok, _ := f.Token("alice", nil, time.Hour)
	mustVerify(t, v, tok)
	f.jwksDelay.Store(int64(jwksDelay))
	if _, err := f.Rotate(devoidc.ES256); err != nil {
		t.Fatal(err)
	}
	fresh, _ := f.Token("bob", nil, time.Hour)
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := v.Verify(ctx, fresh)
	if apierr.KindOf(err) != apierr.Unavailable {
		t.Errorf("Verify whose context ends during the refresh = %v, want Unavailable", err)
	}
	if d := time.Since(start); d > jwksDelay {
		t.Errorf("Verify took %v, beyond its own 50ms deadline", d)
	}
	deadline := time.Now().Add(jwksDelay + time.Second)
	for {
		_, err := v.Verify(t.Context(), fresh)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the refresh the first caller started never brought the key: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got := f.JWKSHits(); got != 2 {
		t.Errorf("JWKS hits = %d, want 2 (initial fetch and the one refresh)", got)
	}
}

// A kid a refresh has just proved absent is refused without spending the
// refresh budget: a client that keeps replaying one bad token cannot take
// the refresh a rotated-in key needs. The memory ends with the next
// refresh.
func TestAbsentKIDDoesNotSpendTheRefresh(t *testing.T) {
	const interval = 200 * time.Millisecond
	f := startFaultyIssuer(t)
	v, logs := newVerifier(t, f.URL(), func(c *oidc.Config) {
		c.RefreshUnknownKIDInterval = interval
		c.RefreshInterval = -1
	})
	tok, _ := f.Token("alice", nil, time.Hour)
	mustVerify(t, v, tok)
	replayed := signForeign(t, jwt.SigningMethodES256, "from-another-tenant", f.Claims("mallory", nil, time.Hour))
	expectRefusal(t, v, logs, replayed, apierr.Unauthenticated, oidc.CodeUnknownKID)
	if got := f.JWKSHits(); got != 2 {
		t.Fatalf("JWKS hits = %d, want 2 (the replayed kid caused one refresh)", got)
	}
	time.Sleep(interval + 50*time.Millisecond)
	for range 5 {
		expectRefusal(t, v, logs, replayed, apierr.Unauthenticated, oidc.CodeUnknownKID)
	}
	if got := f.JWKSHits(); got != 2 {
		t.Errorf("JWKS hits = %d after replays of a kid proved absent, want still 2", got)
	}
	if _, err := f.Rotate(devoidc.ES256); err != nil {
		t.Fatal(err)
	}
	fresh, _ := f.Token("bob", nil, time.Hour)
	mustVerify(t, v, fresh) // the budget is still there for it
	// That refresh ended the memory: after the next interval the replayed
	// kid is looked for again.
	time.Sleep(interval + 50*time.Millisecond)
	expectRefusal(t, v, logs, replayed, apierr.Unauthenticated, oidc.CodeUnknownKID)
	if got := f.JWKSHits(); got != 4 {
		t.Errorf("JWKS hits = %d, want 4", got)
	}
}

// junkToken is what an attacker sends for free: the shape of a JWT, an
// allowed algorithm, plausible claims, a made-up kid and random bytes for
// a signature.
func junkToken(t testing.TB, claims jwt.MapClaims) string {
	t.Helper()
	kid := make([]byte, 8)
	sig := make([]byte, 64)
	_, _ = rand.Read(kid)
	_, _ = rand.Read(sig)
	enc := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return base64.RawURLEncoding.EncodeToString(b)
	}
	return enc(map[string]any{"alg": "ES256", "typ": "JWT", "kid": hex.EncodeToString(kid)}) + "." + enc(claims) + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// flood sends junk tokens to v, about rate per second, from the moment it
// is called for d, each from its own goroutine (as concurrent requests
// are), and returns a function that waits until every junk request has
// returned.
func flood(t *testing.T, v *oidc.Verifier, claims jwt.MapClaims, perSecond int, d time.Duration) (wait func()) {
	t.Helper()
	var wg sync.WaitGroup
	gap := time.Second / time.Duration(perSecond)
	end := time.Now().Add(d)
	toks := make([]string, 0, int(d/gap)+1)
	for range cap(toks) {
		toks = append(toks, junkToken(t, claims))
	}
	wg.Go(func() {
		for i := 0; time.Now().Before(end) && i < len(toks); i++ {
			tok := toks[i]
			wg.Go(func() { _, _ = v.Verify(t.Context(), tok) })
			time.Sleep(gap)
		}
	})
	return wg.Wait
}
