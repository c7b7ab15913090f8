package oidc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/llmgw/apitokens/pkg/apierr"
	"github.com/llmgw/apitokens/pkg/auth"
)

// Defaults and limits of Config.
const (
	DefaultLeeway                    = 30 * time.Second
	MaxLeeway                        = 60 * time.Second
	DefaultRefreshUnknownKIDInterval = time.Minute
	DefaultRefreshInterval           = time.Hour
	DefaultRetryInterval             = 5 * time.Second
	DefaultHTTPTimeout               = 5 * time.Second

	// MaxTokenBytes bounds the work an unauthenticated caller can cause.
	// Real ID tokens are a few KiB even with many groups; API Gateway
	// refuses much larger headers anyway.
	MaxTokenBytes = auth.MaxCredentialBytes
)

// Refusal codes (apierr.Error.Code) returned by Verify.
const (
	CodeMalformed         = "jwt_malformed"
	CodeAlgNotAllowed     = "jwt_alg_not_allowed"
	CodeExpired           = "jwt_expired"
	CodeNotYetValid       = "jwt_not_yet_valid"
	CodeBadIssuer         = "jwt_bad_issuer"
	CodeBadAudience       = "jwt_bad_audience"
	CodeMissingExp        = "jwt_missing_exp"
	CodeBadSignature      = "jwt_bad_signature"
	CodeUnknownKID        = "jwt_unknown_kid"
	CodeNoUsername        = "jwt_no_username"
	CodeIssuerUnavailable = "issuer_unavailable"
)

// allowedAlgs is the explicit allow-list of signature algorithms. It holds
// asymmetric algorithms only: "none" would accept unsigned tokens, and any
// HMAC algorithm would let whoever knows the issuer's public key (everyone)
// sign tokens with it as the shared secret.
var allowedAlgs = []string{
	"RS256", "RS384", "RS512",
	"PS256", "PS384", "PS512",
	"ES256", "ES384", "ES512",
	"EdDSA",
}

// Config configures a Verifier. Issuer and Audience are required; every
// other field has a default.
type Config struct {
	// Issuer is AUTHORITY: the exact "iss" of accepted tokens and the base
	// of the discovery URL. It must be https, or http to a loopback host
	// (the local stack): keys fetched over plain HTTP from elsewhere could
	// be replaced in transit.
	Issuer string
	// Audience is CLIENT_ID; "aud" must contain it.
	Audience string
	// GroupsClaim is JWT_GROUPS_PROPERTY, the claim holding the groups. The
	// whole name is first tried as a literal key (so "cognito:groups" and
	// keys containing dots work); failing that, a dotted name is a path
	// into nested objects ("realm_access.roles"). Empty means no groups.
	GroupsClaim string
	// UsernameClaim is JWT_USERNAME_PROPERTY, the claim that names the
	// user. When set, the username is that claim and nothing else (looked
	// up like GroupsClaim: literal key first, then a dotted path), and a
	// token whose claim is missing, not a string, or blank is refused
	// (jwt_no_username). When empty, the first non-blank string among
	// cognito:username, username, preferred_username and sub is used.
	UsernameClaim string
	// HTTPClient fetches the discovery document and the JWKS. The default
	// has a Timeout of HTTPTimeout; every request is bounded by HTTPTimeout
	// in any case.
	HTTPClient *http.Client
	// HTTPTimeout bounds each request to the issuer (DefaultHTTPTimeout).
	// An unknown-kid refresh always gets the whole of it, however little
	// time the request that started it has left; that request, and any
	// other waiting for the same refresh, waits at most until its own
	// context ends.
	HTTPTimeout time.Duration
	// Leeway is the allowed clock skew for exp, nbf and iat (DefaultLeeway
	// when zero; at most MaxLeeway, since a long leeway extends the life of
	// stolen tokens).
	Leeway time.Duration
	// RefreshUnknownKIDInterval is the least time between two JWKS
	// refreshes triggered by tokens with an unknown kid
	// (DefaultRefreshUnknownKIDInterval). A token with an unknown kid
	// starts a refresh if one is allowed, waits for the refresh already
	// running if there is one, and is otherwise refused at once (or
	// Unavailable, if the last refresh failed); it never queues for a
	// later turn. So the interval (plus one JWKS fetch) is the worst-case
	// delay before a key the issuer rotated in is accepted, even under a
	// flood of made-up kids, and the load they put on the issuer is at
	// most one request per interval per process. A kid a refresh has
	// just proved absent is refused without spending the next refresh,
	// until some refresh succeeds again (or ten intervals pass).
	RefreshUnknownKIDInterval time.Duration
	// RefreshInterval is how old the cached JWKS may grow before a request
	// triggers a background refresh (DefaultRefreshInterval); the refresh
	// drops keys the issuer has withdrawn. Negative disables it (keys are
	// then refreshed only for unknown kids).
	RefreshInterval time.Duration
	// RetryInterval is the least time between two attempts at discovery
	// (and the first JWKS fetch) after one failed (DefaultRetryInterval).
	// Requests in between fail at once with issuer_unavailable instead of
	// each waiting on an issuer that is down.
	RetryInterval time.Duration
	// Now is the clock for exp, nbf and iat checks (time.Now if nil). Rate
	// limits use the real clock.
	Now func() time.Time
	// Logger receives discovery and refresh failures (slog.Default() if
	// nil). Tokens are never logged.
	Logger *slog.Logger
}

