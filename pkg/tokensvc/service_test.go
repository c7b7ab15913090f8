package tokensvc_test

import (
	"context"
	"testing"
	"time"

	"github.com/llmgw/apitokens/pkg/apierr"
	"github.com/llmgw/apitokens/pkg/auth"
	"github.com/llmgw/apitokens/pkg/store/memstore"
	"github.com/llmgw/apitokens/pkg/tokensvc"
)

var groups = auth.Groups{Admin: "admins", API: "api"}

func newService(now time.Time) *tokensvc.Service {
	return tokensvc.New(memstore.New(), tokensvc.Config{Groups: groups, DefaultTokenDays: 90, MaxTokenDays: 365, AllowUserManaged: true},
		tokensvc.WithClock(func() time.Time { return now }))
}

func ptr[T any](v T) *T { return &v }

// tokenCaller is a principal that authenticated with an API token.
func tokenCaller(name string, exp int64, system bool, gs ...string) auth.Principal {
	p := auth.Principal{Username: name, Groups: gs, AuthType: auth.AuthAPIToken, TokenUUID: "0b9b1c9e-6f0a-4d47-9a43-2c4d5e6f7a8b", ExpiresAt: exp, IsSystemToken: system}
	p.IsAdmin, p.IsAPIUser = groups.Roles(gs)
	return p
}

func TestCreateByTokenIsBoundedByThatToken(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	ctx := context.Background()
	exp := now.Add(24 * time.Hour).Unix()

	cases := []struct {
		name    string
		caller  auth.Principal
		forUser string
		req     tokensvc.CreateRequest
		kind    apierr.Kind // Internal = success
		wantExp int64
	}{
		{"self-service default lowered to the caller's expiry", tokenCaller("alice", exp, false, "api"), "",
			tokensvc.CreateRequest{Name: ptr("x")}, apierr.Internal, exp},
		{"self-service explicit later expiry refused", tokenCaller("alice", exp, false, "api"), "",
			tokensvc.CreateRequest{Name: ptr("x"), ExpiresIn: ptr("2d")}, apierr.Invalid, 0},
		{"self-service by a system token refused", tokenCaller("ci", exp, true, "api"), "",
			tokensvc.CreateRequest{Name: ptr("x"), ExpiresIn: ptr("1h")}, apierr.Forbidden, 0},
		{"admin path: groups beyond the caller's refused", tokenCaller("ops", exp, true, "admins"), "bob",
			tokensvc.CreateRequest{Name: ptr("x"), Groups: ptr([]string{"admins", "more"})}, apierr.Invalid, 0},
		{"admin path: subset of groups, default expiry lowered", tokenCaller("ops", exp, true, "admins", "t"), "bob",
			tokensvc.CreateRequest{Name: ptr("x"), Groups: ptr([]string{"t"})}, apierr.Internal, exp},
		{"admin path: an earlier explicit expiry kept", tokenCaller("ops", exp, true, "admins"), "bob",
			tokensvc.CreateRequest{Name: ptr("x"), TokenExpiration: ptr(exp - 60)}, apierr.Internal, exp - 60},
		{"a token caller without a known expiry is refused", tokenCaller("ops", 0, false, "admins"), "bob",
			tokensvc.CreateRequest{Name: ptr("x")}, apierr.Internal, -1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			svc := newService(now)
			got, err := svc.Create(ctx, tc.caller, tc.forUser, tc.req)
			if tc.wantExp == -1 {
				if err == nil {
					t.Fatal("created a token for a caller whose expiry is unknown")
				}
				return
			}
			if tc.kind == apierr.Internal {
				if err != nil {
					t.Fatalf("Create: %v", err)
				}
				if got.TokenExpiration != tc.wantExp || got.CreatedVia != tc.caller.TokenUUID {
					t.Fatalf("expiry %d via %q; want %d via %q", got.TokenExpiration, got.CreatedVia, tc.wantExp, tc.caller.TokenUUID)
				}
				return
			}
			if apierr.KindOf(err) != tc.kind {
				t.Fatalf("err = %v (kind %v), want kind %v", err, apierr.KindOf(err), tc.kind)
			}
		})
	}
}

func TestCreateByJWTIsNotCappedByTheJWT(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	p := auth.Principal{Username: "alice", Groups: []string{"api"}, AuthType: auth.AuthJWT, ExpiresAt: now.Add(time.Hour).Unix(), IsAPIUser: true}
	got, err := newService(now).Create(context.Background(), p, "", tokensvc.CreateRequest{Name: ptr("x")})
	if err != nil || got.TokenExpiration != now.Add(90*24*time.Hour).Unix() || got.CreatedVia != "jwt" {
		t.Fatalf("got %+v, %v; want the 90-day default, createdVia jwt", got, err)
	}
}
