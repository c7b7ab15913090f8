package localstack_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// raw sends a request without following redirects and with every header
// value as given (repeated names included).
func (c *client) raw(method, path, body string, headers http.Header) answer {
	c.t.Helper()
	req, err := http.NewRequest(method, c.base+path, strings.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	for k, vs := range headers {
		req.Header[k] = vs
	}
	hc := &http.Client{Timeout: c.http.Timeout, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := hc.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{status: resp.StatusCode, raw: string(b), header: resp.Header}
}

// With the decision cache on (its default TTL), the management API still
// sees a revocation at once: the serve path is the only one that caches.
func TestRevokedTokenCannotActOnTheManagementAPI(t *testing.T) {
	s := startStack(t, nil)
	c := newClient(t, s)
	admin := c.jwt("admin", "lisa-admins", "lisa-users")
	created := c.want(c.do("POST", "/api-tokens/alice", `{"name":"1-day","groups":["lisa-users","lisa-api-users"],"expiresIn":"1d"}`, bearer(admin)...), 201)
	tok, id := created.str("token"), created.str("tokenUUID")

	// Warm every cache there is: list twice, call a model.
	c.want(c.do("GET", "/api-tokens/", "", bearer(tok)...), 200)
	c.want(c.do("GET", "/api-tokens/", "", bearer(tok)...), 200)
	c.want(c.do("GET", "/v2/serve/models", "", bearer(tok)...), 200)

	c.want(c.do("DELETE", "/api-tokens/"+id, "", bearer(tok)...), 200)
	c.want(c.do("POST", "/api-tokens/", `{"name":"successor","expiresIn":"365d"}`, bearer(tok)...), 401)
	c.want(c.do("GET", "/api-tokens/", "", "Api-Key", tok), 401)
	list := c.want(c.do("GET", "/api-tokens/?username=alice", "", bearer(admin)...), 200)
	if toks, _ := list.body["tokens"].([]any); len(toks) != 0 {
		t.Fatalf("alice still has tokens: %s", list.raw)
	}
}

func TestSystemTokenCannotMintUserTokens(t *testing.T) {
	s := startStack(t, nil)
	c := newClient(t, s)
	admin := c.jwt("admin", "lisa-admins", "lisa-users")
	sys := c.want(c.do("POST", "/api-tokens/alice", `{"name":"ci","isSystemToken":true,"groups":["lisa-users","lisa-api-users"],"expiresIn":"1d"}`, bearer(admin)...), 201)
	a := c.want(c.do("POST", "/api-tokens/", `{"name":"mine"}`, bearer(sys.str("token"))...), 403)
	if !strings.Contains(a.str("message"), "sign in") {
		t.Fatalf("message %q", a.str("message"))
	}
	// The system token can still delete itself: holding is enough to revoke.
	c.want(c.do("DELETE", "/api-tokens/"+sys.str("tokenUUID"), "", bearer(sys.str("token"))...), 200)
}

// A repeated credential header gets one answer on both paths.
func TestDuplicateCredentialHeadersOnBothPaths(t *testing.T) {
	s := startStack(t, nil)
	c := newClient(t, s)
	admin := c.jwt("admin", "lisa-admins", "lisa-users")
	good := c.want(c.do("POST", "/api-tokens/alice", `{"name":"a","groups":["lisa-api-users"]}`, bearer(admin)...), 201).str("token")
	other := c.want(c.do("POST", "/api-tokens/bob", `{"name":"b","groups":["lisa-api-users"]}`, bearer(admin)...), 201).str("token")
	for name, h := range map[string]http.Header{
		"two Authorization values":    {"Authorization": {"Bearer " + good, "Bearer " + other}},
		"the same value twice":        {"Authorization": {"Bearer " + good, "Bearer " + good}},
		"two Api-Key values":          {"Api-Key": {good, other}},
		"Api-Key twice beside a good": {"Authorization": {"Bearer " + good}, "Api-Key": {other, other}},
	} {
		t.Run(name, func(t *testing.T) {
			if a := c.raw("GET", "/api-tokens/", "", h); a.status != 401 {
				t.Errorf("/api-tokens: %d %s, want 401", a.status, a.raw)
			}
			if a := c.raw("GET", "/v2/serve/models", "", h); a.status != 401 {
				t.Errorf("/v2/serve/models: %d %s, want 401", a.status, a.raw)
			}
		})
	}
}

// The local gateway routes as API Gateway and the ALB do: no redirect to a
// cleaned path, and path parameters decoded.
func TestGatewayRoutesPathsAsSent(t *testing.T) {
	s := startStack(t, nil)
	c := newClient(t, s)
	admin := c.jwt("admin", "lisa-admins", "lisa-users")
	h := http.Header{"Authorization": {"Bearer " + admin}, "Content-Type": {"application/json"}}
	for _, p := range []string{
		"/api-tokens/../v2/serve/models",
		"/v2/serve/../../api-tokens/",
		"/v2/serve/./models",
		"/api-tokens//",
		"//api-tokens/",
	} {
		for _, m := range []string{"GET", "POST"} {
			a := c.raw(m, p, `{"name":"x"}`, h)
			if a.status >= 300 && a.status < 400 {
				t.Errorf("%s %s: redirect %d to %q", m, p, a.status, a.header.Get("Location"))
			}
			if a.status < 300 {
				t.Errorf("%s %s: %d %s; a path with dot segments or empty segments must not be served", m, p, a.status, a.raw)
			}
		}
	}
	before := c.want(c.do("GET", "/api-tokens/", "", bearer(admin)...), 200).raw
	a := c.raw("POST", "/api-tokens/%2F", `{"name":"x"}`, h)
	if a.status != 400 || !strings.Contains(a.raw, "username") {
		t.Fatalf("POST /api-tokens/%%2F: %d %s, want 400 about the username", a.status, a.raw)
	}
	if after := c.want(c.do("GET", "/api-tokens/", "", bearer(admin)...), 200).raw; after != before {
		t.Fatalf("the table changed: %s", after)
	}
}