// Verifier verifies JWTs from one issuer for one audience. It is safe for
// concurrent use.
type Verifier struct {
	cfg    Config
	life   context.Context // parent of periodic JWKS refreshes
	parser *jwt.Parser
	log    *slog.Logger

	keys     atomic.Pointer[keySet] // nil until discovery and the first JWKS fetch succeed
	initLock chan struct{}          // one discovery at a time; a mutex that honours ctx
	lastFail time.Time              // guarded by initLock
	lastErr  *apierr.Error          // guarded by initLock
}

// New returns a Verifier for cfg. It does no I/O and starts no goroutine:
// discovery happens on the first Verify (or Warm), so an unreachable issuer
// never makes New fail or block. Once ctx is done, periodic JWKS refreshes
// stop (verification goes on with the cached keys, and unknown kids still
// cause refreshes). New fails only on unusable configuration.
func New(ctx context.Context, cfg Config) (*Verifier, error) {
	if err := checkURL(cfg.Issuer); err != nil {
		return nil, fmt.Errorf("oidc: issuer: %w", err)
	}
	if cfg.Audience == "" {
		return nil, errors.New("oidc: audience (CLIENT_ID) must be set")
	}
	if cfg.Leeway < 0 || cfg.Leeway > MaxLeeway {
		return nil, fmt.Errorf("oidc: leeway %v is outside 0..%v", cfg.Leeway, MaxLeeway)
	}
	if cfg.HTTPTimeout < 0 || cfg.RefreshUnknownKIDInterval < 0 || cfg.RetryInterval < 0 {
		return nil, errors.New("oidc: HTTPTimeout, RefreshUnknownKIDInterval and RetryInterval must not be negative")
	}
	setDefault(&cfg.Leeway, DefaultLeeway)
	setDefault(&cfg.HTTPTimeout, DefaultHTTPTimeout)
	setDefault(&cfg.RefreshUnknownKIDInterval, DefaultRefreshUnknownKIDInterval)
	setDefault(&cfg.RefreshInterval, DefaultRefreshInterval)
	setDefault(&cfg.RetryInterval, DefaultRetryInterval)
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: cfg.HTTPTimeout}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if ctx == nil {
		ctx = context.Background()
	}
	v := &Verifier{
		cfg:  cfg,
		life: ctx,
		log:  cfg.Logger.With("component", "oidc", "issuer", cfg.Issuer),
		parser: jwt.NewParser(
			jwt.WithValidMethods(allowedAlgs),
			jwt.WithIssuer(cfg.Issuer),
			jwt.WithAudience(cfg.Audience),
			jwt.WithExpirationRequired(),
			jwt.WithIssuedAt(),
			jwt.WithLeeway(cfg.Leeway),
			jwt.WithTimeFunc(cfg.Now),
			jwt.WithStrictDecoding(),
		),
		initLock: make(chan struct{}, 1),
	}
	return v, nil
}

