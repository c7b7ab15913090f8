package oidc

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/time/rate"
)

// maxDiscoveryBytes bounds the discovery document read; real ones are a few
// KiB.
const maxDiscoveryBytes = 1 << 20

// keySet is what discovery produces: the JWKS URL and the keys behind it.
type keySet struct {
	jwksURI string
	// kf looks keys up by kid in cached; it never fetches.
	kf keyfunc.Keyfunc
	// cached is the JWKS storage. Refreshes (for an unknown kid, and the
	// periodic one) replace its contents.
	cached jwkset.Storage
	// unknownKID allows one refresh for an unknown kid per
	// RefreshUnknownKIDInterval. It is only ever asked with Allow: a
	// lookup never reserves a later turn and waits for it.
	unknownKID *rate.Limiter

	mu sync.Mutex
	// inflight is the unknown-kid refresh running now, if any; lookups
	// for unknown kids meanwhile wait for it rather than start another.
	inflight *refreshCall
	// lastFailed records that the last refresh failed: until one
	// succeeds, an unknown kid may be a key the issuer rotated in, so it
	// is Unavailable rather than refused.
	lastFailed bool
	// absent holds kids a successful refresh proved unknown. They are
	// refused at once, without spending the refresh budget or waiting for
	// a refresh in flight, until the next successful refresh (for another
	// kid, or the periodic one) or their expiry (absentFor), whichever
	// comes first: a client replaying one bad token then cannot keep
	// spending the one refresh per interval that a rotated-in key needs.
	absent map[string]time.Time
	// gen counts successful refreshes, so that a kid is remembered as
	// absent only if no refresh has happened since the one that missed it.
	gen uint64

	// nextRefresh (Unix nanoseconds, real clock) is when the next periodic
	// refresh is due; refreshing is set while one runs.
	nextRefresh atomic.Int64
	refreshing  atomic.Bool
}

// refreshCall is one unknown-kid refresh; err and gen are set before done
// closes.
type refreshCall struct {
	done chan struct{}
	err  error
	gen  uint64
}

// maxAbsent bounds the negative memory; beyond it, kids are simply not
// remembered (they are still refused, by the limiter). absentFor, in
// RefreshUnknownKIDIntervals, bounds how long a kid stays remembered if
// no refresh happens meanwhile: the worst case for a kid that was proved
// absent before its issuer published it.
const (
	maxAbsent = 1024
	absentFor = 10
)

// keyfunc returns the jwt.Keyfunc for one Verify call. It runs only after
// the token parsed and its algorithm passed the allow-list, so malformed
// tokens never cause discovery.
func (v *Verifier) keyfunc(ctx context.Context) jwt.Keyfunc {
	return func(t *jwt.Token) (any, error) {
		ks, err := v.loadKeys(ctx)
		if err != nil {
			return nil, err
		}
		v.maybeRefresh(ks)
		lookup := ks.kf.KeyfuncCtx(ctx)
		key, err := lookup(t)
		kid, hasKID := t.Header["kid"].(string)
		if err != nil && hasKID && errors.Is(err, jwkset.ErrKeyNotFound) {
			gen, rerr := v.refreshForKID(ctx, ks, kid)
			if rerr != nil {
				return nil, rerr
			}
			if key, err = lookup(t); err != nil && errors.Is(err, jwkset.ErrKeyNotFound) {
				ks.rememberAbsent(kid, gen, time.Now().Add(absentFor*v.cfg.RefreshUnknownKIDInterval))
				return nil, refuse(CodeUnknownKID, "token is signed with an unknown key", err)
			}
		}
		if err != nil {
			return nil, refuse(CodeBadSignature, "token does not match the issuer's key", err)
		}
		return publicOnly(key)
	}
}

// refreshForKID is called for a kid that is not cached. It returns the
// refresh's generation once one has succeeded (the caller looks the kid
// up again), or
// the answer for the token: refused at once if the kid was just proved
// absent or no refresh is allowed now, Unavailable if the refresh failed.
// A refresh in flight is waited for, within ctx; a new one is started
// only if the limiter allows it, and runs with its own HTTPTimeout,
// whatever is left of ctx, so that callers with little time left (or a
// flood of them) cannot make it fail.
func (v *Verifier) refreshForKID(ctx context.Context, ks *keySet, kid string) (uint64, error) {
	unknown := func() error { return refuse(CodeUnknownKID, "token is signed with an unknown key", nil) }
	ks.mu.Lock()
	if until, ok := ks.absent[kid]; ok && time.Now().Before(until) {
		ks.mu.Unlock()
		return 0, unknown()
	}
	call := ks.inflight
	if call == nil {
		if !ks.unknownKID.Allow() {
			failed := ks.lastFailed
			ks.mu.Unlock()
			if failed {
				return 0, unavailable(errors.New("the last JWKS refresh failed"))
			}
			return 0, unknown()
		}
		call = &refreshCall{done: make(chan struct{})}
		ks.inflight = call
		// Detached from the caller's cancellation (its values, such as
		// trace ids for logs, are kept) and bounded by HTTPTimeout.
		go v.runRefresh(context.WithoutCancel(ctx), ks, call)
	}
	ks.mu.Unlock()
	select {
	case <-call.done:
	case <-ctx.Done():
		return 0, unavailable(ctx.Err())
	}
	if call.err != nil {
		// The kid may be a key the issuer rotated in; we cannot tell while
		// it is unreachable.
		return 0, unavailable(call.err)
	}
	return call.gen, nil
}

