package devoidc

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Discovery is the discovery document served at PathDiscovery: what
// verifiers use, and what a browser application (oidc-client-ts) needs for
// the authorization code flow with PKCE as a public client. There is no
// userinfo endpoint: the ID token holds every claim.
type Discovery struct {
	Issuer                            string   `json:"issuer"`
	JWKSURI                           string   `json:"jwks_uri"`
	AuthorizationEndpoint             string   `json:"authorization_endpoint"`
	TokenEndpoint                     string   `json:"token_endpoint"`
	EndSessionEndpoint                string   `json:"end_session_endpoint"`
	ResponseTypesSupported            []string `json:"response_types_supported"`
	ResponseModesSupported            []string `json:"response_modes_supported"`
	GrantTypesSupported               []string `json:"grant_types_supported"`
	CodeChallengeMethodsSupported     []string `json:"code_challenge_methods_supported"`
	TokenEndpointAuthMethodsSupported []string `json:"token_endpoint_auth_methods_supported"`
	ScopesSupported                   []string `json:"scopes_supported"`
	SubjectTypesSupported             []string `json:"subject_types_supported"`
	IDTokenSigningAlgValuesSupported  []string `json:"id_token_signing_alg_values_supported"`
	ClaimsSupported                   []string `json:"claims_supported"`
}

// TokenRequest is the body of POST /token.
type TokenRequest struct {
	Username string   `json:"username"`
	Groups   []string `json:"groups"`
	// ExpiresIn is the lifetime in seconds, 1..MaxExpiresIn; DefaultExpiresIn
	// when absent.
	ExpiresIn *int64 `json:"expiresIn"`
}

// TokenResponse is the answer of POST /token.
type TokenResponse struct {
	IDToken   string `json:"id_token"`
	TokenType string `json:"token_type"`
	ExpiresIn int64  `json:"expires_in"`
}

// ServeHTTP serves the discovery document, the JWKS, the token endpoint
// and the browser sign-in (authorize, logout).
func (i *Issuer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	if i.basePath != "" && strings.HasPrefix(p, i.basePath+"/") {
		p = p[len(i.basePath):]
	}
	switch p {
	case PathDiscovery:
		i.discoveryHits.Add(1)
	case PathJWKS, PathJWKSAlias:
		i.jwksHits.Add(1)
	}
	if i.down.Load() {
		writeError(w, http.StatusServiceUnavailable, "development issuer is down (simulated outage)")
		return
	}
	switch p {
	case PathDiscovery:
		if !allowMethods(w, r, http.MethodGet, http.MethodHead) {
			return
		}
		i.serveDiscovery(w)
	case PathJWKS, PathJWKSAlias:
		if !allowMethods(w, r, http.MethodGet, http.MethodHead) {
			return
		}
		i.serveJWKS(w)
	case PathToken:
		if !allowMethods(w, r, http.MethodPost) {
			return
		}
		if isForm(r) {
			i.serveCodeExchange(w, r)
			return
		}
		i.serveToken(w, r)
	case PathAuthorize:
		if !allowMethods(w, r, http.MethodGet, http.MethodPost) {
			return
		}
		i.serveAuthorize(w, r)
	case PathLogout:
		if !allowMethods(w, r, http.MethodGet, http.MethodHead) {
			return
		}
		i.serveLogout(w, r)
	default:
		writeError(w, http.StatusNotFound, "not found")
	}
}

func (i *Issuer) serveDiscovery(w http.ResponseWriter) {
	writeJSON(w, http.StatusOK, Discovery{
		Issuer:                            i.issuer,
		JWKSURI:                           i.issuer + PathJWKS,
		AuthorizationEndpoint:             i.issuer + PathAuthorize,
		TokenEndpoint:                     i.issuer + PathToken,
		EndSessionEndpoint:                i.issuer + PathLogout,
		ResponseTypesSupported:            []string{"code"},
		ResponseModesSupported:            []string{"query"},
		GrantTypesSupported:               []string{"authorization_code"},
		CodeChallengeMethodsSupported:     []string{"S256"},
		TokenEndpointAuthMethodsSupported: []string{"none"},
		ScopesSupported:                   slices.Clone(supportedScopes),
		SubjectTypesSupported:             []string{"public"},
		IDTokenSigningAlgValuesSupported:  i.algorithms(),
		ClaimsSupported:                   []string{"iss", "aud", "sub", "exp", "iat", "jti", "auth_time", "nonce", "username", "preferred_username", i.groupsClaim},
	})
}

func (i *Issuer) serveJWKS(w http.ResponseWriter) {
	set, err := i.jwks()
	if err != nil {
		writeError(w, http.StatusInternalServerError, "cannot marshal key set")
		return
	}
	writeJSON(w, http.StatusOK, set)
}

func (i *Issuer) serveToken(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	var req TokenRequest
	if err := dec.Decode(&req); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body over %d bytes", maxBodyBytes))
			return
		}
		writeError(w, http.StatusBadRequest, "body must be a JSON object {\"username\": string, \"groups\": [string], \"expiresIn\": seconds}: "+err.Error())
		return
	}
	if _, err := dec.Token(); err != io.EOF {
		writeError(w, http.StatusBadRequest, "body must hold exactly one JSON object")
		return
	}
	if msg := validateTokenRequest(&req); msg != "" {
		writeError(w, http.StatusBadRequest, msg)
		return
	}
	tok, err := i.Token(req.Username, req.Groups, time.Duration(*req.ExpiresIn)*time.Second)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "cannot sign token")
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, TokenResponse{IDToken: tok, TokenType: "Bearer", ExpiresIn: *req.ExpiresIn})
}

// validateTokenRequest checks req and fills defaults. It returns a message
// for the caller, or "" when req is acceptable.
func validateTokenRequest(req *TokenRequest) string {
	if msg := checkName("username", req.Username, MaxUsernameLen); msg != "" {
		return msg
	}
	if len(req.Groups) > MaxGroups {
		return fmt.Sprintf("at most %d groups", MaxGroups)
	}
	for _, g := range req.Groups {
		if msg := checkName("each group", g, MaxGroupLen); msg != "" {
			return msg
		}
	}
	if req.Groups == nil {
		req.Groups = []string{}
	}
	if req.ExpiresIn == nil {
		d := int64(DefaultExpiresIn)
		req.ExpiresIn = &d
	}
	if *req.ExpiresIn < 1 || *req.ExpiresIn > MaxExpiresIn {
		return fmt.Sprintf("expiresIn must be between 1 and %d seconds", MaxExpiresIn)
	}
	return ""
}

func checkName(what, s string, max int) string {
	n := utf8.RuneCountInString(s)
	switch {
	case n == 0:
		return what + " is required"
	case n > max:
		return fmt.Sprintf("%s must be at most %d characters", what, max)
	case !utf8.ValidString(s):
		return what + " must be valid UTF-8"
	case strings.TrimSpace(s) != s:
		return what + " must not start or end with whitespace"
	}
	for _, c := range s {
		if !unicode.IsPrint(c) {
			return what + " must consist of printable characters"
		}
	}
	return ""
}

func allowMethods(w http.ResponseWriter, r *http.Request, methods ...string) bool {
	for _, m := range methods {
		if r.Method == m {
			return true
		}
	}
	w.Header().Set("Allow", strings.Join(methods, ", "))
	writeError(w, http.StatusMethodNotAllowed, "method not allowed")
	return false
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"message": msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
