package localstack_test

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/llmgw/apitokens/pkg/config"
	"github.com/llmgw/apitokens/pkg/secret"
)

// TestLifecycleOverHTTP: through the gateway, the authorizer and the serve
// path over real HTTP, in both serve modes: a disabled token is refused on
// the token API at once and on /v2/serve/* within TOKEN_CACHE_SECONDS; the
// serve path records lastUsedAt; a rotated token keeps working for its
// grace period only; the audit trail shows every change with the caller's
// address and user agent.
func TestLifecycleOverHTTP(t *testing.T) {
	for _, mode := range []string{config.ServeModeLambda, config.ServeModeContainer} {
		t.Run(mode, func(t *testing.T) {
			s := startStack(t, map[string]string{
				config.EnvTokenCacheSeconds: "1", config.EnvServeMode: mode, config.EnvLastUsedResolution: "1",
			})
			c := newClient(t, s)
			admin := c.jwt("admin", "lisa-admins", "lisa-users")
			user := uniqueName(t)
			made := c.want(c.do("POST", "/api-tokens/"+user, `{"name":"ci","groups":["lisa-api-users"]}`, bearer(admin)...), 201)
			tok, id := made.str("token"), made.str("tokenUUID")
			ua := []string{"User-Agent", "lifecycle-e2e/1.0"}

			c.want(c.do("GET", "/v2/serve/models", "", bearer(tok)...), 200)
			g := c.want(c.do("GET", "/api-tokens/"+id, "", bearer(admin)...), 200)
			if used, _ := g.body["lastUsedAt"].(float64); used == 0 {
				t.Fatalf("lastUsedAt not recorded after a model call: %s", g.raw)
			}

			c.want(c.do("PATCH", "/api-tokens/"+id, `{"disabled":true}`, append(bearer(admin), ua...)...), 200)
			c.want(c.do("GET", "/api-tokens/", "", bearer(tok)...), 401)
			time.Sleep(1200 * time.Millisecond) // TOKEN_CACHE_SECONDS
			c.want(c.do("GET", "/v2/serve/models", "", bearer(tok)...), 401)
			c.want(c.do("PATCH", "/api-tokens/"+id, `{"disabled":false}`, append(bearer(admin), ua...)...), 200)
			c.want(c.do("GET", "/api-tokens/", "", bearer(tok)...), 200)

			// The token rotates itself (a CI job swapping its own secret)
			// with no grace: the old secret stops at once on the token
			// API, within the cache bound on the serve path.
			r := c.want(c.do("POST", "/api-tokens/"+id+"/rotate", `{"gracePeriod":"0s"}`, append(bearer(tok), ua...)...), 201)
			fresh := r.str("token")
			if r.str("rotatedFrom") != id || r.str("createdVia") != id {
				t.Fatalf("rotation made by the token itself: %s", r.raw)
			}
			c.want(c.do("GET", "/api-tokens/", "", bearer(tok)...), 401)
			c.want(c.do("GET", "/api-tokens/", "", bearer(fresh)...), 200)
			time.Sleep(1200 * time.Millisecond)
			c.want(c.do("GET", "/v2/serve/models", "", bearer(tok)...), 401)
			c.want(c.do("GET", "/v2/serve/models", "", bearer(fresh)...), 200)

			h := c.want(c.do("GET", "/api-tokens/"+id+"/events", "", bearer(admin)...), 200)
			evs, _ := h.body["events"].([]any)
			var actions []string
			for _, e := range evs {
				ev := e.(map[string]any)
				actions = append(actions, fmt.Sprint(ev["action"]))
				if ev["action"] != "create" && (ev["userAgent"] != "lifecycle-e2e/1.0" || ev["sourceIp"] != "127.0.0.1") {
					t.Errorf("event without the caller's origin: %v", ev)
				}
			}
			if got := strings.Join(actions, ","); got != "rotate,enable,disable,create" {
				t.Fatalf("history of the old token: %s", got)
			}
			if rot := evs[0].(map[string]any); rot["authType"] != id || rot["actor"] != user {
				t.Errorf("the rotation is recorded as made by %v with %v", rot["actor"], rot["authType"])
			}
		})
	}
}

// TestPrefixedTokensOverHTTP: with TOKEN_FORMAT=prefixed new tokens carry
// the prefix and a checksum, authenticate on both paths, and a typo in one
// is refused without a read; hex tokens made before keep working.
func TestPrefixedTokensOverHTTP(t *testing.T) {
	s := startStack(t, map[string]string{config.EnvTokenFormat: config.TokenFormatPrefixed, config.EnvTokenPrefix: "acme"})
	c := newClient(t, s)
	admin := c.jwt("admin", "lisa-admins", "lisa-users")
	user := uniqueName(t)
	made := c.want(c.do("POST", "/api-tokens/"+user, `{"name":"ci","groups":["lisa-api-users"]}`, bearer(admin)...), 201)
	tok := made.str("token")
	if !regexp.MustCompile(secret.Pattern("acme")).MatchString(tok) || !strings.HasPrefix(tok, "acme_") {
		t.Fatalf("token %q is not an acme_ prefixed token", tok)
	}
	c.want(c.do("GET", "/api-tokens/", "", bearer(tok)...), 200)
	c.want(c.do("GET", "/v2/serve/models", "", bearer(tok)...), 200)
	typo := tok[:10] + string(rune(tok[10]^1)) + tok[11:]
	for _, path := range []string{"/api-tokens/", "/v2/serve/models"} {
		c.want(c.do("GET", path, "", bearer(typo)...), 401)
	}
	r := c.want(c.do("POST", "/api-tokens/"+made.str("tokenUUID")+"/rotate", ``, bearer(admin)...), 201)
	if !strings.HasPrefix(r.str("token"), "acme_") {
		t.Fatalf("a rotation made %q", r.str("token"))
	}
}
