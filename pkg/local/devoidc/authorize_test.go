package devoidc_test

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/llmgw/apitokens/pkg/local/devoidc"
	"github.com/llmgw/apitokens/pkg/oidc"
)

// A browser application and the issuer, over real HTTP: the issuer on one
// loopback server, the application's redirect_uri on another that records
// what it is sent.
type flowEnv struct {
	t        *testing.T
	iss      *devoidc.Issuer
	clock    *testClock
	app      *httptest.Server
	callback string // the application's redirect_uri

	mu       sync.Mutex
	received []*url.URL // requests the application's callback got
}

type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *testClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

const clientID = "dev-client"

func newFlowEnv(t *testing.T, extraOrigins ...string) *flowEnv {
	t.Helper()
	e := &flowEnv{t: t, clock: &testClock{now: fixedNow}}
	e.app = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.mu.Lock()
		e.received = append(e.received, r.URL)
		e.mu.Unlock()
		_, _ = io.WriteString(w, "application callback")
	}))
	t.Cleanup(e.app.Close)
	e.callback = e.app.URL + "/callback"
	iss, srv, err := devoidc.NewTestServer(devoidc.Options{
		Audience:        clientID,
		Now:             e.clock.Now,
		RedirectOrigins: append([]string{e.app.URL}, extraOrigins...),
		AdminGroups:     []string{"lisa-admins", "lisa-users"},
		APIUserGroups:   []string{"lisa-users", "lisa-api-users"},
		PlainUserGroups: []string{"lisa-users"},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	e.iss = iss
	return e
}

func (e *flowEnv) callbacks() []*url.URL {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.received)
}

// pkce returns a verifier and its S256 challenge.
func pkce() (verifier, challenge string) {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	verifier = base64.RawURLEncoding.EncodeToString(b)
	sum := sha256.Sum256([]byte(verifier))
	return verifier, base64.RawURLEncoding.EncodeToString(sum[:])
}

// authParams are the parameters oidc-client-ts sends to /authorize.
func (e *flowEnv) authParams(challenge string) url.Values {
	return url.Values{
		"response_type":         {"code"},
		"client_id":             {clientID},
		"redirect_uri":          {e.callback},
		"scope":                 {"openid profile email"},
		"state":                 {"state-123"},
		"nonce":                 {"nonce-456"},
		"code_challenge":        {challenge},
		"code_challenge_method": {"S256"},
	}
}

// noRedirects is a client that shows redirects instead of following them.
var noRedirects = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

type page struct {
	status int
	header http.Header
	body   string
	url    *url.URL // where the browser ended
}

func (e *flowEnv) get(client *http.Client, u string) page {
	e.t.Helper()
	resp, err := client.Get(u)
	if err != nil {
		e.t.Fatalf("GET %s: %v", u, err)
	}
	return readPage(e.t, resp)
}

func readPage(t *testing.T, resp *http.Response) page {
	t.Helper()
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return page{status: resp.StatusCode, header: resp.Header, body: string(b), url: resp.Request.URL}
}

// signInForm is the sign-in form as a browser sees it.
type signInForm struct {
	action  string
	hidden  url.Values
	labels  map[string]string    // label text -> input name
	values  map[string]string    // input name -> value
	buttons map[string][2]string // button text -> name, value
}

var (
	reForm   = regexp.MustCompile(`<form method="post" action="([^"]*)">`)
	reHidden = regexp.MustCompile(`<input type="hidden" name="([^"]*)" value="([^"]*)">`)
	reLabel  = regexp.MustCompile(`<label for="([^"]*)">([^<]*)</label>`)
	reInput  = regexp.MustCompile(`<input id="([^"]*)" name="([^"]*)" type="text" value="([^"]*)"`)
	reButton = regexp.MustCompile(`<button type="submit"(?: name="([^"]*)" value="([^"]*)")?[^>]*>([^<]*)</button>`)
)

