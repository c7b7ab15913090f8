package tokensvc_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/llmgw/apitokens/pkg/apierr"
	"github.com/llmgw/apitokens/pkg/auth"
	"github.com/llmgw/apitokens/pkg/store"
	"github.com/llmgw/apitokens/pkg/store/memstore"
	"github.com/llmgw/apitokens/pkg/tokensvc"
)

// settingsStore is a memstore whose settings reads are counted and can be
// made to fail.
type settingsStore struct {
	*memstore.Store
	reads atomic.Int32
	down  atomic.Bool
}

func (s *settingsStore) GetSettings(ctx context.Context) (store.Settings, error) {
	s.reads.Add(1)
	if s.down.Load() {
		return store.Settings{}, errors.New("dial tcp: connection refused")
	}
	return s.Store.GetSettings(ctx)
}

// set writes the setting straight to the store, as another instance (the
// settings function) would.
func (s *settingsStore) set(t *testing.T, allow bool) {
	t.Helper()
	if err := s.Store.PutSettings(context.Background(), store.Settings{AllowUserManagedTokens: &allow, UpdatedBy: "elsewhere", UpdatedAt: 1}); err != nil {
		t.Fatal(err)
	}
}

type settingsFixture struct {
	st  *settingsStore
	svc *tokensvc.Service
	now *time.Time
}

func newSettingsFixture(allowDefault bool, ttl time.Duration) *settingsFixture {
	now := time.Unix(1_800_000_000, 0)
	f := &settingsFixture{st: &settingsStore{Store: memstore.New()}, now: &now}
	f.svc = tokensvc.New(f.st, tokensvc.Config{Groups: groups, DefaultTokenDays: 90, MaxTokenDays: 365, AllowUserManaged: allowDefault, SettingsTTL: ttl},
		tokensvc.WithClock(func() time.Time { return *f.now }))
	return f
}

func jwtCaller(name string, gs ...string) auth.Principal {
	p := auth.Principal{Username: name, Groups: gs, AuthType: auth.AuthJWT}
	p.IsAdmin, p.IsAPIUser = groups.Roles(gs)
	return p
}

var (
	apiUser  = jwtCaller("alice", "api")
	adminJWT = jwtCaller("root", "admins")
)

// createOwn makes a self-service create and deletes what it made, so that
// the one-token rule never interferes; it returns the error kind
// (apierr.Internal for success).
func (f *settingsFixture) createOwn(t *testing.T, caller auth.Principal) apierr.Kind {
	t.Helper()
	ctx := context.Background()
	c, err := f.svc.Create(ctx, caller, "", tokensvc.CreateRequest{Name: ptr("x")})
	if err != nil {
		return apierr.KindOf(err)
	}
	if _, err := f.svc.Delete(ctx, caller, c.TokenUUID); err != nil {
		t.Fatalf("delete: %v", err)
	}
	return apierr.Internal
}

func TestSettingsDefaultComesFromConfig(t *testing.T) {
	for _, allow := range []bool{true, false} {
		f := newSettingsFixture(allow, 0)
		v, err := f.svc.GetSettings(context.Background(), apiUser)
		if err != nil || v != (tokensvc.SettingsView{AllowUserManagedTokens: allow, Source: tokensvc.SourceDefault}) {
			t.Fatalf("default %v: GetSettings = %+v, %v", allow, v, err)
		}
		want := apierr.Forbidden
		if allow {
			want = apierr.Internal
		}
		if got := f.createOwn(t, apiUser); got != want {
			t.Fatalf("default %v: self-service create kind %v, want %v", allow, got, want)
		}
	}
}

func TestSettingsTableValueWins(t *testing.T) {
	for _, allowDefault := range []bool{true, false} {
		f := newSettingsFixture(allowDefault, 0)
		ctx := context.Background()
		v, err := f.svc.PutSettings(ctx, adminJWT, tokensvc.SettingsRequest{AllowUserManagedTokens: ptr(!allowDefault)})
		want := tokensvc.SettingsView{AllowUserManagedTokens: !allowDefault, Source: tokensvc.SourceTable, UpdatedBy: "root", UpdatedAt: f.now.Unix()}
		if err != nil || v != want {
			t.Fatalf("PutSettings = %+v, %v; want %+v", v, err, want)
		}
		if got, err := f.svc.GetSettings(ctx, apiUser); err != nil || got != want {
			t.Fatalf("GetSettings = %+v, %v; want %+v", got, err, want)
		}
		wantKind := apierr.Forbidden
		if !allowDefault {
			wantKind = apierr.Internal
		}
		if got := f.createOwn(t, apiUser); got != wantKind {
			t.Fatalf("default %v, table %v: self-service create kind %v, want %v", allowDefault, !allowDefault, got, wantKind)
		}
	}
}

func TestSettingsOnlyAdminsChange(t *testing.T) {
	f := newSettingsFixture(true, 0)
	ctx := context.Background()
	adminToken := tokenCaller("ops", f.now.Add(time.Hour).Unix(), true, "admins")
	userToken := tokenCaller("alice", f.now.Add(time.Hour).Unix(), false, "api")
	for _, c := range []struct {
		name   string
		caller auth.Principal
		req    tokensvc.SettingsRequest
		kind   apierr.Kind
	}{
		{"user JWT", apiUser, tokensvc.SettingsRequest{AllowUserManagedTokens: ptr(false)}, apierr.Forbidden},
		{"user API token", userToken, tokensvc.SettingsRequest{AllowUserManagedTokens: ptr(false)}, apierr.Forbidden},
		{"admin, field missing", adminJWT, tokensvc.SettingsRequest{}, apierr.Invalid},
	} {
		if _, err := f.svc.PutSettings(ctx, c.caller, c.req); apierr.KindOf(err) != c.kind {
			t.Errorf("%s: err %v, want kind %v", c.name, err, c.kind)
		}
	}
	if st, _ := f.st.Store.GetSettings(ctx); st.AllowUserManagedTokens != nil {
		t.Fatalf("a refused PutSettings was stored: %+v", st)
	}
	v, err := f.svc.PutSettings(ctx, adminToken, tokensvc.SettingsRequest{AllowUserManagedTokens: ptr(false)})
	if err != nil || v.UpdatedBy != "ops" || v.AllowUserManagedTokens {
		t.Fatalf("admin API token: %+v, %v", v, err)
	}
}

