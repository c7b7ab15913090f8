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

// maxCredentialLen bounds what is even looked at: a JWT from a real IdP is
// a few KiB; anything far larger is refused before parsing.
const maxCredentialLen = 16 << 10

var (
	errNoCredential = apierr.New(apierr.Unauthenticated, "no credential: send Authorization: Bearer <token> or Api-Key: <token>").WithCode("missing_credential")
	errTooLong      = apierr.New(apierr.Unauthenticated, "credential is too long").WithCode("malformed_credential")
)

// Credential extracts the presented credential from h: the value of
// "Authorization: Bearer X", a bare "Authorization: X", or "Api-Key: X".
// Header names and the Bearer scheme are case-insensitive and surrounding
// whitespace is trimmed; whitespace inside the value is kept, so that a
// damaged token is refused rather than silently repaired.
func Credential(h http.Header) (string, error) {
	for _, name := range []string{HeaderAuthorization, HeaderAPIKey} {
		v := strings.TrimSpace(headerValue(h, name))
		if v == "" {
			continue
		}
		if name == HeaderAuthorization {
			v = stripBearer(v)
		}
		if v == "" {
			continue
		}
		if len(v) > maxCredentialLen {
			return "", errTooLong
		}
		return v, nil
	}
	return "", errNoCredential
}

// headerValue finds name in h case-insensitively, whether or not h was
// built with canonical keys (API Gateway and ALB events are not).
func headerValue(h http.Header, name string) string {
	// name is one of the canonical constants above, so the common case is
	// one map lookup with no key canonicalisation on this hot path.
	if vs := h[name]; len(vs) > 0 {
		return vs[0]
	}
	for k, vs := range h {
		if strings.EqualFold(k, name) && len(vs) > 0 {
			return vs[0]
		}
	}
	return ""
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
// base64url segments separated by dots. API tokens are hex without dots, so
// the two kinds of credential cannot be confused.
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
