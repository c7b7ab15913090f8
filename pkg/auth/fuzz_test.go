package auth_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/llmgw/apitokens/pkg/auth"
)

// FuzzAuthenticate throws arbitrary header values at credential extraction
// and the decision core, in both token formats. Nothing may panic and
// nothing random may be allowed: the only credentials the fixture accepts
// are its stored hex token, its stored prefixed token (with the prefixed
// format only) and the JWT "aaa.bbb.ccc".
func FuzzAuthenticate(f *testing.F) {
	for _, s := range []string{
		"", "Bearer", "Bearer ", "bearer x", "aaa.bbb.ccd", "a.b", "...", "Bearer a.b.c.d",
		"eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.", "legacy-0123456789abcdef",
		"0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000",
		"\x00\xff", "Bearer \t\n", "USER#alice",
		"lisa_", "lisa_0000000000000000000000000000000000000000000000000",
		"lisa_zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz", "acme_.a.b", "lisa_a.b.c",
	} {
		f.Add(s, s)
	}
	fx := newFormatFixture(f, time.Second, lisaFormat)
	hexCore := auth.NewCore(auth.Options{Tokens: fx.tokens, JWT: fx.jwt, Groups: groups, CacheTTL: time.Second, Now: fx.clock.Now})
	p := fx.prefixed
	for _, s := range []string{p, "Bearer " + p, p[:len(p)-1], p + "0", "LISA" + p[4:], p[:5] + "." + p[6:], p[:30] + "_" + p[31:]} {
		f.Add(s, "")
		f.Add("", s)
	}
	f.Add("Bearer "+p, fx.secret)
	f.Fuzz(func(t *testing.T, authz, apiKey string) {
		h := http.Header{}
		if authz != "" {
			h.Set("Authorization", authz)
		}
		if apiKey != "" {
			h.Set("Api-Key", apiKey)
		}
		cred, _ := auth.Credential(h)
		for _, c := range []struct {
			core     *auth.Core
			prefixed bool
		}{{hexCore, false}, {fx.core, true}} {
			p, err := c.core.Authenticate(context.Background(), h)
			if err == nil {
				if cred != "aaa.bbb.ccc" && cred != fx.secret && (!c.prefixed || cred != fx.prefixed) {
					t.Fatalf("prefixed=%v: allowed a credential that is not valid: principal %+v", c.prefixed, p)
				}
				continue
			}
			if p.Username != "" {
				t.Fatalf("principal returned with an error: %+v", p)
			}
		}
	})
}
