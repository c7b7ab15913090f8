package oidc

import (
	"encoding/base64"
	"encoding/json"
	"strings"
)

// maxHeaderSegment bounds the header segment that is decoded. Real headers
// ({"alg","kid","typ"}) are under 200 characters.
const maxHeaderSegment = 4 << 10

// IsJWTShaped reports whether s looks like a compact JWS: three non-empty
// base64url segments (no padding) separated by dots, the first of which
// decodes to a JSON object. The decision core uses it to route a credential
// to Verify rather than to the API-token lookup; an API token (128 hex
// characters) never has this shape. It says nothing about validity.
func IsJWTShaped(s string) bool {
	h, p, sig, ok := split(s)
	if !ok || !isSegment(p) || !isSegment(sig) {
		return false
	}
	_, ok = decodeHeader(h)
	return ok
}

// split cuts s into its three dot-separated segments.
func split(s string) (header, payload, sig string, ok bool) {
	header, rest, ok := strings.Cut(s, ".")
	if !ok {
		return "", "", "", false
	}
	payload, sig, ok = strings.Cut(rest, ".")
	if !ok || strings.Contains(sig, ".") {
		return "", "", "", false
	}
	return header, payload, sig, true
}

// decodeHeader decodes a header segment into a JSON object.
func decodeHeader(h string) (map[string]any, bool) {
	if !isSegment(h) || len(h) > maxHeaderSegment {
		return nil, false
	}
	b, err := base64.RawURLEncoding.DecodeString(h)
	if err != nil {
		return nil, false
	}
	var hdr map[string]any
	if err := json.Unmarshal(b, &hdr); err != nil || hdr == nil {
		return nil, false
	}
	return hdr, true
}

// isSegment reports whether s is non-empty unpadded base64url.
func isSegment(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}