func parseSignIn(t *testing.T, body string) signInForm {
	t.Helper()
	m := reForm.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no sign-in form in:\n%s", body)
	}
	f := signInForm{action: html.UnescapeString(m[1]), hidden: url.Values{}, labels: map[string]string{}, values: map[string]string{}, buttons: map[string][2]string{}}
	for _, h := range reHidden.FindAllStringSubmatch(body, -1) {
		f.hidden.Set(h[1], html.UnescapeString(h[2]))
	}
	ids := map[string]string{}
	for _, in := range reInput.FindAllStringSubmatch(body, -1) {
		ids[in[1]] = in[2]
		f.values[in[2]] = html.UnescapeString(in[3])
	}
	for _, l := range reLabel.FindAllStringSubmatch(body, -1) {
		name, ok := ids[l[1]]
		if !ok {
			t.Fatalf("label %q is for %q, which is no input", l[2], l[1])
		}
		f.labels[html.UnescapeString(l[2])] = name
	}
	for _, b := range reButton.FindAllStringSubmatch(body, -1) {
		f.buttons[html.UnescapeString(b[3])] = [2]string{b[1], b[2]}
	}
	return f
}

// submit fills the fields by label and presses the button labelled
// button, following redirects as a browser does.
func (e *flowEnv) submit(f signInForm, fields map[string]string, button string) page {
	e.t.Helper()
	form := url.Values{}
	for k, v := range f.hidden {
		form[k] = v
	}
	for name, v := range f.values {
		form.Set(name, v)
	}
	for label, v := range fields {
		name, ok := f.labels[label]
		if !ok {
			e.t.Fatalf("no field labelled %q (labels: %v)", label, f.labels)
		}
		form.Set(name, v)
	}
	b, ok := f.buttons[button]
	if !ok {
		e.t.Fatalf("no button %q (buttons: %v)", button, f.buttons)
	}
	if b[0] != "" {
		form.Set(b[0], b[1])
	}
	resp, err := http.PostForm(f.action, form)
	if err != nil {
		e.t.Fatal(err)
	}
	return readPage(e.t, resp)
}

// signIn runs the browser part of the flow and returns the code the
// application received.
func (e *flowEnv) signIn(params url.Values, fields map[string]string, button string) string {
	e.t.Helper()
	p := e.get(http.DefaultClient, e.iss.URL()+devoidc.PathAuthorize+"?"+params.Encode())
	if p.status != http.StatusOK {
		e.t.Fatalf("authorize: %d %s", p.status, p.body)
	}
	end := e.submit(parseSignIn(e.t, p.body), fields, button)
	if end.status != http.StatusOK || end.url.Host != strings.TrimPrefix(e.app.URL, "http://") || end.url.Path != "/callback" {
		e.t.Fatalf("after sign-in the browser is at %s (%d): %s", end.url, end.status, end.body)
	}
	q := end.url.Query()
	if q.Get("state") != params.Get("state") {
		e.t.Fatalf("state = %q, want %q", q.Get("state"), params.Get("state"))
	}
	if q.Get("code") == "" || q.Get("error") != "" {
		e.t.Fatalf("callback query %v has no code", q)
	}
	return q.Get("code")
}

type tokenAnswer struct {
	status int
	header http.Header
	body   map[string]any
}

func (a tokenAnswer) str(k string) string { s, _ := a.body[k].(string); return s }

func (e *flowEnv) exchange(form url.Values) tokenAnswer {
	e.t.Helper()
	resp, err := http.PostForm(e.iss.URL()+devoidc.PathToken, form)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	a := tokenAnswer{status: resp.StatusCode, header: resp.Header}
	b, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(b, &a.body); err != nil {
		e.t.Fatalf("token answer %q is not JSON: %v", b, err)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		e.t.Errorf("token answer Content-Type = %q", ct)
	}
	return a
}