func setDefault(d *time.Duration, def time.Duration) {
	if *d == 0 {
		*d = def
	}
}

// checkURL accepts https URLs, and http URLs to loopback hosts.
func checkURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("%q is not an absolute URL without query or fragment", raw)
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		switch u.Hostname() {
		case "localhost", "127.0.0.1", "::1":
			return nil
		}
		return fmt.Errorf("%q: plain http is allowed only to a loopback host", raw)
	}
	return fmt.Errorf("%q is not an http(s) URL", raw)
}

// Warm runs discovery and the first JWKS fetch now, if they have not
// succeeded yet, so that a Lambda's init phase can pay for them instead of
// its first request. An error is worth a log line, not a crash: Verify
// retries.
func (v *Verifier) Warm(ctx context.Context) error {
	_, err := v.loadKeys(ctx)
	return err
}

// Verify checks raw and returns the identity it carries. Refusals are
// *apierr.Error of kind Unauthenticated with one of the Code* reasons; if
// the issuer cannot be reached and no keys are cached, the error is of kind
// Unavailable. An error never comes with an identity.
func (v *Verifier) Verify(ctx context.Context, raw string) (auth.Identity, error) {
	if raw == "" {
		return auth.Identity{}, refuse(CodeMalformed, "token is empty", nil)
	}
	if len(raw) > MaxTokenBytes {
		return auth.Identity{}, refuse(CodeMalformed, fmt.Sprintf("token is longer than %d bytes", MaxTokenBytes), nil)
	}
	h, _, _, ok := split(raw)
	hdr, hok := decodeHeader(h)
	if !ok || !hok {
		return auth.Identity{}, refuse(CodeMalformed, "token is not a JWT", nil)
	}
	// Checked here, before any key lookup and before the shape check (an
	// "alg":"none" token has an empty signature segment), so that "none"
	// and HMAC tokens are refused without touching the network and with
	// their own code.
	if alg, _ := hdr["alg"].(string); !algAllowed(alg) {
		return auth.Identity{}, refuse(CodeAlgNotAllowed, "token signature algorithm is not allowed", nil)
	}
	// The decision core's shape check, done here after the algorithm check
	// so that a "none" token (empty signature) gets its own code.
	if !auth.LooksLikeJWT(raw) {
		return auth.Identity{}, refuse(CodeMalformed, "token is not a JWT", nil)
	}
	claims := jwt.MapClaims{}
	if _, err := v.parser.ParseWithClaims(raw, claims, v.keyfunc(ctx)); err != nil {
		return auth.Identity{}, classify(err, claims)
	}
	id := auth.Identity{
		Username: usernameOf(claims, v.cfg.UsernameClaim),
		Groups:   groupsOf(claims, v.cfg.GroupsClaim),
	}
	if id.Username == "" {
		return auth.Identity{}, refuse(CodeNoUsername, "token has no username claim", nil)
	}
	id.Subject, _ = claims["sub"].(string)
	if exp, err := claims.GetExpirationTime(); err == nil && exp != nil {
		id.ExpiresAt = exp.Unix()
	}
	return id, nil
}

func algAllowed(alg string) bool {
	for _, a := range allowedAlgs {
		if a == alg {
			return true
		}
	}
	return false
}

func refuse(code, msg string, cause error) *apierr.Error {
	return &apierr.Error{Kind: apierr.Unauthenticated, Code: code, Message: "invalid token: " + msg, Err: cause}
}

