package devoidc

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"
)

// KeyType names a signing algorithm and, with it, the kind of key generated.
type KeyType string

// Supported key types.
const (
	RS256 KeyType = "RS256" // RSA 2048-bit, PKCS #1 v1.5 with SHA-256 (the default; what Cognito uses)
	ES256 KeyType = "ES256" // ECDSA P-256 with SHA-256
	EdDSA KeyType = "EdDSA" // Ed25519
)

// Paths served, relative to the issuer URL.
const (
	PathDiscovery = "/.well-known/openid-configuration"
	PathJWKS      = "/.well-known/jwks.json"
	PathJWKSAlias = "/jwks"
	PathToken     = "/token"
	PathAuthorize = "/authorize"
	PathLogout    = "/logout"
)

// Limits of the token endpoint.
const (
	DefaultExpiresIn = 3600  // seconds
	MaxExpiresIn     = 86400 // seconds
	MaxUsernameLen   = 128   // characters
	MaxGroupLen      = 128   // characters
	MaxGroups        = 100
	maxBodyBytes     = 16 << 10
)

// Options configure an Issuer.
type Options struct {
	// IssuerURL is the public URL the issuer is reached at, e.g.
	// "http://127.0.0.1:8080/dev-oidc". It becomes the "iss" claim and the
	// base of every URL in the discovery document, so it must be what
	// verifiers are configured with (AUTHORITY). A trailing slash is removed.
	IssuerURL string
	// Audience is the "aud" claim of issued tokens (CLIENT_ID).
	Audience string
	// KeyType of the first signing key; RS256 if empty.
	KeyType KeyType
	// GroupsClaim is where /token puts the groups; "groups" if empty. A
	// dotted name nests ("realm_access.roles" -> {"realm_access":{"roles":
	// [...]}}), so that verifiers' nested-path handling can be tested.
	GroupsClaim string
	// Now is the clock for "iat" and "exp", and for the expiry of sign-in
	// requests and authorization codes; time.Now if nil.
	Now func() time.Time

	// RedirectOrigins are the origins (scheme://host[:port], e.g.
	// "http://127.0.0.1:8080") a browser sign-in may return to: the
	// redirect_uri of /authorize and the post_logout_redirect_uri of
	// /logout must have exactly one of them as scheme, host and port. None
	// means no browser sign-in is possible.
	RedirectOrigins []string
	// AdminGroups, APIUserGroups and PlainUserGroups are the groups of the
	// sign-in page's one-click users "Admin", "API user" and "User without
	// API access" (e.g. lisa-admins,lisa-users; lisa-users,lisa-api-users;
	// lisa-users). A nil list gives that user no groups.
	AdminGroups, APIUserGroups, PlainUserGroups []string
}

// Issuer is a development OIDC issuer. It is safe for concurrent use.
type Issuer struct {
	issuer      string
	basePath    string
	audience    string
	groupsClaim string
	now         func() time.Time

	redirectOrigins []string
	presets         []preset
	pageCSP         string
	flows           flows

	mu      sync.RWMutex
	keys    []*signingKey // in JWKS order
	current *signingKey

	down          atomic.Bool
	jwksHits      atomic.Int64
	discoveryHits atomic.Int64
}

type signingKey struct {
	kid    string
	typ    KeyType
	method jwt.SigningMethod
	signer crypto.Signer
}

// New returns an issuer with one signing key of opts.KeyType.
func New(opts Options) (*Issuer, error) {
	iss := strings.TrimRight(strings.TrimSpace(opts.IssuerURL), "/")
	u, err := url.Parse(iss)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("devoidc: IssuerURL %q must be an absolute http(s) URL without query or fragment", opts.IssuerURL)
	}
	if opts.Audience == "" {
		return nil, errors.New("devoidc: Audience must be set")
	}
	origins, err := normalizeOrigins(opts.RedirectOrigins)
	if err != nil {
		return nil, err
	}
	i := &Issuer{
		issuer:          iss,
		basePath:        u.Path,
		audience:        opts.Audience,
		groupsClaim:     opts.GroupsClaim,
		now:             opts.Now,
		redirectOrigins: origins,
		pageCSP:         contentSecurityPolicy(origins),
		presets: []preset{
			{ID: PresetAdmin, Label: "Admin", Username: PresetAdminUsername, Groups: slices.Clone(opts.AdminGroups)},
			{ID: PresetAPIUser, Label: "API user", Username: PresetAPIUserUsername, Groups: slices.Clone(opts.APIUserGroups)},
			{ID: PresetPlainUser, Label: "User without API access", Username: PresetPlainUserUsername, Groups: slices.Clone(opts.PlainUserGroups)},
		},
		flows: flows{pending: map[string]*authRequest{}, codes: map[string]*grant{}},
	}
	if i.groupsClaim == "" {
		i.groupsClaim = "groups"
	}
	if i.now == nil {
		i.now = time.Now
	}
	kt := opts.KeyType
	if kt == "" {
		kt = RS256
	}
	if _, err := i.Rotate(kt); err != nil {
		return nil, err
	}
	return i, nil
}