func (e *flowEnv) exchangeForm(code, verifier string) url.Values {
	return url.Values{
		"grant_type":    {"authorization_code"},
		"code":          {code},
		"redirect_uri":  {e.callback},
		"client_id":     {clientID},
		"code_verifier": {verifier},
	}
}

func (e *flowEnv) verifier() *oidc.Verifier {
	v, err := oidc.New(context.Background(), oidc.Config{Issuer: e.iss.URL(), Audience: clientID, GroupsClaim: "groups", Now: e.clock.Now, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		e.t.Fatal(err)
	}
	return v
}

func TestBrowserSignInCodeFlow(t *testing.T) {
	e := newFlowEnv(t)
	verifier, challenge := pkce()
	params := e.authParams(challenge)
	params.Set("scope", "openid profile offline_access")
	code := e.signIn(params, map[string]string{"Username": "alice", "Groups": " lisa-users, lisa-api-users ,"}, "Sign in")

	a := e.exchange(e.exchangeForm(code, verifier))
	if a.status != http.StatusOK {
		t.Fatalf("exchange: %d %v", a.status, a.body)
	}
	if a.str("token_type") != "Bearer" || a.body["expires_in"] != float64(devoidc.DefaultExpiresIn) || a.str("scope") != "openid profile" {
		t.Errorf("token answer = %v, want Bearer, %d s, scope \"openid profile\"", a.body, devoidc.DefaultExpiresIn)
	}
	if a.header.Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control = %q, want no-store", a.header.Get("Cache-Control"))
	}
	v := e.verifier()
	for _, kind := range []string{"id_token", "access_token"} {
		id, err := v.Verify(context.Background(), a.str(kind))
		if err != nil {
			t.Fatalf("%s does not verify with pkg/oidc: %v", kind, err)
		}
		if id.Username != "alice" || strings.Join(id.Groups, ",") != "lisa-users,lisa-api-users" {
			t.Errorf("%s identity = %+v, want alice in lisa-users,lisa-api-users", kind, id)
		}
	}
	c := parse(t, e.iss, a.str("id_token"))
	if c["nonce"] != "nonce-456" || c["sub"] != "alice" || c["auth_time"] != float64(fixedNow.Unix()) {
		t.Errorf("ID token claims nonce=%v sub=%v auth_time=%v", c["nonce"], c["sub"], c["auth_time"])
	}
	if c := parse(t, e.iss, a.str("access_token")); c["nonce"] != nil || c["token_use"] != "access" {
		t.Errorf("access token claims nonce=%v token_use=%v", c["nonce"], c["token_use"])
	}
}

// The application's redirect_uri keeps its own query; code and state are
// added to it.
func TestRedirectURIQueryIsKept(t *testing.T) {
	e := newFlowEnv(t)
	verifier, challenge := pkce()
	e.callback += "?from=console"
	code := e.signIn(e.authParams(challenge), map[string]string{"Username": "bob"}, "Sign in")
	got := e.callbacks()
	if len(got) != 1 || got[0].Query().Get("from") != "console" {
		t.Fatalf("callbacks = %v, want one with from=console", got)
	}
	if a := e.exchange(e.exchangeForm(code, verifier)); a.status != http.StatusOK {
		t.Fatalf("exchange: %d %v", a.status, a.body)
	}
}

func TestSignInPresets(t *testing.T) {
	e := newFlowEnv(t)
	v := e.verifier()
	for _, tc := range []struct {
		button, username, groups string
	}{
		{"Admin", devoidc.PresetAdminUsername, "lisa-admins,lisa-users"},
		{"API user", devoidc.PresetAPIUserUsername, "lisa-users,lisa-api-users"},
		{"User without API access", devoidc.PresetPlainUserUsername, "lisa-users"},
	} {
		t.Run(tc.button, func(t *testing.T) {
			verifier, challenge := pkce()
			// What is typed in the fields does not matter to a preset.
			code := e.signIn(e.authParams(challenge), map[string]string{"Username": "typed", "Groups": "typed-group"}, tc.button)
			a := e.exchange(e.exchangeForm(code, verifier))
			if a.status != http.StatusOK {
				t.Fatalf("exchange: %d %v", a.status, a.body)
			}
			id, err := v.Verify(context.Background(), a.str("id_token"))
			if err != nil {
				t.Fatal(err)
			}
			if id.Username != tc.username || strings.Join(id.Groups, ",") != tc.groups {
				t.Errorf("identity = %s in %v, want %s in %s", id.Username, id.Groups, tc.username, tc.groups)
			}
		})
	}
}

