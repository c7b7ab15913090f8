package localstack_test

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/llmgw/apitokens/pkg/local/localstack"
)

// The console's browser sign-in against the stack's development issuer,
// as a browser does it: discovery, the sign-in page, a preset button, the
// redirect back to the stack's own origin, the code exchange - and the ID
// token then works on the management API with the preset's rights.
func TestBrowserSignInThroughTheStack(t *testing.T) {
	s := startStack(t, nil)
	c := newClient(t, s)
	browser := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

	var doc map[string]any
	if err := json.Unmarshal([]byte(c.want(c.do("GET", localstack.IssuerPath+"/.well-known/openid-configuration", ""), 200).raw), &doc); err != nil {
		t.Fatal(err)
	}
	authorize, _ := doc["authorization_endpoint"].(string)
	tokenURL, _ := doc["token_endpoint"].(string)
	if authorize != s.URL+localstack.IssuerPath+"/authorize" || tokenURL != s.URL+localstack.IssuerPath+"/token" {
		t.Fatalf("discovery endpoints: %v %v", doc["authorization_endpoint"], doc["token_endpoint"])
	}
	callback := s.URL + "/console/callback"

	signIn := func(button string) string {
		t.Helper()
		b := make([]byte, 32)
		_, _ = rand.Read(b)
		verifier := base64.RawURLEncoding.EncodeToString(b)
		sum := sha256.Sum256([]byte(verifier))
		q := url.Values{
			"response_type": {"code"}, "client_id": {s.Config.ClientID}, "redirect_uri": {callback},
			"scope": {"openid profile email"}, "state": {"st"}, "nonce": {"n"},
			"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"},
		}
		resp, err := browser.Get(authorize + "?" + q.Encode())
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("sign-in page: %d %s", resp.StatusCode, body)
		}
		action := regexp.MustCompile(`<form method="post" action="([^"]*)">`).FindSubmatch(body)
		req := regexp.MustCompile(`name="request" value="([^"]*)"`).FindSubmatch(body)
		btn := regexp.MustCompile(`name="preset" value="([^"]*)"[^>]*>` + regexp.QuoteMeta(button) + `</button>`).FindSubmatch(body)
		if action == nil || req == nil || btn == nil {
			t.Fatalf("no form, request or button %q in:\n%s", button, body)
		}
		resp, err = browser.PostForm(html.UnescapeString(string(action[1])), url.Values{"request": {html.UnescapeString(string(req[1]))}, "preset": {string(btn[1])}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		loc, err := url.Parse(resp.Header.Get("Location"))
		if resp.StatusCode != http.StatusSeeOther || err != nil || !strings.HasPrefix(loc.String(), callback+"?") || loc.Query().Get("state") != "st" {
			t.Fatalf("after %s: %d Location %q", button, resp.StatusCode, resp.Header.Get("Location"))
		}
		resp, err = http.PostForm(tokenURL, url.Values{
			"grant_type": {"authorization_code"}, "code": {loc.Query().Get("code")}, "redirect_uri": {callback},
			"client_id": {s.Config.ClientID}, "code_verifier": {verifier},
		})
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var tok map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&tok)
		id, _ := tok["id_token"].(string)
		if resp.StatusCode != 200 || id == "" {
			t.Fatalf("exchange after %s: %d %v", button, resp.StatusCode, tok)
		}
		return id
	}

	admin := signIn("Admin")
	apiUser := signIn("API user")
	plain := signIn("User without API access")

	c.want(c.do("POST", "/api-tokens/", `{"name":"from the console"}`, bearer(apiUser)...), 201)
	c.want(c.do("POST", "/api-tokens/", `{"name":"not allowed"}`, bearer(plain)...), 403)
	all := c.want(c.do("GET", "/api-tokens/", "", bearer(admin)...), 200)
	if items, _ := all.body["tokens"].([]any); len(items) != 1 || items[0].(map[string]any)["username"] != "dev-api-user" {
		t.Fatalf("admin lists %s, want the API user's one token", all.raw)
	}

	// Only the stack's own origin is a place to return to.
	for _, foreign := range []string{"http://127.0.0.1:9999/cb", "http://evil.example/cb", strings.Replace(s.URL, "http://", "https://", 1) + "/cb"} {
		q := url.Values{"response_type": {"code"}, "client_id": {s.Config.ClientID}, "redirect_uri": {foreign}, "scope": {"openid"},
			"code_challenge": {strings.Repeat("A", 43)}, "code_challenge_method": {"S256"}}
		resp, err := browser.Get(authorize + "?" + q.Encode())
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 400 || resp.Header.Get("Location") != "" {
			t.Errorf("redirect_uri %s: %d Location %q, want 400 and no redirect", foreign, resp.StatusCode, resp.Header.Get("Location"))
		}
	}
}
