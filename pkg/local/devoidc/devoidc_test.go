package devoidc_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"

	"github.com/llmgw/apitokens/pkg/local/devoidc"
)

var fixedNow = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

func newServer(t *testing.T, opts devoidc.Options) (*devoidc.Issuer, *httptest.Server) {
	t.Helper()
	if opts.Audience == "" {
		opts.Audience = "dev-client"
	}
	if opts.Now == nil {
		opts.Now = func() time.Time { return fixedNow }
	}
	iss, srv, err := devoidc.NewTestServer(opts)
	if err != nil {
		t.Fatalf("NewTestServer: %v", err)
	}
	t.Cleanup(srv.Close)
	return iss, srv
}

func getJSON(t *testing.T, url string, v any) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	if v != nil && resp.StatusCode == http.StatusOK {
		if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
			t.Fatalf("GET %s: decode: %v", url, err)
		}
	}
	return resp.StatusCode
}

func TestNewRejectsBadOptions(t *testing.T) {
	for name, opts := range map[string]devoidc.Options{
		"no issuer":         {Audience: "a"},
		"relative issuer":   {IssuerURL: "/dev-oidc", Audience: "a"},
		"ftp issuer":        {IssuerURL: "ftp://x", Audience: "a"},
		"issuer with query": {IssuerURL: "http://127.0.0.1/x?y=1", Audience: "a"},
		"no audience":       {IssuerURL: "http://127.0.0.1:1/dev-oidc"},
		"unknown key type":  {IssuerURL: "http://127.0.0.1:1/dev-oidc", Audience: "a", KeyType: "HS256"},
		"origin with path":  {IssuerURL: "http://127.0.0.1:1/dev-oidc", Audience: "a", RedirectOrigins: []string{"http://127.0.0.1:1/app"}},
		"origin no scheme":  {IssuerURL: "http://127.0.0.1:1/dev-oidc", Audience: "a", RedirectOrigins: []string{"127.0.0.1:1"}},
		"origin with user":  {IssuerURL: "http://127.0.0.1:1/dev-oidc", Audience: "a", RedirectOrigins: []string{"http://u@127.0.0.1:1"}},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := devoidc.New(opts); err == nil {
				t.Fatalf("New(%+v) succeeded, want an error", opts)
			}
		})
	}
}

func TestDiscoveryDocument(t *testing.T) {
	iss, _ := newServer(t, devoidc.Options{KeyType: devoidc.ES256})
	var doc devoidc.Discovery
	if code := getJSON(t, iss.URL()+devoidc.PathDiscovery, &doc); code != http.StatusOK {
		t.Fatalf("discovery status = %d, want 200", code)
	}
	if doc.Issuer != iss.URL() {
		t.Errorf("issuer = %q, want %q", doc.Issuer, iss.URL())
	}
	if !strings.HasSuffix(iss.URL(), "/dev-oidc") {
		t.Errorf("issuer URL %q does not end in /dev-oidc", iss.URL())
	}
	if doc.JWKSURI != iss.URL()+devoidc.PathJWKS || doc.JWKSURI != iss.JWKSURL() {
		t.Errorf("jwks_uri = %q, want %q", doc.JWKSURI, iss.URL()+devoidc.PathJWKS)
	}
	if doc.TokenEndpoint != iss.URL()+devoidc.PathToken {
		t.Errorf("token_endpoint = %q", doc.TokenEndpoint)
	}
	if got := strings.Join(doc.IDTokenSigningAlgValuesSupported, ","); got != "ES256" {
		t.Errorf("id_token_signing_alg_values_supported = %q, want ES256", got)
	}
	if _, err := iss.Rotate(devoidc.RS256); err != nil {
		t.Fatal(err)
	}
	getJSON(t, iss.URL()+devoidc.PathDiscovery, &doc)
	if got := strings.Join(doc.IDTokenSigningAlgValuesSupported, ","); got != "ES256,RS256" {
		t.Errorf("after rotation, algs = %q, want ES256,RS256", got)
	}
	if iss.DiscoveryHits() != 2 {
		t.Errorf("DiscoveryHits = %d, want 2", iss.DiscoveryHits())
	}
}

