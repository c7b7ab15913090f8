package oidc

import (
	"encoding/base64"
	"encoding/json"
	"strings"
)

// maxHeaderSegment bounds the header segment that is decoded. Real headers
// ({"alg","kid","typ"}) are under 200 characters.
const maxHeaderSegment = 4 << 10

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
	// RawURLEncoding refuses every character outside unpadded base64url.
	if h == "" || len(h) > maxHeaderSegment {
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