func TestAuthorizeRefuses(t *testing.T) {
	// 127.0.0.1:8080 is allowed too, so that near misses of it are tried.
	e := newFlowEnv(t, "http://127.0.0.1:8080")
	_, challenge := pkce()
	appHost := strings.TrimPrefix(e.app.URL, "http://")
	for name, change := range map[string]func(url.Values){
		"no client_id":              func(p url.Values) { p.Del("client_id") },
		"wrong client_id":           func(p url.Values) { p.Set("client_id", "other-client") },
		"no redirect_uri":           func(p url.Values) { p.Del("redirect_uri") },
		"foreign host":              func(p url.Values) { p.Set("redirect_uri", "http://evil.example/cb") },
		"other port":                func(p url.Values) { p.Set("redirect_uri", "http://127.0.0.1:9999/cb") },
		"allowed host as prefix":    func(p url.Values) { p.Set("redirect_uri", "http://127.0.0.1:8080.evil.example/") },
		"app host as prefix":        func(p url.Values) { p.Set("redirect_uri", "http://"+appHost+".evil.example/") },
		"allowed host as user info": func(p url.Values) { p.Set("redirect_uri", "http://"+appHost+"@evil.example/") },
		"https for an http origin":  func(p url.Values) { p.Set("redirect_uri", "https://"+appHost+"/callback") },
		"relative redirect_uri":     func(p url.Values) { p.Set("redirect_uri", "/callback") },
		"fragment in redirect_uri":  func(p url.Values) { p.Set("redirect_uri", e.callback+"#x") },
		"two redirect_uris":         func(p url.Values) { p.Add("redirect_uri", "http://evil.example/cb") },
		"response_type token":       func(p url.Values) { p.Set("response_type", "token") },
		"response_type id_token":    func(p url.Values) { p.Set("response_type", "id_token") },
		"no response_type":          func(p url.Values) { p.Del("response_type") },
		"response_mode fragment":    func(p url.Values) { p.Set("response_mode", "fragment") },
		"no code_challenge":         func(p url.Values) { p.Del("code_challenge") },
		"plain method":              func(p url.Values) { p.Set("code_challenge_method", "plain") },
		"no method (plain)":         func(p url.Values) { p.Del("code_challenge_method") },
		"challenge not a digest":    func(p url.Values) { p.Set("code_challenge", "abc") },
		"no openid scope":           func(p url.Values) { p.Set("scope", "profile email") },
		"state too long":            func(p url.Values) { p.Set("state", strings.Repeat("s", 2000)) },
	} {
		t.Run(name, func(t *testing.T) {
			p := e.authParams(challenge)
			change(p)
			got := e.get(noRedirects, e.iss.URL()+devoidc.PathAuthorize+"?"+p.Encode())
			if got.status != http.StatusBadRequest || got.header.Get("Location") != "" {
				t.Fatalf("status %d, Location %q, want 400 and no redirect", got.status, got.header.Get("Location"))
			}
			if !strings.HasPrefix(got.header.Get("Content-Type"), "text/html") || !strings.Contains(got.body, "Sign-in refused") || strings.Contains(got.body, "<form") {
				t.Errorf("refusal page: %s %s", got.header.Get("Content-Type"), got.body)
			}
		})
	}
	if cb := e.callbacks(); len(cb) != 0 {
		t.Errorf("the application was sent %v", cb)
	}
	// The same request, unchanged, is accepted: each case above fails for
	// its own change.
	if got := e.get(noRedirects, e.iss.URL()+devoidc.PathAuthorize+"?"+e.authParams(challenge).Encode()); got.status != http.StatusOK {
		t.Fatalf("unchanged request: %d %s", got.status, got.body)
	}
}

