package devoidc

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
)

// Browser sign-in: the authorization code flow with PKCE (RFC 6749, RFC
// 7636, OpenID Connect Core) for one public client, the configured
// Audience. It is written out here rather than taken from an OpenID
// provider library because what it needs is small - one client, no
// consent, no refresh tokens, no sessions - and the libraries would replace
// the keys, the routing and the JSON token endpoint this package already
// has (see doc.go).

// Lifetimes and limits of the browser sign-in.
const (
	// CodeTTL is how long an authorization code may be exchanged.
	CodeTTL = 60 * time.Second
	// PendingTTL is how long a sign-in page may stay open before its form
	// is refused and the sign-in must start again from the application.
	PendingTTL = 10 * time.Minute
	maxPending = 1000 // sign-in pages open at once; the oldest is dropped
	maxCodes   = 1000 // codes not yet exchanged; the oldest is dropped
	maxParam   = 1024 // characters of state, nonce, scope, redirect_uri
)

// Preset users offered as one-click buttons on the sign-in page.
const (
	PresetAdmin     = "admin"
	PresetAPIUser   = "api-user"
	PresetPlainUser = "user"

	PresetAdminUsername     = "dev-admin"
	PresetAPIUserUsername   = "dev-api-user"
	PresetPlainUserUsername = "dev-user"
)

// Scopes the issuer grants; others asked for are ignored.
var supportedScopes = []string{"openid", "profile", "email"}

// authRequest is what an accepted authorization request asks for; it
// follows the sign-in page (as a pending request) and then the code.
type authRequest struct {
	redirectURI string
	state       string
	nonce       string
	challenge   string // BASE64URL(SHA256(code_verifier))
	scope       string // granted scopes, space-separated
	loginHint   string
	expires     time.Time
}

// grant is an issued authorization code's request and the user chosen.
type grant struct {
	authRequest
	username string
	groups   []string
}

type preset struct {
	ID, Label, Username string
	Groups              []string
}

// flows holds the pending sign-ins and the unexchanged codes.
type flows struct {
	mu      sync.Mutex
	pending map[string]*authRequest
	codes   map[string]*grant
}

// put stores v under a new random key in m, first dropping expired
// entries and, if m is still full, the one closest to expiry.
func put[V any](m map[string]V, v V, now time.Time, limit int, expires func(V) time.Time) string {
	oldest := ""
	for k, e := range m {
		if !now.Before(expires(e)) {
			delete(m, k)
		} else if oldest == "" || expires(e).Before(expires(m[oldest])) {
			oldest = k
		}
	}
	if len(m) >= limit && oldest != "" {
		delete(m, oldest)
	}
	k := base64.RawURLEncoding.EncodeToString(randomBytes(32))
	m[k] = v
	return k
}

// take removes and returns the entry under k if it has not expired.
func take[V any](mu *sync.Mutex, m map[string]V, k string, now time.Time, expires func(V) time.Time) (V, bool) {
	mu.Lock()
	defer mu.Unlock()
	v, ok := m[k]
	delete(m, k)
	if !ok || !now.Before(expires(v)) {
		var zero V
		return zero, false
	}
	return v, true
}

func pendingExpiry(a *authRequest) time.Time { return a.expires }
func codeExpiry(g *grant) time.Time          { return g.expires }

// normalizeOrigins checks that each entry is a bare origin
// (scheme://host[:port]) and returns them in lower case.
func normalizeOrigins(in []string) ([]string, error) {
	out := make([]string, 0, len(in))
	for _, o := range in {
		u, err := url.Parse(strings.TrimRight(strings.TrimSpace(o), "/"))
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil ||
			u.Path != "" || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
			return nil, fmt.Errorf("devoidc: redirect origin %q must be scheme://host[:port] with nothing after it", o)
		}
		out = append(out, strings.ToLower(u.Scheme+"://"+u.Host))
	}
	return out, nil
}

