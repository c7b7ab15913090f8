package apigw_test

import (
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/llmgw/apitokens/pkg/secret"
)

func secretHash(tok string) string { return secret.Hash(tok) }

// decodedLoosely is s base64url-decoded when it decodes, else s.
func decodedLoosely(s string) string {
	if b, err := base64.RawURLEncoding.DecodeString(s); err == nil {
		return string(b)
	}
	return s
}

// runTokenCallers holds the rules for calls made with an API token: no
// token outlives or outranks the token that made it, a revoked token
// cannot act again, and holding a token is enough to revoke it.
func runTokenCallers(t *testing.T, b backend) {
	day := int64(24 * 60 * 60)

	t.Run("a system token cannot create a user token", func(t *testing.T) {
		st, _ := b.new(t)
		e := newEnv(t, st)
		sys := e.create(admin, "alice", `{"name":"1-day ci","isSystemToken":true,"groups":["lisa-users","lisa-api-users"],"expiresIn":"1d"}`).str("token")
		before := e.snapshot()
		r := e.withToken(sys, "POST", "/api-tokens/", `{"name":"forever"}`)
		e.want(r, 403, "system token cannot create a user token")
		if !strings.Contains(r.str("message"), "sign in") {
			t.Fatalf("message %q does not say what to do", r.str("message"))
		}
		assertUnchanged(t, e, before)
	})

	t.Run("a deleted token cannot act again, even with an earlier authorizer decision", func(t *testing.T) {
		st, _ := b.new(t)
		e := newEnv(t, st)
		c := e.create(admin, "alice", `{"name":"1-day","groups":["lisa-users","lisa-api-users"],"expiresIn":"1d"}`)
		tok, id := c.str("token"), c.str("tokenUUID")
		decision := e.as(tok) // what a cached authorizer result would replay
		e.want(e.withToken(tok, "DELETE", "/api-tokens/"+id, ""), 200, "")
		before := e.snapshot()
		e.want(e.withToken(tok, "POST", "/api-tokens/", `{"name":"successor","expiresIn":"365d"}`), 401, "")
		r := e.withStaleDecision(decision, tok, "POST", "/api-tokens/", `{"name":"successor","expiresIn":"365d"}`)
		e.want(r, 401, "")
		e.want(e.withStaleDecision(decision, tok, "GET", "/api-tokens/", ""), 401, "")
		assertUnchanged(t, e, before)
	})

	t.Run("an authorizer decision for one token does not cover another", func(t *testing.T) {
		st, _ := b.new(t)
		e := newEnv(t, st)
		a := e.create(admin, "alice", `{"name":"a","groups":["lisa-api-users"]}`).str("token")
		bt := e.create(admin, "bob", `{"name":"b","groups":["lisa-api-users","lisa-admins"]}`).str("token")
		// Alice's decision with Bob's (admin) token in the headers, or the
		// other way round: refused, never a mix of the two.
		e.want(e.withStaleDecision(e.as(a), bt, "GET", "/api-tokens/", ""), 401, "")
		e.want(e.withStaleDecision(e.as(bt), a, "GET", "/api-tokens/", ""), 401, "")
	})

	t.Run("a token made by a token expires no later and holds no more groups", func(t *testing.T) {
		st, _ := b.new(t)
		e := newEnv(t, st)
		ops := e.create(admin, "ops-bot", `{"name":"ops","isSystemToken":true,"groups":["lisa-admins","team-a"],"expiresIn":"1d"}`)
		opsTok, opsExp := ops.str("token"), ops.num("tokenExpiration")
		before := e.snapshot()

		r := e.withToken(opsTok, "POST", "/api-tokens/bob", fmt.Sprintf(`{"name":"x","tokenExpiration":%d}`, e.now.Unix()+30*day))
		e.want(r, 400, "cannot outlive")
		e.want(e.withToken(opsTok, "POST", "/api-tokens/bob", `{"name":"x","expiresIn":"2d"}`), 400, "cannot outlive")
		e.want(e.withToken(opsTok, "POST", "/api-tokens/bob", `{"name":"x","groups":["team-b"]}`), 400, `"team-b"`)
		e.want(e.withToken(opsTok, "POST", "/api-tokens/bob", `{"name":"x","groups":["team-a","lisa-admins","extra"]}`), 400, `"extra"`)
		assertUnchanged(t, e, before)

		// The default expiry is lowered to the creator's.
		got := e.withToken(opsTok, "POST", "/api-tokens/bob", `{"name":"x","groups":["team-a"]}`)
		e.want(got, 201, "")
		if got.num("tokenExpiration") != opsExp {
			t.Fatalf("tokenExpiration = %d, want the creator's %d", got.num("tokenExpiration"), opsExp)
		}
		if got.str("createdVia") != ops.str("tokenUUID") || got.str("createdBy") != "ops-bot" {
			t.Fatalf("createdVia = %q, createdBy = %q; want %q, ops-bot", got.str("createdVia"), got.str("createdBy"), ops.str("tokenUUID"))
		}
		// An explicit expiry at or before the creator's is fine.
		e.want(e.withToken(opsTok, "POST", "/api-tokens/carol", fmt.Sprintf(`{"name":"x","tokenExpiration":%d}`, opsExp)), 201, "")
		e.want(e.withToken(opsTok, "POST", "/api-tokens/dave", `{"name":"x","expiresIn":"12h"}`), 201, "")
	})

	t.Run("createdVia is recorded and shown by create, list and get", func(t *testing.T) {
		st, _ := b.new(t)
		e := newEnv(t, st)
		c := e.create(admin, "alice", `{"name":"a","groups":["lisa-api-users","lisa-admins"]}`)
		if c.str("createdVia") != "jwt" {
			t.Fatalf("createdVia = %q, want jwt", c.str("createdVia"))
		}
		viaTok := e.withToken(c.str("token"), "POST", "/api-tokens/bob", `{"name":"b"}`)
		e.want(viaTok, 201, "")
		g := e.do(admin, "GET", "/api-tokens/"+viaTok.str("tokenUUID"), "")
		e.want(g, 200, "")
		if g.str("createdVia") != c.str("tokenUUID") {
			t.Fatalf("get: createdVia = %q, want %q", g.str("createdVia"), c.str("tokenUUID"))
		}
		seen := map[string]string{}
		for _, v := range listAll(t, e, admin, "") {
			seen[v["tokenUUID"].(string)], _ = v["createdVia"].(string)
		}
		if seen[c.str("tokenUUID")] != "jwt" || seen[viaTok.str("tokenUUID")] != c.str("tokenUUID") {
			t.Fatalf("list createdVia = %v", seen)
		}
	})

	t.Run("an owner can delete their own token after leaving the API group", func(t *testing.T) {
		st, _ := b.new(t)
		e := newEnv(t, st)
		mine := e.create(admin, "carol", `{"name":"c"}`).str("tokenUUID") // carol: not in the API group
		bobs := e.create(admin, "bob", `{"name":"b"}`).str("tokenUUID")
		e.want(e.do(carol, "GET", "/api-tokens/"+mine, ""), 403, "API group")
		e.want(e.do(carol, "DELETE", "/api-tokens/"+bobs, ""), 404, "")
		e.want(e.do(carol, "DELETE", "/api-tokens/"+mine, ""), 200, "")
		e.want(e.do(admin, "GET", "/api-tokens/"+mine, ""), 404, "")
	})

	t.Run("self-service usernames are checked like admin-path ones", func(t *testing.T) {
		st, _ := b.new(t)
		e := newEnv(t, st)
		before := e.snapshot()
		long := principal(strings.Repeat("u", 2048), "lisa-users", "lisa-api-users")
		e.want(e.do(long, "POST", "/api-tokens/", `{"name":"x"}`), 400, "username must be at most")
		spaced := principal("a b", "lisa-users", "lisa-api-users")
		e.want(e.do(spaced, "POST", "/api-tokens/", `{"name":"x"}`), 400, "username")
		assertUnchanged(t, e, before)
	})

	t.Run("expiresIn cannot overflow", func(t *testing.T) {
		st, _ := b.new(t)
		e := newEnv(t, st)
		before := e.snapshot()
		for _, v := range []string{"213504d", "999999d", "999999h", "999999m", "366d", "8785h"} {
			e.want(e.do(alice, "POST", "/api-tokens/", `{"name":"x","expiresIn":"`+v+`"}`), 400, "maximum token lifetime")
		}
		assertUnchanged(t, e, before)
		r := e.create(alice, "", `{"name":"x","expiresIn":"365d"}`)
		if r.num("tokenExpiration") != e.now.Add(365*24*time.Hour).Unix() {
			t.Fatalf("365d: tokenExpiration = %d", r.num("tokenExpiration"))
		}
	})

	t.Run("invalid UTF-8 in the body is a 422 and stores nothing", func(t *testing.T) {
		st, _ := b.new(t)
		e := newEnv(t, st)
		before := e.snapshot()
		e.want(e.do(alice, "POST", "/api-tokens/", "{\"name\":\"bad \xff\xfe name\"}"), 422, "UTF-8")
		e.want(e.do(admin, "POST", "/api-tokens/bob", "{\"name\":\"x\",\"groups\":[\"g\xc3\"]}"), 422, "UTF-8")
		assertUnchanged(t, e, before)
	})

	t.Run("nextToken names no token, hash or user, and a changed one is a 400", func(t *testing.T) {
		st, _ := b.new(t)
		e := newEnv(t, st)
		var hashes []string
		for i := 0; i < 5; i++ {
			tok := e.create(admin, fmt.Sprintf("user%d", i), `{"name":"x"}`).str("token")
			hashes = append(hashes, secretHash(tok))
		}
		r := e.do(admin, "GET", "/api-tokens/?limit=2", "")
		e.want(r, 200, "")
		next := r.str("nextToken")
		if next == "" {
			t.Fatal("no nextToken after 2 of 5 tokens")
		}
		for _, h := range hashes {
			if strings.Contains(decodedLoosely(next), h) || strings.Contains(next, h) {
				t.Fatalf("nextToken %q carries a token hash", next)
			}
		}
		if strings.Contains(decodedLoosely(next), "USER#") || strings.Contains(decodedLoosely(next), "user") {
			t.Fatalf("nextToken %q names users", next)
		}
		flipped := []byte(next)
		i := len(flipped) / 2
		flipped[i] = map[bool]byte{true: 'A', false: 'B'}[flipped[i] != 'A']
		e.want(e.do(admin, "GET", "/api-tokens/?limit=2&nextToken="+string(flipped), ""), 400, "nextToken")
		// A cursor of the admin listing is no cursor of a user's listing.
		e.want(e.do(alice, "GET", "/api-tokens/?limit=2&nextToken="+next, ""), 400, "nextToken")
		e.want(e.do(admin, "GET", "/api-tokens/?limit=2&nextToken="+next, ""), 200, "")
	})
}