// With prompt=none (oidc-client-ts's silent renew) there is no session to
// use, so the application is told login_required at once.
func TestPromptNoneAnswersLoginRequired(t *testing.T) {
	e := newFlowEnv(t)
	_, challenge := pkce()
	p := e.authParams(challenge)
	p.Set("prompt", "none")
	got := e.get(noRedirects, e.iss.URL()+devoidc.PathAuthorize+"?"+p.Encode())
	loc, _ := url.Parse(got.header.Get("Location"))
	if got.status != http.StatusSeeOther || loc == nil || !strings.HasPrefix(loc.String(), e.callback+"?") ||
		loc.Query().Get("error") != "login_required" || loc.Query().Get("state") != "state-123" || loc.Query().Get("code") != "" {
		t.Fatalf("prompt=none: %d Location %q", got.status, got.header.Get("Location"))
	}
}

func TestCodeExchangeRefuses(t *testing.T) {
	e := newFlowEnv(t)
	newCode := func() (code, verifier string) {
		verifier, challenge := pkce()
		return e.signIn(e.authParams(challenge), map[string]string{"Username": "alice"}, "Sign in"), verifier
	}
	for name, tc := range map[string]struct {
		change func(f url.Values)
		want   string
	}{
		"wrong verifier":         {func(f url.Values) { f.Set("code_verifier", strings.Repeat("x", 43)) }, "invalid_grant"},
		"challenge as verifier":  {nil, "invalid_grant"}, // filled below
		"no verifier":            {func(f url.Values) { f.Del("code_verifier") }, "invalid_grant"},
		"other redirect_uri":     {func(f url.Values) { f.Set("redirect_uri", e.app.URL+"/other") }, "invalid_grant"},
		"no redirect_uri":        {func(f url.Values) { f.Del("redirect_uri") }, "invalid_grant"},
		"unknown code":           {func(f url.Values) { f.Set("code", "not-a-code") }, "invalid_grant"},
		"other client_id":        {func(f url.Values) { f.Set("client_id", "other-client") }, "invalid_client"},
		"no client_id":           {func(f url.Values) { f.Del("client_id") }, "invalid_request"},
		"no code":                {func(f url.Values) { f.Del("code") }, "invalid_request"},
		"refresh_token grant":    {func(f url.Values) { f.Set("grant_type", "refresh_token") }, "unsupported_grant_type"},
		"code given twice":       {func(f url.Values) { f.Add("code", "x") }, "invalid_request"},
		"expired (61 s later)":   {func(url.Values) { e.clock.Add(devoidc.CodeTTL + time.Second) }, "invalid_grant"},
		"expired (exactly 60 s)": {func(url.Values) { e.clock.Add(devoidc.CodeTTL) }, "invalid_grant"},
	} {
		t.Run(name, func(t *testing.T) {
			code, verifier := newCode()
			f := e.exchangeForm(code, verifier)
			if tc.change != nil {
				tc.change(f)
			} else {
				sum := sha256.Sum256([]byte(verifier))
				f.Set("code_verifier", base64.RawURLEncoding.EncodeToString(sum[:]))
			}
			a := e.exchange(f)
			if a.status != http.StatusBadRequest || a.str("error") != tc.want || a.str("error_description") == "" || a.str("id_token") != "" {
				t.Fatalf("answer %d %v, want 400 %s with a description", a.status, a.body, tc.want)
			}
			if a.header.Get("Cache-Control") != "no-store" {
				t.Errorf("Cache-Control = %q", a.header.Get("Cache-Control"))
			}
		})
	}

	t.Run("code reused", func(t *testing.T) {
		code, verifier := newCode()
		if a := e.exchange(e.exchangeForm(code, verifier)); a.status != http.StatusOK {
			t.Fatalf("first use: %d %v", a.status, a.body)
		}
		if a := e.exchange(e.exchangeForm(code, verifier)); a.status != http.StatusBadRequest || a.str("error") != "invalid_grant" {
			t.Fatalf("second use: %d %v, want 400 invalid_grant", a.status, a.body)
		}
	})
	t.Run("code spent by a failed attempt", func(t *testing.T) {
		code, verifier := newCode()
		bad := e.exchangeForm(code, verifier)
		bad.Set("code_verifier", strings.Repeat("y", 43))
		if a := e.exchange(bad); a.str("error") != "invalid_grant" {
			t.Fatalf("wrong verifier: %v", a.body)
		}
		if a := e.exchange(e.exchangeForm(code, verifier)); a.str("error") != "invalid_grant" {
			t.Fatalf("right verifier after a wrong one: %d %v, want invalid_grant", a.status, a.body)
		}
	})
	t.Run("still valid 59 s later", func(t *testing.T) {
		code, verifier := newCode()
		e.clock.Add(devoidc.CodeTTL - time.Second)
		if a := e.exchange(e.exchangeForm(code, verifier)); a.status != http.StatusOK {
			t.Fatalf("59 s later: %d %v", a.status, a.body)
		}
	})
}