func unavailable(cause error) *apierr.Error {
	return &apierr.Error{Kind: apierr.Unavailable, Code: CodeIssuerUnavailable, Message: "the identity provider cannot be reached", Err: cause}
}

// classify turns a golang-jwt error into a refusal. Errors from our key
// function are already *apierr.Error and pass through. The causes kept for
// logs are golang-jwt's and keyfunc's own texts, which name claims, never
// their values or the token.
func classify(err error, claims jwt.MapClaims) *apierr.Error {
	var ae *apierr.Error
	if errors.As(err, &ae) {
		return ae
	}
	switch {
	case errors.Is(err, jwt.ErrTokenMalformed):
		return refuse(CodeMalformed, "token is not a well-formed JWT", err)
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return refuse(CodeBadSignature, "token signature is invalid", err)
	case errors.Is(err, jwt.ErrTokenInvalidClaims):
		return classifyClaims(err, claims)
	}
	return refuse(CodeBadSignature, "token cannot be verified", err)
}

// classifyClaims picks one reason when several claims fail at once:
// malformed claims first, then "not for us" (issuer, audience), then time.
func classifyClaims(err error, claims jwt.MapClaims) *apierr.Error {
	_, hasExp := claims["exp"]
	_, hasIss := claims["iss"]
	switch {
	case errors.Is(err, jwt.ErrInvalidType):
		return refuse(CodeMalformed, "a registered claim has the wrong type", err)
	case !hasExp:
		return refuse(CodeMissingExp, "token has no expiry (exp)", err)
	case errors.Is(err, jwt.ErrTokenInvalidIssuer) || !hasIss:
		return refuse(CodeBadIssuer, "token is from another issuer", err)
	case errors.Is(err, jwt.ErrTokenInvalidAudience) || errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return refuse(CodeBadAudience, "token is for another audience", err)
	case errors.Is(err, jwt.ErrTokenExpired):
		return refuse(CodeExpired, "token has expired", err)
	case errors.Is(err, jwt.ErrTokenNotValidYet) || errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return refuse(CodeNotYetValid, "token is not valid yet", err)
	}
	return refuse(CodeMalformed, "token claims are invalid", err)
}

// usernameClaims are tried in order; the same rule applies everywhere a
// JWT becomes a principal (README, Authentication).
var usernameClaims = []string{"cognito:username", "username", "preferred_username", "sub"}

func usernameOf(claims map[string]any, name string) string {
	if name != "" {
		v, _ := claimAt(claims, name)
		if s, ok := v.(string); ok && strings.TrimSpace(s) != "" {
			return s
		}
		return ""
	}
	for _, c := range usernameClaims {
		if s, ok := claims[c].(string); ok && strings.TrimSpace(s) != "" {
			return s
		}
	}
	return ""
}

// groupsOf reads the groups claim; see Identity.Groups for the rules.
func groupsOf(claims map[string]any, name string) []string {
	out := []string{}
	if name == "" {
		return out
	}
	v, ok := claimAt(claims, name)
	if !ok {
		return out
	}
	switch g := v.(type) {
	case string:
		if g != "" {
			out = append(out, g)
		}
	case []any:
		for _, e := range g {
			s, ok := e.(string)
			if !ok {
				return []string{}
			}
			if s != "" {
				out = append(out, s)
			}
		}
	}
	return out
}

// claimAt looks name up as a literal key first, then as a dotted path.
func claimAt(claims map[string]any, name string) (any, bool) {
	if v, ok := claims[name]; ok {
		return v, true
	}
	if !strings.Contains(name, ".") {
		return nil, false
	}
	var cur any = claims
	for _, p := range strings.Split(name, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[p]; !ok {
			return nil, false
		}
	}
	return cur, true
}

// VerifyJWT is Verify under the name the decision core's JWTVerifier
// interface gives it.
func (v *Verifier) VerifyJWT(ctx context.Context, raw string) (auth.Identity, error) {
	return v.Verify(ctx, raw)
}
