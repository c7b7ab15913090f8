package auth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/llmgw/apitokens/pkg/apierr"
	"github.com/llmgw/apitokens/pkg/secret"
	"github.com/llmgw/apitokens/pkg/store"
)

// TokenReader is the one store method the core needs.
type TokenReader interface {
	GetByHash(ctx context.Context, hash string) (store.Token, error)
}

// Identity is who a verified JWT names, and until when.
type Identity struct {
	// Username is the claim JWT_USERNAME_PROPERTY names or, when that is
	// not set, the first non-blank string among cognito:username,
	// username, preferred_username and sub.
	Username string
	// Groups is the JWT_GROUPS_PROPERTY claim: a JSON array of strings,
	// or a single string taken as one group. A missing or malformed claim
	// yields no groups: it must not grant anything. Never nil.
	Groups []string
	// Subject is the "sub" claim, if it is a string.
	Subject string
	// ExpiresAt is the token's exp, Unix seconds: a cache of this identity
	// must not outlive it.
	ExpiresAt int64
}

// JWTVerifier verifies an OIDC token and returns who it names. Refusals
// are apierr.Unauthenticated; an unreachable issuer is apierr.Unavailable.
type JWTVerifier interface {
	VerifyJWT(ctx context.Context, raw string) (Identity, error)
}

// Options configure a Core.
type Options struct {
	Tokens TokenReader
	// JWT verifies OIDC tokens; nil refuses every JWT.
	JWT    JWTVerifier
	Groups Groups
	// CacheTTL is how long a decision is reused in-process:
	// TOKEN_CACHE_SECONDS, and so, on a path that caches API tokens (the
	// serve path), the worst-case delay before a revocation takes effect.
	// API-token decisions are cached allowed and refused (kept apart, so
	// refusals cannot evict allowed ones); JWTs only once verified (so
	// forged tokens cannot fill the cache), and never past their exp. Zero
	// disables the cache.
	CacheTTL time.Duration
	// FreshTokens turns the cache off for API tokens (JWTs, which cannot
	// be revoked, are still cached): every decision about an API token is
	// one strongly consistent read. The management API uses it, so that a
	// deleted token cannot act again, not even within CacheTTL.
	FreshTokens bool
	// CacheSize bounds the cache; default 10,000 entries.
	CacheSize int
	// LastUsed, if set, records when API tokens are used: after an
	// allowed API-token decision (cache hit or not) at most once per
	// LastUsedResolution per token in this process
	// (LAST_USED_RESOLUTION_SECONDS). Nil or a zero resolution records
	// nothing.
	LastUsed           LastUsedWriter
	LastUsedResolution time.Duration
	Now                func() time.Time
	Logger             *slog.Logger

	// TokenFormat says which API tokens are worth a read
	// (secret.Format.Classify): hex tokens always, prefixed ones only with
	// TokenFormat's prefix and a matching checksum. Every other credential
	// that is not a JWT is refused as malformed_token without a read. The
	// zero value is secret.Hex.
	TokenFormat secret.Format
}

// Core is the decision core. It is safe for concurrent use.
type Core struct {
	fresh  bool
	format secret.Format
	errs   malformedErrs
	tokens TokenReader
	jwt    JWTVerifier
	groups Groups
	now    func() time.Time
	log    *slog.Logger
	cache  *cache
	used   *lastUsed // nil: use is not recorded
}

var _ Authenticator = (*Core)(nil)

