package oidc_test

import (
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/llmgw/apitokens/pkg/apierr"
	"github.com/llmgw/apitokens/pkg/oidc"
)

// hangModes are the two ways an issuer can hang: a stuck server that
// accepts connections and never reads them, and a server that reads the
// request and never answers.
var hangModes = []struct {
	name string
	set  func(f *faultyIssuer, on bool)
}{
	{"listener accepts and never answers", func(f *faultyIssuer, on bool) { f.blackhole.Store(on) }},
	{"server sleeps", func(f *faultyIssuer, on bool) { f.sleep.Store(on) }},
}

// hangTimeout is the HTTPTimeout of the hang tests. hangBound is the
// generous upper bound that proves "no hang"; about one HTTPTimeout is
// expected.
const hangTimeout = 300 * time.Millisecond

func hangBound() time.Duration { return 3 * hangTimeout }

// verifyConcurrently runs Verify(tok) from n goroutines at once and
// returns the errors and the longest time a call took.
func verifyConcurrently(t *testing.T, v *oidc.Verifier, tok string, n int) ([]error, time.Duration) {
	t.Helper()
	errs := make([]error, n)
	took := make([]time.Duration, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			start := time.Now()
			_, errs[i] = v.Verify(t.Context(), tok)
			took[i] = time.Since(start)
		})
	}
	wg.Wait()
	return errs, slices.Max(took)
}

func expectAllUnavailable(t *testing.T, errs []error, longest time.Duration, what string) {
	t.Helper()
	for i, err := range errs {
		if apierr.KindOf(err) != apierr.Unavailable || apierr.CodeOf(err) != oidc.CodeIssuerUnavailable {
			t.Errorf("%s, call %d: %v (kind %v), want Unavailable", what, i, err, apierr.KindOf(err))
		}
	}
	if longest > hangBound() {
		t.Errorf("%s: the slowest of %d calls took %v, want at most %v (HTTPTimeout %v)", what, len(errs), longest, hangBound(), hangTimeout)
	}
	t.Logf("%s: slowest of %d concurrent calls returned after %v (HTTPTimeout %v)", what, len(errs), longest.Round(time.Millisecond), hangTimeout)
}

// An issuer that hangs during first discovery must not make any request
// hang: each returns Unavailable after about HTTPTimeout, however many
// wait at once, and the verifier recovers once the issuer answers.
func TestIssuerHangsAtDiscovery(t *testing.T) {
	for _, mode := range hangModes {
		t.Run(mode.name, func(t *testing.T) {
			f := startFaultyIssuer(t)
			v, _ := newVerifier(t, f.URL(), func(c *oidc.Config) {
				c.HTTPTimeout = hangTimeout
				c.HTTPClient = noKeepAlive()
				// Every caller may retry: callers queued behind an attempt
				// must still not each wait for one attempt of their own.
				c.RetryInterval = time.Nanosecond
			})
			tok, err := f.Token("alice", nil, time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			mode.set(f, true)
			errs, longest := verifyConcurrently(t, v, tok, 4)
			expectAllUnavailable(t, errs, longest, "first discovery")
			mode.set(f, false)
			deadline := time.Now().Add(2 * time.Second)
			for {
				if _, err := v.Verify(t.Context(), tok); err == nil {
					break
				} else if time.Now().After(deadline) {
					t.Fatalf("issuer answers again, but Verify still fails: %v", err)
				}
				time.Sleep(10 * time.Millisecond)
			}
		})
	}
}