// TestSettingsCacheHonoursTheTTL: a change made elsewhere is seen by
// self-service creates once the TTL has passed since the last read, and not
// before; with TTL 0 at once.
func TestSettingsCacheHonoursTheTTL(t *testing.T) {
	const ttl = 10 * time.Second
	f := newSettingsFixture(true, ttl)
	if got := f.createOwn(t, apiUser); got != apierr.Internal {
		t.Fatalf("first create: kind %v", got)
	}
	if n := f.st.reads.Load(); n != 1 {
		t.Fatalf("%d settings reads, want 1", n)
	}
	f.st.set(t, false)
	*f.now = f.now.Add(ttl - time.Second)
	if got := f.createOwn(t, apiUser); got != apierr.Internal {
		t.Fatalf("within the TTL the cached value must hold: kind %v", got)
	}
	if n := f.st.reads.Load(); n != 1 {
		t.Fatalf("%d settings reads within the TTL, want 1", n)
	}
	*f.now = f.now.Add(time.Second) // exactly the TTL after the read
	if got := f.createOwn(t, apiUser); got != apierr.Forbidden {
		t.Fatalf("after the TTL the change must be seen: kind %v", got)
	}
	f.st.set(t, true)
	*f.now = f.now.Add(ttl)
	if got := f.createOwn(t, apiUser); got != apierr.Internal {
		t.Fatalf("turned on again, after the TTL: kind %v", got)
	}

	// TTL 0: every self-service create reads.
	z := newSettingsFixture(true, 0)
	if got := z.createOwn(t, apiUser); got != apierr.Internal {
		t.Fatalf("TTL 0, first: kind %v", got)
	}
	z.st.set(t, false)
	if got := z.createOwn(t, apiUser); got != apierr.Forbidden {
		t.Fatalf("TTL 0: the change must be seen at once: kind %v", got)
	}
	if n := z.st.reads.Load(); n != 2 {
		t.Fatalf("TTL 0: %d settings reads for 2 creates, want 2", n)
	}
}

// TestSettingsPutTakesEffectAtOnceOnThisInstance: the instance that wrote
// the setting does not wait for its own cache.
func TestSettingsPutTakesEffectAtOnceOnThisInstance(t *testing.T) {
	f := newSettingsFixture(true, time.Hour)
	if got := f.createOwn(t, apiUser); got != apierr.Internal {
		t.Fatalf("kind %v", got)
	}
	if _, err := f.svc.PutSettings(context.Background(), adminJWT, tokensvc.SettingsRequest{AllowUserManagedTokens: ptr(false)}); err != nil {
		t.Fatal(err)
	}
	if got := f.createOwn(t, apiUser); got != apierr.Forbidden {
		t.Fatalf("after PutSettings on this instance: kind %v, want Forbidden", got)
	}
}

// TestSettingsReadFailureFailsClosed: a self-service create that cannot
// read the setting is a 503, never an Allow; creates by admins, for
// themselves or on the admin path, and deletes do not depend on it.
func TestSettingsReadFailureFailsClosed(t *testing.T) {
	for _, ttl := range []time.Duration{0, time.Second} {
		f := newSettingsFixture(true, ttl)
		ctx := context.Background()
		f.st.down.Store(true)
		if got := f.createOwn(t, apiUser); got != apierr.Unavailable {
			t.Fatalf("ttl %v: self-service create with the settings unreadable: kind %v, want Unavailable", ttl, got)
		}
		if _, err := f.svc.GetSettings(ctx, apiUser); apierr.KindOf(err) != apierr.Unavailable {
			t.Fatalf("ttl %v: GetSettings: %v, want Unavailable", ttl, err)
		}
		if got := f.createOwn(t, adminJWT); got != apierr.Internal {
			t.Fatalf("ttl %v: admin self-service: kind %v", ttl, got)
		}
		c, err := f.svc.Create(ctx, adminJWT, "alice", tokensvc.CreateRequest{Name: ptr("issued")})
		if err != nil {
			t.Fatalf("ttl %v: admin path: %v", ttl, err)
		}
		if _, err := f.svc.Delete(ctx, apiUser, c.TokenUUID); err != nil {
			t.Fatalf("ttl %v: deleting one's own token: %v", ttl, err)
		}
	}
}

// TestSettingsAdminPathUnaffected: with user-managed tokens off in the
// table, admins still create tokens for users and owners still delete them.
func TestSettingsAdminPathUnaffected(t *testing.T) {
	f := newSettingsFixture(true, 0)
	ctx := context.Background()
	f.st.set(t, false)
	c, err := f.svc.Create(ctx, adminJWT, "alice", tokensvc.CreateRequest{Name: ptr("issued")})
	if err != nil {
		t.Fatalf("admin path: %v", err)
	}
	if got := f.createOwn(t, apiUser); got != apierr.Forbidden {
		t.Fatalf("self-service: kind %v, want Forbidden", got)
	}
	if _, err := f.svc.Delete(ctx, apiUser, c.TokenUUID); err != nil {
		t.Fatalf("owner delete: %v", err)
	}
}