// URL returns the issuer URL ("iss"), without a trailing slash.
func (i *Issuer) URL() string { return i.issuer }

// Audience returns the "aud" of issued tokens.
func (i *Issuer) Audience() string { return i.audience }

// JWKSURL returns the URL of the key set, as the discovery document names it.
func (i *Issuer) JWKSURL() string { return i.issuer + PathJWKS }

// AddKey generates a key of type kt and publishes it in the JWKS without
// making it the signing key, as an issuer does ahead of a rotation.
func (i *Issuer) AddKey(kt KeyType) (kid string, err error) {
	k, err := newSigningKey(kt)
	if err != nil {
		return "", err
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	i.keys = append(i.keys, k)
	return k.kid, nil
}

// Rotate generates a key of type kt, publishes it and makes it the signing
// key. Earlier keys stay in the JWKS (so tokens they signed still verify)
// until RemoveKey.
func (i *Issuer) Rotate(kt KeyType) (kid string, err error) {
	k, err := newSigningKey(kt)
	if err != nil {
		return "", err
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	i.keys = append(i.keys, k)
	i.current = k
	return k.kid, nil
}

// UseKey makes the published key kid the signing key.
func (i *Issuer) UseKey(kid string) error {
	i.mu.Lock()
	defer i.mu.Unlock()
	for _, k := range i.keys {
		if k.kid == kid {
			i.current = k
			return nil
		}
	}
	return fmt.Errorf("devoidc: no key %q", kid)
}

// RemoveKey withdraws key kid from the JWKS, as an issuer does once a
// rotated-out key's tokens have expired. The current signing key cannot be
// removed; Rotate first.
func (i *Issuer) RemoveKey(kid string) error {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.current != nil && i.current.kid == kid {
		return fmt.Errorf("devoidc: key %q is the current signing key", kid)
	}
	for n, k := range i.keys {
		if k.kid == kid {
			i.keys = append(i.keys[:n:n], i.keys[n+1:]...)
			return nil
		}
	}
	return fmt.Errorf("devoidc: no key %q", kid)
}

// CurrentKID returns the kid of the signing key.
func (i *Issuer) CurrentKID() string {
	i.mu.RLock()
	defer i.mu.RUnlock()
	return i.current.kid
}

// KIDs returns the kids published in the JWKS, in order.
func (i *Issuer) KIDs() []string {
	i.mu.RLock()
	defer i.mu.RUnlock()
	kids := make([]string, len(i.keys))
	for n, k := range i.keys {
		kids[n] = k.kid
	}
	return kids
}

// PublicKey returns the public half of key kid (for example to mount an
// algorithm-confusion attack on a verifier in a test).
func (i *Issuer) PublicKey(kid string) (crypto.PublicKey, bool) {
	i.mu.RLock()
	defer i.mu.RUnlock()
	for _, k := range i.keys {
		if k.kid == kid {
			return k.signer.Public(), true
		}
	}
	return nil, false
}

// SetDown simulates an outage: while down, every endpoint answers 503.
func (i *Issuer) SetDown(down bool) { i.down.Store(down) }

// JWKSHits counts requests to the JWKS endpoint, including those refused
// while down: it is how tests observe a verifier's key refreshes.
func (i *Issuer) JWKSHits() int { return int(i.jwksHits.Load()) }

// DiscoveryHits counts requests for the discovery document, including those
// refused while down.
func (i *Issuer) DiscoveryHits() int { return int(i.discoveryHits.Load()) }

// Claims returns the claims /token would issue for username and groups,
// valid for ttl from now. Tests change them before calling Sign.
func (i *Issuer) Claims(username string, groups []string, ttl time.Duration) jwt.MapClaims {
	now := i.now()
	if groups == nil {
		groups = []string{}
	}
	c := jwt.MapClaims{
		"iss":                i.issuer,
		"aud":                i.audience,
		"sub":                username,
		"username":           username,
		"preferred_username": username,
		"token_use":          "id",
		"iat":                now.Unix(),
		"exp":                now.Add(ttl).Unix(),
		"jti":                randomHex(16),
	}
	setPath(c, i.groupsClaim, groups)
	return c
}

// Token signs Claims(username, groups, ttl) with the current key.
func (i *Issuer) Token(username string, groups []string, ttl time.Duration) (string, error) {
	return i.Sign(i.Claims(username, groups, ttl))
}

// Sign signs claims, exactly as given, with the current key; the header
// carries its kid and algorithm.
func (i *Issuer) Sign(claims jwt.MapClaims) (string, error) {
	i.mu.RLock()
	k := i.current
	i.mu.RUnlock()
	return k.sign(claims)
}

// SignWithKey signs claims with the published key kid, current or not.
func (i *Issuer) SignWithKey(kid string, claims jwt.MapClaims) (string, error) {
	i.mu.RLock()
	var k *signingKey
	for _, c := range i.keys {
		if c.kid == kid {
			k = c
			break
		}
	}
	i.mu.RUnlock()
	if k == nil {
		return "", fmt.Errorf("devoidc: no key %q", kid)
	}
	return k.sign(claims)
}

// SignWithHeader signs claims with the current key under a header made of
// "alg" (the key's; an "alg" in header is ignored) and exactly the other
// fields of header - so a test can, for example, leave out the kid.
func (i *Issuer) SignWithHeader(header map[string]any, claims jwt.MapClaims) (string, error) {
	i.mu.RLock()
	k := i.current
	i.mu.RUnlock()
	t := jwt.NewWithClaims(k.method, claims)
	t.Header = map[string]any{"alg": k.method.Alg()}
	for name, v := range header {
		if name != "alg" {
			t.Header[name] = v
		}
	}
	return t.SignedString(k.signer)
}

func (k *signingKey) sign(claims jwt.MapClaims) (string, error) {
	t := jwt.NewWithClaims(k.method, claims)
	t.Header["kid"] = k.kid
	return t.SignedString(k.signer)
}

func newSigningKey(kt KeyType) (*signingKey, error) {
	k := &signingKey{kid: "dev-" + randomHex(8), typ: kt}
	var err error
	switch kt {
	case RS256:
		k.method = jwt.SigningMethodRS256
		k.signer, err = rsa.GenerateKey(rand.Reader, 2048)
	case ES256:
		k.method = jwt.SigningMethodES256
		k.signer, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case EdDSA:
		k.method = jwt.SigningMethodEdDSA
		_, k.signer, err = ed25519.GenerateKey(rand.Reader)
	default:
		return nil, fmt.Errorf("devoidc: unsupported key type %q (want RS256, ES256 or EdDSA)", kt)
	}
	if err != nil {
		return nil, fmt.Errorf("devoidc: generate %s key: %w", kt, err)
	}
	return k, nil
}

// randomHex returns n random bytes, hex-encoded.
func randomHex(n int) string { return hex.EncodeToString(randomBytes(n)) }

// randomBytes returns n random bytes. crypto/rand.Read never fails on
// supported platforms (it panics rather than return an error).
func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

// setPath stores v in m under a dotted path, creating nested objects.
func setPath(m map[string]any, path string, v any) {
	parts := strings.Split(path, ".")
	for _, p := range parts[:len(parts)-1] {
		next, ok := m[p].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[p] = next
		}
		m = next
	}
	m[parts[len(parts)-1]] = v
}

// jwks returns the public key set as served.
func (i *Issuer) jwks() (jwkset.JWKSMarshal, error) {
	i.mu.RLock()
	keys := append([]*signingKey(nil), i.keys...)
	i.mu.RUnlock()
	set := jwkset.JWKSMarshal{Keys: make([]jwkset.JWKMarshal, 0, len(keys))}
	for _, k := range keys {
		j, err := jwkset.NewJWKFromKey(k.signer.Public(), jwkset.JWKOptions{
			Metadata: jwkset.JWKMetadataOptions{
				ALG: jwkset.ALG(k.method.Alg()),
				KID: k.kid,
				USE: jwkset.UseSig,
			},
		})
		if err != nil {
			return jwkset.JWKSMarshal{}, fmt.Errorf("devoidc: marshal key %q: %w", k.kid, err)
		}
		set.Keys = append(set.Keys, j.Marshal())
	}
	return set, nil
}

func (i *Issuer) algorithms() []string {
	i.mu.RLock()
	defer i.mu.RUnlock()
	var algs []string
	seen := map[string]bool{}
	for _, k := range i.keys {
		if a := k.method.Alg(); !seen[a] {
			seen[a] = true
			algs = append(algs, a)
		}
	}
	return algs
}

// NewTestServer starts an Issuer on a loopback httptest.Server, with
// opts.IssuerURL set to the server's URL plus "/dev-oidc" (so that path
// handling is exercised as in the local stack) and, if opts.RedirectOrigins
// is nil, the server's own origin as the only redirect origin. The caller
// closes the server.
func NewTestServer(opts Options) (*Issuer, *httptest.Server, error) {
	srv := httptest.NewUnstartedServer(nil)
	origin := "http://" + srv.Listener.Addr().String()
	opts.IssuerURL = origin + "/dev-oidc"
	if opts.RedirectOrigins == nil {
		opts.RedirectOrigins = []string{origin}
	}
	iss, err := New(opts)
	if err != nil {
		srv.Close()
		return nil, nil, err
	}
	srv.Config.Handler = iss
	srv.Start()
	return iss, srv, nil
}