// The JSON token endpoint is untouched by the form one, whatever the
// parameters of the JSON media type.
func TestJSONTokenEndpointBesideCodeExchange(t *testing.T) {
	e := newFlowEnv(t)
	resp, err := http.Post(e.iss.URL()+devoidc.PathToken, "application/json; charset=utf-8", strings.NewReader(`{"username":"alice","groups":["lisa-users"],"expiresIn":60}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&m)
	if resp.StatusCode != http.StatusOK || m["token_type"] != "Bearer" || m["expires_in"] != float64(60) || m["access_token"] != nil {
		t.Fatalf("JSON /token: %d %v", resp.StatusCode, m)
	}
	if c := parse(t, e.iss, m["id_token"].(string)); c["sub"] != "alice" {
		t.Errorf("sub = %v", c["sub"])
	}
	// A form body with the JSON token endpoint's fields is not a code
	// exchange and mints nothing.
	a := e.exchange(url.Values{"username": {"alice"}})
	if a.status != http.StatusBadRequest || a.str("error") != "unsupported_grant_type" {
		t.Fatalf("form with username: %d %v", a.status, a.body)
	}
}

func TestSignInPage(t *testing.T) {
	e := newFlowEnv(t)
	_, challenge := pkce()
	p := e.get(http.DefaultClient, e.iss.URL()+devoidc.PathAuthorize+"?"+e.authParams(challenge).Encode())
	if p.status != http.StatusOK || p.header.Get("Content-Type") != "text/html; charset=utf-8" {
		t.Fatalf("page: %d %s", p.status, p.header.Get("Content-Type"))
	}
	f := parseSignIn(t, p.body)
	if f.labels["Username"] != "username" || f.labels["Groups"] != "groups" || len(f.labels) != 2 {
		t.Errorf("labels = %v, want exactly Username and Groups", f.labels)
	}
	for _, b := range []string{"Sign in", "Admin", "API user", "User without API access"} {
		if _, ok := f.buttons[b]; !ok {
			t.Errorf("no button labelled exactly %q (buttons: %v)", b, f.buttons)
		}
	}
	if len(f.buttons) != 4 {
		t.Errorf("buttons = %v, want 4", f.buttons)
	}
	// Enter in a field presses the first button: it must be Sign in.
	if m := reButton.FindStringSubmatch(p.body); m == nil || m[3] != "Sign in" {
		t.Errorf("first button is %v, want Sign in", m)
	}
	if f.action != e.iss.URL()+devoidc.PathAuthorize || f.hidden.Get("request") == "" {
		t.Errorf("form action %q, request %q", f.action, f.hidden.Get("request"))
	}
	if strings.Contains(p.body, "state-123") || strings.Contains(p.body, challenge) {
		t.Error("the page carries the request's state or challenge: they stay on the server")
	}
	for _, bad := range []string{"<script", " src=", " href=", "style=", "@import", "url("} {
		if strings.Contains(p.body, bad) {
			t.Errorf("page contains %q", bad)
		}
	}

	csp := p.header.Get("Content-Security-Policy")
	style := regexp.MustCompile(`(?s)<style>(.*?)</style>`).FindStringSubmatch(p.body)
	if style == nil {
		t.Fatal("no <style> element")
	}
	sum := sha256.Sum256([]byte(style[1]))
	for _, want := range []string{
		"default-src 'none'", "frame-ancestors 'none'", "base-uri 'none'",
		"style-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'",
		"form-action 'self' " + e.app.URL,
	} {
		if !strings.Contains(csp, want) {
			t.Errorf("Content-Security-Policy %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe") || strings.Contains(csp, "*") {
		t.Errorf("Content-Security-Policy %q is not strict", csp)
	}
	for h, want := range map[string]string{"X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff", "Cache-Control": "no-store", "Referrer-Policy": "no-referrer"} {
		if p.header.Get(h) != want {
			t.Errorf("%s = %q, want %q", h, p.header.Get(h), want)
		}
	}
}

func TestSignInPageEscapes(t *testing.T) {
	e := newFlowEnv(t)
	verifier, challenge := pkce()
	const evil = `<script>alert("x")</script>`
	params := e.authParams(challenge)
	params.Set("login_hint", evil)
	p := e.get(http.DefaultClient, e.iss.URL()+devoidc.PathAuthorize+"?"+params.Encode())
	if strings.Contains(p.body, "<script") || !strings.Contains(p.body, "&lt;script&gt;") {
		t.Fatalf("login_hint not escaped:\n%s", p.body)
	}
	f := parseSignIn(t, p.body)
	if f.values["username"] != evil {
		t.Errorf("username field = %q, want the login_hint", f.values["username"])
	}

	// An invalid group shows the form again, with what was typed, escaped.
	again := e.submit(f, map[string]string{"Username": evil, "Groups": "lisa-users," + strings.Repeat("g", devoidc.MaxGroupLen+1)}, "Sign in")
	if again.status != http.StatusBadRequest || strings.Contains(again.body, "<script") || !strings.Contains(again.body, `value="&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;"`) {
		t.Fatalf("re-shown form: %d\n%s", again.status, again.body)
	}
	if !strings.Contains(again.body, `role="alert"`) {
		t.Error("re-shown form says nothing about the error")
	}
	// The request is still pending; such a username is allowed, and
	// arrives in the token as typed.
	end := e.submit(parseSignIn(t, again.body), map[string]string{"Groups": "lisa-users"}, "Sign in")
	code := end.url.Query().Get("code")
	a := e.exchange(e.exchangeForm(code, verifier))
	if a.status != http.StatusOK {
		t.Fatalf("exchange: %d %v", a.status, a.body)
	}
	if c := parse(t, e.iss, a.str("id_token")); c["username"] != evil {
		t.Errorf("username claim = %v", c["username"])
	}
}

func TestSignInRequestIsOneTime(t *testing.T) {
	e := newFlowEnv(t)
	_, challenge := pkce()
	u := e.iss.URL() + devoidc.PathAuthorize + "?" + e.authParams(challenge).Encode()
	f := parseSignIn(t, e.get(http.DefaultClient, u).body)
	if first := e.submit(f, map[string]string{"Username": "alice"}, "Sign in"); first.url.Path != "/callback" {
		t.Fatalf("first submission ended at %s", first.url)
	}
	second := e.submit(f, map[string]string{"Username": "mallory"}, "Admin")
	if second.status != http.StatusBadRequest || second.url.Path != "/dev-oidc"+devoidc.PathAuthorize || !strings.Contains(second.body, "start again") {
		t.Fatalf("second submission: %d at %s", second.status, second.url)
	}

	f = parseSignIn(t, e.get(http.DefaultClient, u).body)
	e.clock.Add(devoidc.PendingTTL)
	if late := e.submit(f, map[string]string{"Username": "alice"}, "Sign in"); late.status != http.StatusBadRequest || late.url.Path == "/callback" {
		t.Fatalf("submission after %s: %d at %s", devoidc.PendingTTL, late.status, late.url)
	}

	resp, err := noRedirects.PostForm(e.iss.URL()+devoidc.PathAuthorize, url.Values{"request": {"made-up"}, "username": {"alice"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := readPage(t, resp); got.status != http.StatusBadRequest || got.header.Get("Location") != "" {
		t.Fatalf("made-up request: %d Location %q", got.status, got.header.Get("Location"))
	}
	if n := len(e.callbacks()); n != 1 {
		t.Errorf("the application got %d callbacks, want 1", n)
	}
}

func TestLogout(t *testing.T) {
	e := newFlowEnv(t)
	logout := func(q url.Values) page {
		return e.get(noRedirects, e.iss.URL()+devoidc.PathLogout+"?"+q.Encode())
	}
	back := e.app.URL + "/signed-out"
	got := logout(url.Values{"post_logout_redirect_uri": {back}, "id_token_hint": {"x.y.z"}, "state": {"s1"}})
	if got.status != http.StatusSeeOther || got.header.Get("Location") != back+"?state=s1" {
		t.Errorf("allowed: %d Location %q, want 303 to %s?state=s1", got.status, got.header.Get("Location"), back)
	}
	for name, q := range map[string]url.Values{
		"foreign":    {"post_logout_redirect_uri": {"http://evil.example/"}},
		"other port": {"post_logout_redirect_uri": {"http://127.0.0.1:9999/"}},
		"none":       {},
	} {
		got := logout(q)
		if got.status != http.StatusOK || got.header.Get("Location") != "" || !strings.Contains(got.body, "<h1>Signed out</h1>") {
			t.Errorf("%s: %d Location %q, want the signed-out page", name, got.status, got.header.Get("Location"))
		}
		if got.header.Get("Content-Security-Policy") == "" {
			t.Errorf("%s: signed-out page has no Content-Security-Policy", name)
		}
	}
}

func TestDiscoveryForBrowserSignIn(t *testing.T) {
	e := newFlowEnv(t)
	var doc map[string]any
	if code := getJSON(t, e.iss.URL()+devoidc.PathDiscovery, &doc); code != http.StatusOK {
		t.Fatalf("discovery: %d", code)
	}
	base := e.iss.URL()
	for k, want := range map[string]string{
		"issuer":                                base,
		"authorization_endpoint":                base + "/authorize",
		"token_endpoint":                        base + "/token",
		"end_session_endpoint":                  base + "/logout",
		"jwks_uri":                              base + "/.well-known/jwks.json",
		"response_types_supported":              "code",
		"grant_types_supported":                 "authorization_code",
		"code_challenge_methods_supported":      "S256",
		"token_endpoint_auth_methods_supported": "none",
		"scopes_supported":                      "openid profile email",
		"subject_types_supported":               "public",
		"id_token_signing_alg_values_supported": "RS256",
	} {
		got := doc[k]
		if list, ok := got.([]any); ok {
			parts := make([]string, len(list))
			for n, v := range list {
				parts[n], _ = v.(string)
			}
			got = strings.Join(parts, " ")
		}
		if got != want {
			t.Errorf("%s = %v, want %q", k, doc[k], want)
		}
	}
}
