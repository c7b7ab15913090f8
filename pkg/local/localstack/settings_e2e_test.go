package localstack_test

import (
	"strings"
	"testing"
	"time"
)

// TestSettingsOverHTTP: an admin turns user-managed tokens off and on with
// PUT /settings, over real HTTP through the gateway and authorizer, and
// self-service creates follow within TOKEN_CACHE_SECONDS (here 1 s), though
// create and settings are separate functions with caches of their own.
func TestSettingsOverHTTP(t *testing.T) {
	const bound = time.Second
	s := startStack(t, map[string]string{"TOKEN_CACHE_SECONDS": "1"})
	c := newClient(t, s)
	adminJWT := c.jwt("admin", "lisa-admins", "lisa-users")
	aliceJWT := c.jwt("alice", "lisa-users", "lisa-api-users")

	g := c.want(c.do("GET", "/settings", "", bearer(aliceJWT)...), 200)
	if g.body["allowUserManagedTokens"] != true || g.str("source") != "default" {
		t.Fatalf("GET /settings on a new table = %s", g.raw)
	}
	c.want(c.do("GET", "/settings", ""), 401)
	c.want(c.do("PUT", "/settings", `{"allowUserManagedTokens":false}`, bearer(aliceJWT)...), 403)
	c.want(c.do("POST", "/settings", `{}`, bearer(adminJWT)...), 404)

	// alice's own token: create reads (and caches) the setting.
	mine := c.want(c.do("POST", "/api-tokens/", `{"name":"before"}`, bearer(aliceJWT)...), 201)
	c.want(c.do("DELETE", "/api-tokens/"+mine.str("tokenUUID"), "", bearer(aliceJWT)...), 200)

	off := c.want(c.do("PUT", "/settings/", `{"allowUserManagedTokens":false}`, bearer(adminJWT)...), 200)
	if off.body["allowUserManagedTokens"] != false || off.str("source") != "table" || off.str("updatedBy") != "admin" {
		t.Fatalf("PUT answered %s", off.raw)
	}
	if g := c.want(c.do("GET", "/settings", "", bearer(aliceJWT)...), 200); g.body["allowUserManagedTokens"] != false {
		t.Fatalf("GET after PUT = %s", g.raw)
	}
	time.Sleep(bound + 200*time.Millisecond)
	r := c.want(c.do("POST", "/api-tokens/", `{"name":"after off"}`, bearer(aliceJWT)...), 403)
	if !strings.Contains(r.str("message"), "user-managed API tokens are disabled") {
		t.Fatalf("refusal says %q", r.str("message"))
	}
	// Admins still issue tokens; the owner still deletes them.
	issued := c.want(c.do("POST", "/api-tokens/alice", `{"name":"issued"}`, bearer(adminJWT)...), 201)
	c.want(c.do("DELETE", "/api-tokens/"+issued.str("tokenUUID"), "", bearer(aliceJWT)...), 200)

	c.want(c.do("PUT", "/settings", `{"allowUserManagedTokens":true}`, bearer(adminJWT)...), 200)
	time.Sleep(bound + 200*time.Millisecond)
	c.want(c.do("POST", "/api-tokens/", `{"name":"after on"}`, bearer(aliceJWT)...), 201)
}