// allowedRedirect reports whether raw is an absolute URL under one of the
// allowed origins: the same scheme, host and port, no user information, no
// fragment.
func (i *Issuer) allowedRedirect(raw string) bool {
	if raw == "" || len(raw) > maxParam || strings.ContainsAny(raw, "\\ \t\r\n") {
		return false
	}
	u, err := url.Parse(raw)
	if err != nil || u.User != nil || u.Fragment != "" || u.Opaque != "" || strings.Contains(raw, "#") {
		return false
	}
	origin := strings.ToLower(u.Scheme + "://" + u.Host)
	if !slices.Contains(i.redirectOrigins, origin) {
		return false
	}
	// The parsed origin and the text must agree, so that no parser
	// difference between here and the browser can move the host.
	rest := raw[len(origin):]
	return rest == "" || rest[0] == '/' || rest[0] == '?'
}

// validChallenge reports whether c can be a BASE64URL-encoded SHA-256
// digest (43 characters, no padding).
func validChallenge(c string) bool {
	b, err := base64.RawURLEncoding.DecodeString(c)
	return err == nil && len(b) == sha256.Size && len(c) == 43
}

// validVerifier reports whether v is a code_verifier as RFC 7636 4.1 says:
// 43 to 128 characters of [A-Za-z0-9-._~].
func validVerifier(v string) bool {
	if len(v) < 43 || len(v) > 128 {
		return false
	}
	for _, c := range v {
		switch {
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-', c == '.', c == '_', c == '~':
		default:
			return false
		}
	}
	return true
}

// pkceMatches reports whether BASE64URL(SHA256(verifier)) == challenge.
func pkceMatches(verifier, challenge string) bool {
	sum := sha256.Sum256([]byte(verifier))
	got := base64.RawURLEncoding.EncodeToString(sum[:])
	return subtle.ConstantTimeCompare([]byte(got), []byte(challenge)) == 1
}