// runRefresh performs the unknown-kid refresh call and wakes its waiters.
func (v *Verifier) runRefresh(ctx context.Context, ks *keySet, call *refreshCall) {
	ctx, cancel := context.WithTimeout(ctx, v.cfg.HTTPTimeout)
	defer cancel()
	err := v.refreshKeys(ctx, ks)
	if err != nil {
		v.log.WarnContext(ctx, "JWKS refresh for an unknown kid failed; keeping cached keys", "jwksUri", ks.jwksURI, "error", err.Error())
	}
	ks.mu.Lock()
	ks.inflight = nil
	call.err, call.gen = err, ks.gen
	ks.mu.Unlock()
	close(call.done)
}

// refreshKeys replaces the cached keys with the issuer's current JWKS,
// and records the outcome for unknown-kid lookups.
func (v *Verifier) refreshKeys(ctx context.Context, ks *keySet) error {
	fresh, err := v.fetchJWKS(ctx, ks.jwksURI)
	if err == nil {
		var all []jwkset.JWK
		if all, err = fresh.KeyReadAll(ctx); err == nil {
			err = ks.cached.KeyReplaceAll(ctx, all)
		}
	}
	ks.mu.Lock()
	defer ks.mu.Unlock()
	ks.lastFailed = err != nil
	if err == nil {
		ks.gen++
		clear(ks.absent) // what was absent may have been published since
	}
	return err
}

// rememberAbsent records that the successful refresh gen did not bring
// kid, unless another refresh has happened since.
func (ks *keySet) rememberAbsent(kid string, gen uint64, until time.Time) {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	if gen != ks.gen {
		return
	}
	if len(ks.absent) >= maxAbsent {
		now := time.Now()
		for k, u := range ks.absent {
			if !now.Before(u) {
				delete(ks.absent, k)
			}
		}
		if len(ks.absent) >= maxAbsent {
			return
		}
	}
	ks.absent[kid] = until
}

// publicOnly passes asymmetric public keys only. The algorithm allow-list
// already keeps HMAC out; this makes sure a symmetric ("oct") key in a JWKS
// can never be used as a verification key either.
func publicOnly(key any) (any, error) {
	switch k := key.(type) {
	case *rsa.PublicKey, *ecdsa.PublicKey, ed25519.PublicKey:
		return k, nil
	case jwt.VerificationKeySet: // the token has no kid: try every key
		var out jwt.VerificationKeySet
		for _, c := range k.Keys {
			if p, err := publicOnly(c); err == nil {
				out.Keys = append(out.Keys, p)
			}
		}
		return out, nil
	}
	return nil, refuse(CodeBadSignature, "token names a key that is not an asymmetric public key", nil)
}

// loadKeys returns the key set, running discovery and the first JWKS fetch
// if they have not succeeded yet. After a failure, attempts are spaced by
// RetryInterval; callers in between get the last failure at once.
func (v *Verifier) loadKeys(ctx context.Context) (*keySet, error) {
	if ks := v.keys.Load(); ks != nil {
		return ks, nil
	}
	arrived := time.Now()
	select {
	case v.initLock <- struct{}{}:
	case <-ctx.Done():
		return nil, unavailable(ctx.Err())
	}
	defer func() { <-v.initLock }()
	if ks := v.keys.Load(); ks != nil {
		return ks, nil
	}
	// An attempt that failed while this caller waited for its turn is its
	// answer too: otherwise callers queued behind a hanging issuer would
	// each wait for an attempt of their own, one after the other.
	if v.lastErr != nil && (time.Since(v.lastFail) < v.cfg.RetryInterval || v.lastFail.After(arrived)) {
		return nil, v.lastErr
	}
	ks, err := v.discover(ctx)
	if err != nil {
		ae := unavailable(err)
		// A caller that gave up is no evidence that the issuer is down.
		if ctx.Err() == nil {
			v.lastFail, v.lastErr = time.Now(), ae
			v.log.WarnContext(ctx, "OIDC discovery failed; requests with JWTs fail closed until it succeeds",
				"error", err.Error(), "retryIn", v.cfg.RetryInterval.String())
		}
		return nil, ae
	}
	v.keys.Store(ks)
	v.log.InfoContext(ctx, "OIDC issuer discovered", "jwksUri", ks.jwksURI)
	return ks, nil
}