// The handler is mounted under the issuer's path in the local stack, with or
// without http.StripPrefix; both must work.
func TestMountedWithStripPrefix(t *testing.T) {
	iss, err := devoidc.New(devoidc.Options{IssuerURL: "http://127.0.0.1:8080/dev-oidc/", Audience: "a", KeyType: devoidc.EdDSA})
	if err != nil {
		t.Fatal(err)
	}
	if iss.URL() != "http://127.0.0.1:8080/dev-oidc" {
		t.Errorf("URL() = %q, trailing slash not removed", iss.URL())
	}
	mux := http.NewServeMux()
	mux.Handle("/dev-oidc/", http.StripPrefix("/dev-oidc", iss))
	for _, h := range []http.Handler{mux, iss} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/dev-oidc/.well-known/openid-configuration", nil))
		if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"issuer":"http://127.0.0.1:8080/dev-oidc"`) {
			t.Errorf("discovery via %T: %d %s", h, rec.Code, rec.Body)
		}
	}
}

func TestJWKS(t *testing.T) {
	iss, _ := newServer(t, devoidc.Options{})
	first := iss.CurrentKID()
	ec, err := iss.AddKey(devoidc.ES256)
	if err != nil {
		t.Fatal(err)
	}
	ed, err := iss.Rotate(devoidc.EdDSA)
	if err != nil {
		t.Fatal(err)
	}
	if iss.CurrentKID() != ed {
		t.Errorf("CurrentKID = %q after Rotate, want %q", iss.CurrentKID(), ed)
	}
	for _, path := range []string{devoidc.PathJWKS, devoidc.PathJWKSAlias} {
		var set jwkset.JWKSMarshal
		if code := getJSON(t, iss.URL()+path, &set); code != http.StatusOK {
			t.Fatalf("%s status = %d", path, code)
		}
		want := map[string][3]string{ // kid -> kty, alg, crv
			first: {"RSA", "RS256", ""},
			ec:    {"EC", "ES256", "P-256"},
			ed:    {"OKP", "EdDSA", "Ed25519"},
		}
		if len(set.Keys) != len(want) {
			t.Fatalf("%s has %d keys, want %d", path, len(set.Keys), len(want))
		}
		for _, k := range set.Keys {
			w, ok := want[k.KID]
			if !ok {
				t.Errorf("unexpected kid %q", k.KID)
				continue
			}
			if string(k.KTY) != w[0] || string(k.ALG) != w[1] || string(k.CRV) != w[2] || k.USE != jwkset.UseSig {
				t.Errorf("key %s: kty=%s alg=%s crv=%s use=%s, want %v and use sig", k.KID, k.KTY, k.ALG, k.CRV, k.USE, w)
			}
			if k.D != "" || k.P != "" || k.Q != "" {
				t.Errorf("key %s publishes private material", k.KID)
			}
		}
	}
	if iss.JWKSHits() != 2 {
		t.Errorf("JWKSHits = %d, want 2", iss.JWKSHits())
	}
	if err := iss.RemoveKey(ed); err == nil {
		t.Error("RemoveKey(current) succeeded, want an error")
	}
	if err := iss.RemoveKey(first); err != nil {
		t.Fatal(err)
	}
	if err := iss.RemoveKey(first); err == nil {
		t.Error("RemoveKey of a removed key succeeded")
	}
	if got := strings.Join(iss.KIDs(), ","); got != ec+","+ed {
		t.Errorf("KIDs after removal = %s, want %s,%s", got, ec, ed)
	}
}

func postToken(t *testing.T, iss *devoidc.Issuer, body string) (int, map[string]any) {
	t.Helper()
	resp, err := http.Post(iss.URL()+devoidc.PathToken, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	var m map[string]any
	b, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("body %q is not a JSON object: %v", b, err)
	}
	return resp.StatusCode, m
}

// parse verifies tok against the issuer's published key, as a verifier
// would, and returns its claims.
func parse(t *testing.T, iss *devoidc.Issuer, tok string) jwt.MapClaims {
	t.Helper()
	claims := jwt.MapClaims{}
	_, err := jwt.NewParser(jwt.WithTimeFunc(func() time.Time { return fixedNow })).ParseWithClaims(tok, claims, func(tk *jwt.Token) (any, error) {
		kid, _ := tk.Header["kid"].(string)
		k, ok := iss.PublicKey(kid)
		if !ok {
			t.Fatalf("token kid %q is not published", kid)
		}
		return k, nil
	})
	if err != nil {
		t.Fatalf("issued token does not verify: %v", err)
	}
	return claims
}

func TestTokenEndpointIssues(t *testing.T) {
	iss, _ := newServer(t, devoidc.Options{GroupsClaim: "realm_access.roles"})
	code, m := postToken(t, iss, `{"username":"alice","groups":["lisa-users","lisa-api-users"],"expiresIn":60}`)
	if code != http.StatusOK {
		t.Fatalf("status = %d (%v), want 200", code, m)
	}
	if m["token_type"] != "Bearer" || m["expires_in"] != float64(60) {
		t.Errorf("response = %v, want token_type Bearer, expires_in 60", m)
	}
	c := parse(t, iss, m["id_token"].(string))
	for k, want := range map[string]any{
		"iss": iss.URL(), "aud": "dev-client", "sub": "alice", "username": "alice", "preferred_username": "alice",
		"iat": float64(fixedNow.Unix()), "exp": float64(fixedNow.Unix() + 60),
	} {
		if c[k] != want {
			t.Errorf("claim %s = %v, want %v", k, c[k], want)
		}
	}
	roles, _ := c["realm_access"].(map[string]any)["roles"].([]any)
	if len(roles) != 2 || roles[0] != "lisa-users" || roles[1] != "lisa-api-users" {
		t.Errorf("realm_access.roles = %v", c["realm_access"])
	}

	code, m = postToken(t, iss, `{"username":"bob"}`)
	if code != http.StatusOK || m["expires_in"] != float64(devoidc.DefaultExpiresIn) {
		t.Fatalf("defaults: %d %v, want 200 and expires_in %d", code, m, devoidc.DefaultExpiresIn)
	}
	c = parse(t, iss, m["id_token"].(string))
	if roles, _ := c["realm_access"].(map[string]any)["roles"].([]any); roles == nil || len(roles) != 0 {
		t.Errorf("no groups should give an empty list, got %v", c["realm_access"])
	}
}

func TestTokenEndpointValidates(t *testing.T) {
	iss, _ := newServer(t, devoidc.Options{})
	long := strings.Repeat("x", devoidc.MaxUsernameLen+1)
	manyGroups, _ := json.Marshal(make([]string, devoidc.MaxGroups+1))
	for name, tc := range map[string]struct {
		body string
		want int
	}{
		"not JSON":             {`username=alice`, 400},
		"empty body":           {``, 400},
		"array body":           {`["alice"]`, 400},
		"two objects":          {`{"username":"a"}{"username":"b"}`, 400},
		"unknown field":        {`{"username":"alice","admin":true}`, 400},
		"no username":          {`{"groups":[]}`, 400},
		"empty username":       {`{"username":""}`, 400},
		"username not string":  {`{"username":42}`, 400},
		"username too long":    {`{"username":"` + long + `"}`, 400},
		"username control chr": {`{"username":"al\u0000ice"}`, 400},
		"username newline":     {`{"username":"alice\n"}`, 400},
		"username padded":      {`{"username":" alice"}`, 400},
		"groups not list":      {`{"username":"alice","groups":"lisa-users"}`, 400},
		"group not string":     {`{"username":"alice","groups":[1]}`, 400},
		"empty group":          {`{"username":"alice","groups":[""]}`, 400},
		"too many groups":      {`{"username":"alice","groups":` + string(manyGroups) + `}`, 400},
		"expiresIn zero":       {`{"username":"alice","expiresIn":0}`, 400},
		"expiresIn negative":   {`{"username":"alice","expiresIn":-5}`, 400},
		"expiresIn over a day": {`{"username":"alice","expiresIn":86401}`, 400},
		"expiresIn fraction":   {`{"username":"alice","expiresIn":1.5}`, 400},
		"expiresIn string":     {`{"username":"alice","expiresIn":"3600"}`, 400},
		"body too large":       {`{"username":"alice","groups":["` + strings.Repeat("g", 20<<10) + `"]}`, 413},
		"unicode username ok":  {`{"username":"Zoë Ångström","expiresIn":86400}`, 200},
	} {
		t.Run(name, func(t *testing.T) {
			code, m := postToken(t, iss, tc.body)
			if code != tc.want {
				t.Fatalf("status = %d (%v), want %d", code, m, tc.want)
			}
			if msg, _ := m["message"].(string); tc.want != 200 && msg == "" {
				t.Errorf("error body %v has no message", m)
			}
		})
	}
}

func TestMethodsAndPaths(t *testing.T) {
	iss, _ := newServer(t, devoidc.Options{KeyType: devoidc.ES256})
	for _, tc := range []struct {
		method, path string
		want         int
	}{
		{http.MethodGet, devoidc.PathToken, 405},
		{http.MethodPost, devoidc.PathJWKS, 405},
		{http.MethodDelete, devoidc.PathDiscovery, 405},
		{http.MethodGet, "/nope", 404},
		{http.MethodHead, devoidc.PathJWKS, 200},
	} {
		req, _ := http.NewRequest(tc.method, iss.URL()+tc.path, bytes.NewReader(nil))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("%s %s = %d, want %d", tc.method, tc.path, resp.StatusCode, tc.want)
		}
	}
}

func TestSetDown(t *testing.T) {
	iss, _ := newServer(t, devoidc.Options{KeyType: devoidc.ES256})
	iss.SetDown(true)
	for _, p := range []string{devoidc.PathDiscovery, devoidc.PathJWKS} {
		if code := getJSON(t, iss.URL()+p, nil); code != http.StatusServiceUnavailable {
			t.Errorf("GET %s while down = %d, want 503", p, code)
		}
	}
	if code, _ := postToken(t, iss, `{"username":"alice"}`); code != http.StatusServiceUnavailable {
		t.Errorf("POST /token while down = %d, want 503", code)
	}
	if iss.JWKSHits() != 1 || iss.DiscoveryHits() != 1 {
		t.Errorf("hits while down: jwks %d discovery %d, want 1 and 1 (refused requests count)", iss.JWKSHits(), iss.DiscoveryHits())
	}
	iss.SetDown(false)
	if code := getJSON(t, iss.URL()+devoidc.PathJWKS, nil); code != http.StatusOK {
		t.Errorf("GET jwks after recovery = %d, want 200", code)
	}
}

func TestSignHelpers(t *testing.T) {
	iss, _ := newServer(t, devoidc.Options{KeyType: devoidc.ES256, GroupsClaim: "cognito:groups"})
	c := iss.Claims("carol", []string{"g1"}, time.Minute)
	if g, _ := c["cognito:groups"].([]string); len(g) != 1 || g[0] != "g1" {
		t.Errorf("cognito:groups = %v: a colon is not a path separator", c["cognito:groups"])
	}
	old := iss.CurrentKID()
	tok, err := iss.Token("carol", nil, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	parse(t, iss, tok)
	if _, err := iss.Rotate(devoidc.RS256); err != nil {
		t.Fatal(err)
	}
	tok, err = iss.SignWithKey(old, iss.Claims("carol", nil, time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if h := parseHeader(t, tok); h["kid"] != old || h["alg"] != "ES256" {
		t.Errorf("SignWithKey header = %v, want kid %s alg ES256", h, old)
	}
	if _, err := iss.SignWithKey("nope", jwt.MapClaims{}); err == nil {
		t.Error("SignWithKey with an unknown kid succeeded")
	}
	if err := iss.UseKey(old); err != nil || iss.CurrentKID() != old {
		t.Errorf("UseKey(%s): err %v, current %s", old, err, iss.CurrentKID())
	}
}

func parseHeader(t *testing.T, tok string) map[string]any {
	t.Helper()
	tk, _, err := jwt.NewParser().ParseUnverified(tok, jwt.MapClaims{})
	if err != nil {
		t.Fatal(err)
	}
	return tk.Header
}

// The development issuer mints tokens for anyone; no deployed binary may
// contain it.
func TestNotImportedByLambdaBinaries(t *testing.T) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go tool not found")
	}
	out, err := exec.Command(gobin, "env", "GOMOD").Output()
	if err != nil || strings.TrimSpace(string(out)) == "" {
		t.Skip("module root not found")
	}
	root := filepath.Dir(strings.TrimSpace(string(out)))
	cmd := exec.Command(gobin, "list", "-e", "-deps", "-f", "{{.ImportPath}}", "./functions/...", "./authorizer/...")
	cmd.Dir = root
	deps, err := cmd.Output()
	if err != nil {
		t.Skipf("go list: %v", err)
	}
	const self = "github.com/llmgw/apitokens/pkg/local/devoidc"
	for _, p := range strings.Fields(string(deps)) {
		if p == self {
			t.Fatalf("%s is imported by a Lambda binary (functions/ or authorizer/); it must never be deployed", self)
		}
	}
}
