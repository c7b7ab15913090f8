package localstack_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The local stack serves the console as CloudFront does: its files, the
// index page for the console's own routes, and /config.json from the
// stack's settings.
func TestConsoleIsServed(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "assets"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, body := range map[string]string{"index.html": "<!doctype html><title>console</title>", "assets/app.js": "console.log(1)"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	s := startStack(t, map[string]string{"WEB_DIR": dir})
	c := newClient(t, s)
	for _, p := range []string{"/", "/?code=x&state=y", "/index.html"} {
		a := c.want(c.do("GET", p, ""), 200)
		if !strings.Contains(a.raw, "<title>console</title>") {
			t.Errorf("GET %s: %q, want the index page", p, a.raw)
		}
	}
	if a := c.want(c.do("GET", "/assets/app.js", ""), 200); a.raw != "console.log(1)" {
		t.Errorf("asset: %q", a.raw)
	}
	c.want(c.do("GET", "/assets/missing.js", ""), 404)
	// The console routes in the fragment; other paths stay 404s, as on
	// API Gateway, which shares this origin locally.
	c.want(c.do("GET", "/nope", ""), 404)
	c.want(c.do("GET", "/assets/../index.html", ""), 404)
	c.want(c.do("POST", "/", "{}"), 404)

	a := c.want(c.do("GET", "/config.json", ""), 200)
	var cc map[string]string
	var raw map[string]any
	if err := json.Unmarshal([]byte(a.raw), &raw); err != nil {
		t.Fatal(err)
	}
	if raw["revocationSeconds"] != float64(10) {
		t.Errorf("config.json revocationSeconds = %v, want TOKEN_CACHE_SECONDS (10)", raw["revocationSeconds"])
	}
	delete(raw, "revocationSeconds")
	b, _ := json.Marshal(raw)
	if err := json.Unmarshal(b, &cc); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"authority": s.URL + "/dev-oidc", "clientId": "lisa-local", "apiUrl": s.URL, "serveUrl": s.URL + "/v2/serve",
		"adminGroup": "lisa-admins", "apiGroup": "lisa-api-users", "groupsClaim": "groups",
	}
	for k, v := range want {
		if cc[k] != v {
			t.Errorf("config.json %s = %q, want %q", k, cc[k], v)
		}
	}
	// The APIs keep their own answers.
	c.want(c.do("GET", "/api-tokens/", ""), 401)
	c.want(c.do("GET", "/v2/serve/models", ""), 401)
}

func TestConsoleNotBuiltSaysHow(t *testing.T) {
	s := startStack(t, map[string]string{"WEB_DIR": filepath.Join(t.TempDir(), "none")})
	c := newClient(t, s)
	a := c.want(c.do("GET", "/", ""), 404)
	if !strings.Contains(a.raw, "make web") {
		t.Fatalf("answer %q does not say how to build the console", a.raw)
	}
}