// grantedScope returns the supported scopes among the space-separated
// requested ones, in the order asked, and whether openid is among them.
func grantedScope(requested string) (string, bool) {
	var out []string
	for _, s := range strings.Fields(requested) {
		if slices.Contains(supportedScopes, s) && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return strings.Join(out, " "), slices.Contains(out, "openid")
}

// withParams returns base with the given query parameters added to any it
// already has.
func withParams(base string, kv ...string) string {
	u, err := url.Parse(base)
	if err != nil {
		return base // checked by allowedRedirect before
	}
	q := u.Query()
	for n := 0; n+1 < len(kv); n += 2 {
		if kv[n+1] != "" {
			q.Set(kv[n], kv[n+1])
		}
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// serveAuthorize handles the authorization request (GET) and the sign-in
// form (POST).
func (i *Issuer) serveAuthorize(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPost {
		i.serveSignIn(w, r)
		return
	}
	q := r.URL.Query()
	get := func(name string) (string, error) {
		if len(q[name]) > 1 {
			return "", fmt.Errorf("parameter %s is given more than once", name)
		}
		v := q.Get(name)
		if len(v) > maxParam {
			return "", fmt.Errorf("parameter %s is longer than %d characters", name, maxParam)
		}
		return v, nil
	}
	var p [10]string
	names := [10]string{"client_id", "redirect_uri", "response_type", "scope", "state", "nonce", "code_challenge", "code_challenge_method", "response_mode", "prompt"}
	for n, name := range names {
		v, err := get(name)
		if err != nil {
			i.refusePage(w, err.Error())
			return
		}
		p[n] = v
	}
	clientID, redirectURI, responseType, scope, state, nonce, challenge, method, responseMode, prompt := p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], p[8], p[9]
	loginHint, _ := get("login_hint")

	// Until client_id and redirect_uri are known good, nothing may be sent
	// to redirect_uri: the page itself says what is wrong.
	switch {
	case clientID == "":
		i.refusePage(w, "client_id is required")
		return
	case clientID != i.audience:
		i.refusePage(w, fmt.Sprintf("unknown client_id %q: this issuer serves only %q", clientID, i.audience))
		return
	case redirectURI == "":
		i.refusePage(w, "redirect_uri is required")
		return
	case !i.allowedRedirect(redirectURI):
		i.refusePage(w, fmt.Sprintf("redirect_uri %q is not under an allowed origin (%s)", redirectURI, strings.Join(i.redirectOrigins, ", ")))
		return
	case responseType != "code":
		i.refusePage(w, fmt.Sprintf("response_type %q is not supported: only \"code\" (the authorization code flow)", responseType))
		return
	case responseMode != "" && responseMode != "query":
		i.refusePage(w, fmt.Sprintf("response_mode %q is not supported: only \"query\"", responseMode))
		return
	case challenge == "":
		i.refusePage(w, "code_challenge is required (PKCE with S256)")
		return
	case method != "S256":
		i.refusePage(w, fmt.Sprintf("code_challenge_method %q is not supported: only \"S256\"", method))
		return
	case !validChallenge(challenge):
		i.refusePage(w, "code_challenge must be BASE64URL(SHA256(code_verifier)): 43 characters")
		return
	}
	granted, openid := grantedScope(scope)
	if !openid {
		i.refusePage(w, "scope must include openid")
		return
	}
	if slices.Contains(strings.Fields(prompt), "none") {
		// There is no session here to sign in silently with: say so to
		// the application, as OpenID Connect Core 3.1.2.6 says.
		http.Redirect(w, r, withParams(redirectURI, "error", "login_required", "error_description", "the development issuer keeps no session; sign in interactively", "state", state), http.StatusSeeOther)
		return
	}
	ar := &authRequest{
		redirectURI: redirectURI, state: state, nonce: nonce, challenge: challenge,
		scope: granted, loginHint: loginHint, expires: i.now().Add(PendingTTL),
	}
	i.flows.mu.Lock()
	id := put(i.flows.pending, ar, i.now(), maxPending, pendingExpiry)
	i.flows.mu.Unlock()
	i.renderSignIn(w, http.StatusOK, id, ar, loginHint, "", "")
}

// serveSignIn takes the sign-in form: on success it ends the pending
// request, issues a code and sends the browser back to the application.
func (i *Issuer) serveSignIn(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
	if err := r.ParseForm(); err != nil {
		i.refusePage(w, "cannot read the form: "+err.Error())
		return
	}
	id := r.PostForm.Get("request")
	now := i.now()
	i.flows.mu.Lock()
	ar, ok := i.flows.pending[id]
	if ok && !now.Before(ar.expires) {
		delete(i.flows.pending, id)
		ok = false
	}
	i.flows.mu.Unlock()
	if !ok {
		i.refusePage(w, "this sign-in request is unknown, already used or expired: start again from the application")
		return
	}

	username := strings.TrimSpace(r.PostForm.Get("username"))
	groupsText := r.PostForm.Get("groups")
	var groups []string
	if name := r.PostForm.Get("preset"); name != "" {
		p, found := i.preset(name)
		if !found {
			i.renderSignIn(w, http.StatusBadRequest, id, ar, username, groupsText, fmt.Sprintf("unknown preset %q", name))
			return
		}
		username, groups = p.Username, slices.Clone(p.Groups)
	} else {
		for _, g := range strings.Split(groupsText, ",") {
			if g = strings.TrimSpace(g); g != "" {
				groups = append(groups, g)
			}
		}
	}
	req := TokenRequest{Username: username, Groups: groups}
	if msg := validateTokenRequest(&req); msg != "" {
		i.renderSignIn(w, http.StatusBadRequest, id, ar, username, groupsText, msg)
		return
	}

	// One form submission per request: whoever takes it first wins.
	if _, ok := take(&i.flows.mu, i.flows.pending, id, now, pendingExpiry); !ok {
		i.refusePage(w, "this sign-in request is unknown, already used or expired: start again from the application")
		return
	}
	g := &grant{authRequest: *ar, username: req.Username, groups: req.Groups}
	g.expires = now.Add(CodeTTL)
	i.flows.mu.Lock()
	code := put(i.flows.codes, g, now, maxCodes, codeExpiry)
	i.flows.mu.Unlock()
	http.Redirect(w, r, withParams(ar.redirectURI, "code", code, "state", ar.state), http.StatusSeeOther)
}

func (i *Issuer) preset(id string) (preset, bool) {
	for _, p := range i.presets {
		if p.ID == id {
			return p, true
		}
	}
	return preset{}, false
}

// CodeResponse is the answer of POST /token with grant_type
// authorization_code.
type CodeResponse struct {
	IDToken     string `json:"id_token"`
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int64  `json:"expires_in"`
	Scope       string `json:"scope"`
}

// OAuthError is an error answer of the token endpoint to a form request
// (RFC 6749 5.2).
type OAuthError struct {
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description,omitempty"`
}

func isForm(r *http.Request) bool {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return err == nil && mt == "application/x-www-form-urlencoded"
}

// serveCodeExchange exchanges an authorization code for tokens.
func (i *Issuer) serveCodeExchange(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
	fail := func(code, desc string) {
		w.Header().Set("Cache-Control", "no-store")
		writeJSON(w, http.StatusBadRequest, OAuthError{Error: code, ErrorDescription: desc})
	}
	if err := r.ParseForm(); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			fail("invalid_request", fmt.Sprintf("request body over %d bytes", maxBodyBytes))
			return
		}
		fail("invalid_request", "cannot read the form: "+err.Error())
		return
	}
	f := r.PostForm
	for _, name := range []string{"grant_type", "code", "redirect_uri", "client_id", "code_verifier"} {
		if len(f[name]) > 1 {
			fail("invalid_request", name+" is given more than once")
			return
		}
	}
	switch {
	case f.Get("grant_type") != "authorization_code":
		fail("unsupported_grant_type", "only grant_type=authorization_code is supported (or a JSON body, for the development token endpoint)")
		return
	case f.Get("client_id") == "":
		fail("invalid_request", "client_id is required")
		return
	case f.Get("client_id") != i.audience:
		fail("invalid_client", fmt.Sprintf("unknown client_id %q", f.Get("client_id")))
		return
	case f.Get("code") == "":
		fail("invalid_request", "code is required")
		return
	}
	// The code is spent by any attempt, good or bad, so that it cannot be
	// tried again with other verifiers.
	g, ok := take(&i.flows.mu, i.flows.codes, f.Get("code"), i.now(), codeExpiry)
	switch {
	case !ok:
		fail("invalid_grant", "the code is unknown, already used or expired")
		return
	case f.Get("redirect_uri") != g.redirectURI:
		fail("invalid_grant", "redirect_uri differs from the authorization request's")
		return
	case !validVerifier(f.Get("code_verifier")):
		fail("invalid_grant", "code_verifier must be 43 to 128 characters of A-Z a-z 0-9 - . _ ~")
		return
	case !pkceMatches(f.Get("code_verifier"), g.challenge):
		fail("invalid_grant", "code_verifier does not match the code_challenge")
		return
	}

	ttl := time.Duration(DefaultExpiresIn) * time.Second
	now := i.now()
	id := i.Claims(g.username, g.groups, ttl)
	id["auth_time"] = now.Unix()
	if g.nonce != "" {
		id["nonce"] = g.nonce
	}
	idToken, err := i.Sign(id)
	if err != nil {
		fail("server_error", "cannot sign token")
		return
	}
	// The access token carries the same claims (without the nonce), so
	// that an application may send either to the API.
	access := i.Claims(g.username, g.groups, ttl)
	access["token_use"] = "access"
	access["scope"] = g.scope
	accessToken, err := i.Sign(access)
	if err != nil {
		fail("server_error", "cannot sign token")
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	writeJSON(w, http.StatusOK, CodeResponse{
		IDToken: idToken, AccessToken: accessToken, TokenType: "Bearer",
		ExpiresIn: int64(DefaultExpiresIn), Scope: g.scope,
	})
}

// serveLogout ends nothing - there is no session - but sends the browser
// back where the application asked, if that is an allowed place.
func (i *Issuer) serveLogout(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	back := q.Get("post_logout_redirect_uri")
	if len(q["post_logout_redirect_uri"]) == 1 && i.allowedRedirect(back) {
		state := q.Get("state")
		if len(state) > maxParam {
			state = ""
		}
		http.Redirect(w, r, withParams(back, "state", state), http.StatusSeeOther)
		return
	}
	note := ""
	if back != "" {
		note = "The application asked to return to an address that is not under an allowed origin, so you stay here."
	}
	i.renderPage(w, http.StatusOK, pageData{Title: "Signed out", Message: "You are signed out of the development issuer.", Note: note})
}