// discover fetches the discovery document, checks it names our issuer, and
// fetches the JWKS it points to.
func (v *Verifier) discover(ctx context.Context) (*keySet, error) {
	jwksURI, err := v.fetchDiscovery(ctx)
	if err != nil {
		return nil, err
	}
	// The first fetch must succeed: starting with an empty set would turn
	// every token into "unknown kid" (401) behind the unknown-kid limiter,
	// instead of 503 and a retry after RetryInterval.
	cached, err := v.fetchJWKS(ctx, jwksURI)
	if err != nil {
		return nil, err
	}
	kf, err := keyfunc.New(keyfunc.Options{
		Storage: cached,
		// Keys marked for encryption are never verification keys; keys
		// without "use" are accepted, as many issuers omit it.
		UseWhitelist: []jwkset.USE{jwkset.UseSig, ""},
	})
	if err != nil {
		return nil, fmt.Errorf("keyfunc: %w", err)
	}
	ks := &keySet{
		jwksURI: jwksURI,
		kf:      kf,
		cached:  cached,
		// At most one refresh per interval (burst 1).
		unknownKID: rate.NewLimiter(rate.Every(v.cfg.RefreshUnknownKIDInterval), 1),
		absent:     map[string]time.Time{},
	}
	v.scheduleRefresh(ks, v.cfg.RefreshInterval)
	return ks, nil
}

// fetchJWKS fetches and parses the JWKS at uri into a fresh storage. A set
// without a usable key counts as a failure.
func (v *Verifier) fetchJWKS(ctx context.Context, uri string) (jwkset.Storage, error) {
	s, err := jwkset.NewStorageFromHTTP(uri, jwkset.HTTPClientStorageOptions{
		Client:      v.cfg.HTTPClient,
		Ctx:         ctx, // only the first fetch uses it: no refresh goroutine
		HTTPTimeout: v.cfg.HTTPTimeout,
	})
	if err != nil {
		return nil, fmt.Errorf("fetch JWKS: %w", err)
	}
	if all, err := s.KeyReadAll(ctx); err != nil || len(all) == 0 {
		return nil, fmt.Errorf("JWKS at %s holds no usable keys", uri)
	}
	return s, nil
}

// maybeRefresh starts the periodic JWKS refresh if it is due. It is driven
// by requests rather than a ticker: a Lambda process is frozen between
// invocations, and no goroutine outlives its purpose. The request that
// notices goes on with the cached keys; the refresh runs beside it,
// bounded by HTTPTimeout and by the ctx given to New.
func (v *Verifier) maybeRefresh(ks *keySet) {
	if v.cfg.RefreshInterval < 0 || v.life.Err() != nil || time.Now().UnixNano() < ks.nextRefresh.Load() || !ks.refreshing.CompareAndSwap(false, true) {
		return
	}
	go func() {
		defer ks.refreshing.Store(false)
		ctx, cancel := context.WithTimeout(v.life, v.cfg.HTTPTimeout)
		defer cancel()
		err := v.refreshKeys(ctx, ks)
		if err != nil {
			v.log.WarnContext(ctx, "periodic JWKS refresh failed; keeping cached keys", "jwksUri", ks.jwksURI, "error", err.Error())
			v.scheduleRefresh(ks, v.cfg.RetryInterval)
			return
		}
		v.scheduleRefresh(ks, v.cfg.RefreshInterval)
	}()
}

func (v *Verifier) scheduleRefresh(ks *keySet, in time.Duration) {
	ks.nextRefresh.Store(time.Now().Add(in).UnixNano())
}

// fetchDiscovery returns the jwks_uri of the issuer's discovery document.
func (v *Verifier) fetchDiscovery(ctx context.Context) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, v.cfg.HTTPTimeout)
	defer cancel()
	u := v.cfg.Issuer + "/.well-known/openid-configuration"
	if v.cfg.Issuer[len(v.cfg.Issuer)-1] == '/' {
		u = v.cfg.Issuer + ".well-known/openid-configuration"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return "", fmt.Errorf("discovery request: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := v.cfg.HTTPClient.Do(req)
	if err != nil {
		return "", fmt.Errorf("discovery: %w", err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxDiscoveryBytes))
		return "", fmt.Errorf("discovery: %s answered %d", u, resp.StatusCode)
	}
	var doc struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxDiscoveryBytes)).Decode(&doc); err != nil {
		return "", fmt.Errorf("discovery: %s: %w", u, err)
	}
	// OpenID Connect Discovery 1.0, section 4.3: the document must name
	// exactly the issuer it was fetched for, or it is not to be trusted.
	if doc.Issuer != v.cfg.Issuer {
		return "", fmt.Errorf("discovery: document names issuer %q, want %q", doc.Issuer, v.cfg.Issuer)
	}
	if err := checkURL(doc.JWKSURI); err != nil {
		return "", fmt.Errorf("discovery: jwks_uri: %w", err)
	}
	return doc.JWKSURI, nil
}
