package auth

import (
	"net/http"
	"strings"

	"github.com/llmgw/apitokens/pkg/apierr"
)

// Header names a credential may arrive in. Authorization wins when both
// are present.
const (
	HeaderAuthorization = "Authorization"
	HeaderAPIKey        = "Api-Key"
)

// MaxCredentialBytes bounds what is even looked at: a JWT from a real IdP
// is a few KiB; anything far larger is refused before parsing.
const MaxCredentialBytes = 16 << 10

var (
	errSeveral      = apierr.New(apierr.Unauthenticated, "several credentials: send one Authorization or Api-Key header, once").WithCode("duplicate_credential")
	errNoCredential = apierr.New(apierr.Unauthenticated, "no credential: send Authorization: Bearer <token> or Api-Key: <token>").WithCode("missing_credential")
	errTooLong      = apierr.New(apierr.Unauthenticated, "credential is too long (over 16 KiB): not an API token or a JWT").WithCode("malformed_credential")
)

// Credential extracts the presented credential from h: the value of
// "Authorization: Bearer X", a bare "Authorization: X", or "Api-Key: X".
// Header names and the Bearer scheme are case-insensitive and surrounding
// whitespace is trimmed; whitespace inside the value is kept, so that a
// damaged token is refused rather than silently repaired.
//
// A header that arrives more than once (by any spelling of its name) is
// refused: API Gateway hands an authorizer the first value and an ALB in
// single-value mode the last, so accepting either would let the two paths
// decide one request differently.
func Credential(h http.Header) (string, error) {
	authz, na := headerValue(h, HeaderAuthorization)
	apiKey, nk := headerValue(h, HeaderAPIKey)
	if na > 1 || nk > 1 {
		return "", errSeveral
	}
	// Authorization (with its scheme stripped) wins; Api-Key is the
	// fallback. stripBearer leaves a value without the scheme unchanged.
	for _, v := range [...]string{stripBearer(strings.TrimSpace(authz)), strings.TrimSpace(apiKey)} {
		if v == "" {
			continue
		}
		if len(v) > MaxCredentialBytes {
			return "", errTooLong
		}
		return v, nil
	}
	return "", errNoCredential
}

// headerValue finds name in h case-insensitively, whether or not h was
// built with canonical keys (API Gateway and ALB events are not), and
// returns its first value and how many values there are under every
// spelling of the name.
func headerValue(h http.Header, name string) (string, int) {
	// name is one of the canonical constants above, so the common case is
	// one map lookup with no key canonicalisation on this hot path; the
	// loop over h, small for real requests, finds other spellings.
	vs := h[name]
	first, n := "", len(vs)
	if n > 0 {
		first = vs[0]
	}
	for k, vs := range h {
		if len(k) == len(name) && len(vs) > 0 && k != name && strings.EqualFold(k, name) {
			if n == 0 {
				first = vs[0]
			}
			n += len(vs)
		}
	}
	return first, n
}

// EventHeaders merges an API Gateway event's single- and multi-value
// header maps into one http.Header with canonical keys. The multi-value
// map is complete where present (it holds every value of a repeated
// header); the single-value map only fills in headers it lacks.
func EventHeaders(single map[string]string, multi map[string][]string) http.Header {
	h := make(http.Header, len(single)+len(multi))
	for k, vs := range multi {
		for _, v := range vs {
			h.Add(k, v)
		}
	}
	for k, v := range single {
		if _, ok := h[http.CanonicalHeaderKey(k)]; !ok {
			h.Set(k, v)
		}
	}
	return h
}

func stripBearer(v string) string {
	const scheme = "bearer"
	if len(v) > len(scheme) && strings.EqualFold(v[:len(scheme)], scheme) && (v[len(scheme)] == ' ' || v[len(scheme)] == '\t') {
		return strings.TrimSpace(v[len(scheme)+1:])
	}
	if strings.EqualFold(v, scheme) {
		return ""
	}
	return v
}

// LooksLikeJWT reports whether s has the compact JWS shape: three non-empty
// base64url segments separated by dots. API tokens have no dots (hex, or
// a prefixed token's [a-z0-9] prefix, '_' and base62), so the two kinds of
// credential cannot be confused: a prefixed token's '_' is base64url too,
// but without two dots it is never a JWT.
func LooksLikeJWT(s string) bool {
	if strings.Count(s, ".") != 2 {
		return false
	}
	for _, seg := range strings.Split(s, ".") {
		if seg == "" {
			return false
		}
		for i := 0; i < len(seg); i++ {
			c := seg[i]
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}
