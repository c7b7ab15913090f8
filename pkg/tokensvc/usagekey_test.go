package tokensvc_test

import (
	"context"
	"testing"
	"time"

	"github.com/llmgw/apitokens/pkg/auth"
	"github.com/llmgw/apitokens/pkg/store"
	"github.com/llmgw/apitokens/pkg/tokensvc"
)

// A user's personal tokens, one after another, are counted under one
// key, so that deleting a token and creating another cannot start its
// limits afresh; system tokens keep their own.
func TestPersonalTokensShareTheirUsersUsageKey(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	ctx := context.Background()
	svc := newService(now)
	jwt := func(name string, gs ...string) auth.Principal {
		p := auth.Principal{Username: name, Groups: gs, AuthType: auth.AuthJWT}
		p.IsAdmin, p.IsAPIUser = groups.Roles(gs)
		return p
	}
	alice, admin := jwt("alice", "api"), jwt("root", "admins")

	first, err := svc.Create(ctx, alice, "", named("first"))
	if err != nil {
		t.Fatal(err)
	}
	key := store.PersonalUsageKey("alice")
	if first.UsageKey != key || key == first.TokenUUID {
		t.Fatalf("personal token's usage key %q, want the user's %q", first.UsageKey, key)
	}
	if v, err := svc.Get(ctx, alice, first.TokenUUID); err != nil || v.UsageKey != key {
		t.Fatalf("view: %+v %v", v, err)
	}
	if _, err := svc.Delete(ctx, alice, first.TokenUUID); err != nil {
		t.Fatal(err)
	}
	again, err := svc.Create(ctx, alice, "", named("again"))
	if err != nil {
		t.Fatal(err)
	}
	if again.UsageKey != key {
		t.Errorf("a new token after a delete is counted under %q, want %q", again.UsageKey, key)
	}
	// Made by an admin, a user's personal token is the same slot.
	if _, err := svc.Delete(ctx, admin, again.TokenUUID); err != nil {
		t.Fatal(err)
	}
	byAdmin, err := svc.Create(ctx, admin, "alice", named("by admin"))
	if err != nil || byAdmin.UsageKey != key {
		t.Errorf("admin-made personal token: %+v %v, want key %q", byAdmin, err, key)
	}
	if bob := store.PersonalUsageKey("bob"); bob == key {
		t.Error("two users share a usage key")
	}
	sys, err := svc.Create(ctx, admin, "alice", systemNamed("ci"))
	if err != nil {
		t.Fatal(err)
	}
	if sys.UsageKey != "" {
		t.Errorf("a system token is counted under %q, want its own id", sys.UsageKey)
	}
}

func named(name string) tokensvc.CreateRequest { return tokensvc.CreateRequest{Name: ptr(name)} }

func systemNamed(name string) tokensvc.CreateRequest {
	return tokensvc.CreateRequest{Name: ptr(name), Groups: ptr([]string{"api"}), IsSystemToken: ptr(true)}
}
