package auth_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/llmgw/apitokens/pkg/auth"
)

// FuzzAuthenticate throws arbitrary header values at credential extraction
// and the decision core. Nothing may panic and nothing random may be
// allowed: the only credentials this fixture accepts are its one stored
// token and the JWT "aaa.bbb.ccc".
func FuzzAuthenticate(f *testing.F) {
	for _, s := range []string{
		"", "Bearer", "Bearer ", "bearer x", "aaa.bbb.ccd", "a.b", "...", "Bearer a.b.c.d",
		"eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.", "legacy-0123456789abcdef",
		"0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000",
		"\x00\xff", "Bearer \t\n", "USER#alice",
	} {
		f.Add(s, s)
	}
	fx := newFixture(f, time.Second)
	f.Fuzz(func(t *testing.T, authz, apiKey string) {
		h := http.Header{}
		if authz != "" {
			h.Set("Authorization", authz)
		}
		if apiKey != "" {
			h.Set("Api-Key", apiKey)
		}
		p, err := fx.core.Authenticate(context.Background(), h)
		if err == nil {
			cred, _ := auth.Credential(h)
			if cred != "aaa.bbb.ccc" && cred != fx.secret {
				t.Fatalf("allowed a credential that is not valid: principal %+v", p)
			}
			return
		}
		if p.Username != "" {
			t.Fatalf("principal returned with an error: %+v", p)
		}
	})
}
