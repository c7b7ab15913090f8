package oidc_test

import (
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/llmgw/apitokens/pkg/local/devoidc"
)

// faultyIssuer is a development issuer on loopback whose faults a test
// switches on and off while a verifier uses it.
type faultyIssuer struct {
	*devoidc.Issuer
	// jwksDelay (nanoseconds) is added before every JWKS answer: a real
	// issuer is not on loopback.
	jwksDelay atomic.Int64
	// sleep makes every request wait, without answering, until it is
	// switched off or the client gives up.
	sleep atomic.Bool
	// blackhole makes the listener accept new connections and never read
	// from them (a host that is up while its server is stuck).
	blackhole atomic.Bool

	mu   sync.Mutex
	held []net.Conn
}

func startFaultyIssuer(t *testing.T) *faultyIssuer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	iss, err := devoidc.New(devoidc.Options{IssuerURL: "http://" + ln.Addr().String(), Audience: audience, KeyType: devoidc.ES256, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	f := &faultyIssuer{Issuer: iss}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for f.sleep.Load() {
			select {
			case <-r.Context().Done():
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
		if r.URL.Path == devoidc.PathJWKS {
			select {
			case <-r.Context().Done():
				return
			case <-time.After(time.Duration(f.jwksDelay.Load())):
			}
		}
		iss.ServeHTTP(w, r)
	}))
	_ = srv.Listener.Close()
	srv.Listener = &gateListener{Listener: ln, f: f}
	srv.Start()
	t.Cleanup(func() {
		f.sleep.Store(false)
		f.mu.Lock()
		for _, c := range f.held {
			_ = c.Close()
		}
		f.mu.Unlock()
		srv.Close()
	})
	return f
}

// gateListener swallows the connections accepted while the issuer is
// blackholed: they stay open, unread, until the test ends.
type gateListener struct {
	net.Listener
	f *faultyIssuer
}

func (l *gateListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil || !l.f.blackhole.Load() {
			return c, err
		}
		l.f.mu.Lock()
		l.f.held = append(l.f.held, c)
		l.f.mu.Unlock()
	}
}

// noKeepAlive is an HTTP client that dials for every request, so that a
// blackholed listener affects the next request rather than only the ones
// after pooled connections are gone. It has no Timeout of its own: the
// verifier must bound its requests by itself.
func noKeepAlive() *http.Client {
	return &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
}