// NewCore returns a Core.
func NewCore(o Options) *Core {
	c := &Core{tokens: o.Tokens, jwt: o.JWT, groups: o.Groups, now: o.Now, log: o.Logger, fresh: o.FreshTokens, format: o.TokenFormat}
	general := msgMalformed
	if c.format.IsPrefixed() {
		general += " or a " + c.format.Prefix + "_ token"
	}
	c.errs = newMalformedErrs(general)
	if c.now == nil {
		c.now = time.Now
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if o.CacheTTL > 0 {
		size := o.CacheSize
		if size <= 0 {
			size = 10000
		}
		c.cache = newCache(o.CacheTTL, size)
	}
	if o.LastUsed != nil && o.LastUsedResolution > 0 {
		c.used = newLastUsed(o.LastUsed, o.LastUsedResolution, c.log)
	}
	return c
}

// Refusals of API tokens. Messages never contain the credential.
var (
	errUnknown    = apierr.New(apierr.Unauthenticated, "unknown or revoked token").WithCode("unknown_token")
	errLegacy     = apierr.New(apierr.Unauthenticated, "legacy tokens are no longer accepted: create a new token").WithCode("legacy_token")
	errExpired    = apierr.New(apierr.Unauthenticated, "API token has expired: create a new token").WithCode("expired_token")
	errDisabled   = apierr.New(apierr.Unauthenticated, "API token is disabled: ask its owner or an admin to enable it").WithCode("token_disabled")
	errJWTExpired = apierr.New(apierr.Unauthenticated, "token has expired: sign in again").WithCode("expired_token")
	errNoJWT      = apierr.New(apierr.Unauthenticated, "JWT authentication is not configured on this gateway: use an API token").WithCode("jwt_disabled")
	errUserGroup  = apierr.New(apierr.Unauthenticated, "user is not in the group that may use this gateway: ask an administrator for access").WithCode("not_in_user_group")
)

// A credential that is neither a JWT nor shaped like an API token is
// refused with codeMalformed and a message that says what is wrong with
// it, never what it is.
const (
	codeMalformed = "malformed_token"
	msgMalformed  = "not an API token: expected 128 lowercase hex characters"
)

// malformedErrs are a Core's refusals of malformed credentials that need
// no numbers, built once: their general message names every format the
// Core accepts.
type malformedErrs struct {
	general, uuid, openAI, space, upper *apierr.Error
}

func newMalformedErrs(general string) malformedErrs {
	e := func(hint string) *apierr.Error {
		return apierr.New(apierr.Unauthenticated, "%s%s", general, hint).WithCode(codeMalformed)
	}
	return malformedErrs{
		general: e(""),
		uuid:    e("; this is a token id (tokenUUID), not the token: the token is shown once, at creation"),
		openAI:  e("; this is an OpenAI-style key, not a token of this gateway"),
		space:   e("; it contains whitespace"),
		upper:   e("; API tokens are lowercase"),
	}
}

// malformed says why cred, which c.format classifies as secret.Malformed,
// is not an API token. Each hint is given only where it is certain from
// the shape alone; anything else gets the general message. The checks are
// cheap and run only on refusals.
func (c *Core) malformed(cred string) error {
	general := c.errs.general.Message
	if p := c.format.Prefix; p != "" {
		// A credential that starts with this gateway's prefix was meant
		// to be a prefixed token: say what is wrong with it as one.
		switch err := secret.CheckPrefixed(cred, p); {
		case err == secret.ErrPrefix:
		case strings.ContainsFunc(cred, unicode.IsSpace):
			return c.errs.space
		case err == secret.ErrLength && len(cred) < c.format.Len():
			return apierr.New(apierr.Unauthenticated, "%s; it has %d characters, expected %d: truncated?", general, len(cred), c.format.Len()).WithCode(codeMalformed)
		case err == secret.ErrLength:
			return apierr.New(apierr.Unauthenticated, "%s; it has %d characters, expected %d", general, len(cred), c.format.Len()).WithCode(codeMalformed)
		case err == secret.ErrChecksum:
			return apierr.New(apierr.Unauthenticated, "%s; its checksum does not match: a character is mistyped or damaged", general).WithCode(codeMalformed)
		default:
			return apierr.New(apierr.Unauthenticated, "%s; it has characters a %s_ token cannot hold", general, p).WithCode(codeMalformed)
		}
		// Shaped like a prefixed token under another prefix.
		if i := strings.IndexByte(cred, '_'); i > 0 && secret.ValidPrefix(cred[:i]) == nil && len(cred)-i-1 == secret.BodyLen+secret.CheckLen {
			return apierr.New(apierr.Unauthenticated, "%s; its prefix is not %s_: a token of another gateway?", general, p).WithCode(codeMalformed)
		}
	}
	switch {
	case strings.HasPrefix(cred, "sk-"):
		return c.errs.openAI
	case isUUID(cred):
		return c.errs.uuid
	case strings.ContainsFunc(cred, unicode.IsSpace):
		return c.errs.space
	}
	lower, upper := true, false
	for i := 0; i < len(cred); i++ {
		switch ch := cred[i]; {
		case '0' <= ch && ch <= '9' || 'a' <= ch && ch <= 'f':
		case 'A' <= ch && ch <= 'F':
			upper = true
		default:
			lower = false
		}
	}
	switch {
	case !lower:
		return c.errs.general
	case len(cred) == secret.Len: // hex of the right length, so upper-case
		return c.errs.upper
	case len(cred) < secret.Len:
		return apierr.New(apierr.Unauthenticated, "%s; it has %d characters, expected %d: truncated?", general, len(cred), secret.Len).WithCode(codeMalformed)
	case upper:
		return apierr.New(apierr.Unauthenticated, "%s; it has %d characters, expected %d, and API tokens are lowercase", general, len(cred), secret.Len).WithCode(codeMalformed)
	default:
		return apierr.New(apierr.Unauthenticated, "%s; it has %d characters, expected %d", general, len(cred), secret.Len).WithCode(codeMalformed)
	}
}

// isUUID reports whether s has the textual shape of a UUID, as token ids
// are shown: 8-4-4-4-12 hex digits of either case.
func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if i == 8 || i == 13 || i == 18 || i == 23 {
			if c != '-' {
				return false
			}
			continue
		}
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// Authenticate implements Authenticator.
func (c *Core) Authenticate(ctx context.Context, h http.Header) (Principal, error) {
	cred, err := Credential(h)
	if err != nil {
		return c.refuse(ctx, "", err)
	}
	if LooksLikeJWT(cred) {
		p, err := c.fromJWT(ctx, cred)
		if err != nil {
			return c.refuse(ctx, AuthJWT, err)
		}
		return p, nil
	}
	p, err := c.fromAPIToken(ctx, cred)
	if err != nil {
		return c.refuse(ctx, AuthAPIToken, err)
	}
	return p, nil
}

func (c *Core) fromJWT(ctx context.Context, raw string) (Principal, error) {
	if c.jwt == nil {
		return Principal{}, errNoJWT
	}
	// A JWT's signature and claims cannot change, so a verified one need
	// not be verified again while cached: a repeated call skips the
	// signature check and the JSON parsing, and the TTL still bounds how
	// long a key the issuer withdraws keeps working.
	var sum [sha256.Size]byte
	now := c.now()
	if c.cache != nil {
		sum = sha256.Sum256([]byte(raw))
		if e, ok := c.cache.get(sum, now); ok {
			return c.decide(e, now)
		}
	}
	id, err := c.jwt.VerifyJWT(ctx, raw)
	if err != nil {
		return Principal{}, err
	}
	groups := id.Groups
	if groups == nil {
		groups = []string{}
	}
	p := Principal{Username: id.Username, Groups: groups, AuthType: AuthJWT, ExpiresAt: id.ExpiresAt}
	p.IsAdmin, p.IsAPIUser = c.groups.Roles(groups)
	if c.groups.User != "" && !p.IsAdmin && !p.IsAPIUser && !slices.Contains(groups, c.groups.User) {
		return Principal{}, errUserGroup
	}
	// Cached until the earlier of the TTL and exp (decide checks exp at
	// use). A token already past its exp was accepted within the
	// verifier's leeway; it is not cached.
	if c.cache != nil && now.Unix() < id.ExpiresAt {
		c.cache.put(sum, entry{principal: p, expiration: id.ExpiresAt}, now)
	}
	return p, nil
}

func (c *Core) fromAPIToken(ctx context.Context, cred string) (Principal, error) {
	// The shape check comes first: a truncated, whitespace-damaged or
	// mistyped token (a prefixed token's checksum) never costs a database
	// read.
	if c.format.Classify(cred) == secret.Malformed {
		return Principal{}, c.malformed(cred)
	}
	sum := secret.Sum(cred)
	now := c.now()
	cached := c.cache != nil && !c.fresh
	if cached {
		if e, ok := c.cache.get(sum, now); ok {
			return c.used.note(ctx, sum, now)(c.decide(e, now))
		}
	}
	t, err := c.tokens.GetByHash(ctx, hex.EncodeToString(sum[:]))
	var e entry
	switch {
	case errors.Is(err, store.ErrNotFound):
		e = entry{err: errUnknown}
	case err != nil:
		// Not cached: the next request tries the store again.
		return Principal{}, apierr.Wrap(apierr.Unavailable, err, "token store unavailable").WithCode("store_unavailable")
	case t.Legacy || t.UUID == "":
		e = entry{err: errLegacy}
	case t.Disabled:
		e = entry{err: errDisabled}
	default:
		p := Principal{Username: t.Username, Groups: t.Groups, AuthType: AuthAPIToken, TokenUUID: t.UUID,
			ExpiresAt: t.Expiration, IsSystemToken: t.IsSystem, Limits: t.Limits, UsageKey: store.UsageKeyOf(t)}
		if p.Groups == nil {
			p.Groups = []string{}
		}
		p.IsAdmin, p.IsAPIUser = c.groups.Roles(p.Groups)
		e = entry{principal: p, expiration: t.Expiration}
	}
	if cached {
		c.cache.put(sum, e, now)
	}
	return c.used.note(ctx, sum, now)(c.decide(e, now))
}

// decide applies the expiry at the moment of use, so a cached positive
// entry never outlives its token.
func (c *Core) decide(e entry, now time.Time) (Principal, error) {
	if e.err != nil {
		return Principal{}, e.err
	}
	if now.Unix() >= e.expiration {
		if e.principal.AuthType == AuthJWT {
			return Principal{}, errJWTExpired
		}
		return Principal{}, errExpired
	}
	p := e.principal
	p.Groups = slices.Clone(p.Groups)
	p.Limits = p.Limits.Clone()
	return p, nil
}

// refuse logs a refusal with its reason code (never the credential) and
// returns err unchanged.
func (c *Core) refuse(ctx context.Context, t AuthType, err error) (Principal, error) {
	attrs := []any{slog.String("authType", string(t)), slog.String("reason", apierr.CodeOf(err))}
	if apierr.KindOf(err) == apierr.Unauthenticated {
		c.log.InfoContext(ctx, "authentication refused", attrs...)
	} else {
		c.log.ErrorContext(ctx, "authentication failed", append(attrs, slog.String("error", err.Error()))...)
	}
	return Principal{}, err
}
