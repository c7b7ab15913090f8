// Package storetest is the conformance suite for store.Store. Every backend
// runs it from its own tests:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) store.Store { return memstore.New() })
//	}
//
// newStore must return an empty store for each call; it is called once per
// subtest, and subtests run in parallel. The store must also implement
// LegacyInserter, because legacy items (plain-text values inserted by hand) cannot be made through the
// Store interface and their handling is part of the contract.
//
// RunLarge adds the volume tests: listing thousands of items through many
// pages and finding each token by UUID among them.
package storetest

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/llmgw/apitokens/pkg/schema"
	"github.com/llmgw/apitokens/pkg/secret"
	"github.com/llmgw/apitokens/pkg/store"
)

// LegacyInserter writes a legacy item the way an admin's AWS CLI put-item
// does: {"token": value} and, when expiration is not 0, "tokenExpiration".
// Both stores implement it as test support. An existing key is ErrExists.
type LegacyInserter interface {
	PutLegacy(ctx context.Context, value string, expiration int64) error
}

// BulkCreator is optional test support: it writes many valid, distinct
// tokens (at most one non-system token per user) faster than Create, with
// the same items Create would write. RunLarge uses it when the store has it,
// so that filling a table with thousands of tokens takes seconds on
// DynamoDB Local. Create itself is exercised by Run.
type BulkCreator interface {
	PutBatch(ctx context.Context, toks []store.Token) error
}

// Fixed times keep expected tokens exact; the store does not interpret
// them.
const (
	created = int64(1_767_225_600) // 2026-01-01T00:00:00Z
	expires = created + 90*24*3600
)

// sentinels are the errors of the store contract; an error that is none of
// them is an infrastructure or programming error to callers.
var sentinels = []error{store.ErrNotFound, store.ErrSlotTaken, store.ErrExists, store.ErrBadCursor, store.ErrConflict}

// Run runs the conformance suite against stores made by newStore.
func Run(t *testing.T, newStore func(t *testing.T) store.Store) {
	// The group makes Run return only when its parallel subtests are done,
	// so callers may check things (counters, leaks) after Run.
	t.Run("Conformance", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			fn   func(*testing.T, store.Store)
		}{
			{"CreateAndGet", testCreateAndGet},
			{"GetMissing", testGetMissing},
			{"GuardItemsHidden", testGuardItemsHidden},
			{"OneTokenPerUser", testOneTokenPerUser},
			{"ConcurrentCreateSameUser", testConcurrentSameUser},
			{"ConcurrentCreateDifferentUsers", testConcurrentDifferentUsers},
			{"Exists", testExists},
			{"InvalidToken", testInvalidToken},
			{"DeleteFreesSlot", testDeleteFreesSlot},
			{"DeleteSystemKeepsSlot", testDeleteSystemKeepsSlot},
			{"DeleteMissing", testDeleteMissing},
			{"DeleteMismatch", testDeleteMismatch},
			{"Legacy", testLegacy},
			{"ListEmpty", testListEmpty},
			{"ListPagination", testListPagination},
			{"ListManyLegacy", testListManyLegacy},
			{"ListByUser", testListByUser},
			{"ListBadCursor", testListBadCursor},
			{"CursorRevealsNothing", testCursorRevealsNothing},
			{"CursorTampered", testCursorTampered},
			{"ReservedItemsHidden", testReservedItemsHidden},
			{"ListLimitOutOfRange", testListLimit},
			{"GetByUUIDAmongMany", func(t *testing.T, s store.Store) { testGetByUUIDAmongMany(t, s, 200) }},
			{"ReturnedTokensAreCopies", testCopies},
			{"SettingsNeverSet", testSettingsNeverSet},
			{"SettingsRoundTrip", testSettingsRoundTrip},
			{"SettingsAreNoToken", testSettingsAreNoToken},
		} {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				tc.fn(t, newStore(t))
			})
		}
		for _, tc := range lifecycleTests {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				tc.fn(t, newStore(t))
			})
		}
	})
}

// RunLarge fills one store with n tokens (a tenth of them system tokens)
// and a few legacy items, then lists them all with Limit 100 and 1000,
// lists one user's tokens, and finds up to 1000 of them by UUID (the Python
// original's scan with Limit=1 fails exactly that). Use n >= 1000.
func RunLarge(t *testing.T, newStore func(t *testing.T) store.Store, n int) {
	t.Run("Large", func(t *testing.T) {
		s := newStore(t)
		ctx := testContext(t, 5*time.Minute)
		toks := make([]store.Token, n)
		for i := range toks {
			// Every tenth token is a system token of the previous user, so
			// some users hold several tokens.
			if i%10 == 9 {
				toks[i] = newToken(t, toks[i-1].Username, true)
			} else {
				toks[i] = newToken(t, fmt.Sprintf("user%05d", i), false)
			}
		}
		start := time.Now()
		if bc, ok := s.(BulkCreator); ok {
			if err := bc.PutBatch(ctx, toks); err != nil {
				t.Fatalf("PutBatch: %v", err)
			}
		} else {
			createAll(ctx, t, s, toks)
		}
		legacy := putLegacies(ctx, t, s, 5)
		t.Logf("created %d tokens and %d legacy items in %s", n, len(legacy), time.Since(start).Round(time.Millisecond))

		want := wantByKey(toks, legacy)
		for _, limit := range []int{100, 1000} {
			t.Run(fmt.Sprintf("ListAll/limit=%d", limit), func(t *testing.T) {
				start := time.Now()
				got, pages := listAll(ctx, t, s, store.ListOptions{Limit: limit}, keys(legacy))
				checkListing(t, got, want)
				if min := (len(want) + limit - 1) / limit; pages < min {
					t.Errorf("%d pages, want at least %d", pages, min)
				}
				t.Logf("listed %d items in %d pages in %s", len(got), pages, time.Since(start).Round(time.Millisecond))
			})
		}
		t.Run("ListByUser", func(t *testing.T) {
			user := toks[8].Username // holds toks[8] and the system token toks[9]
			got, _ := listAll(ctx, t, s, store.ListOptions{Username: user, Limit: 1}, nil)
			checkListing(t, got, wantByKey([]store.Token{toks[8], toks[9]}, nil))
		})
		t.Run("GetByUUID", func(t *testing.T) {
			m := min(len(toks), 1000)
			// Spread over the whole set rather than the first m.
			sample := make([]store.Token, 0, m)
			for i := 0; i < m; i++ {
				sample = append(sample, toks[i*len(toks)/m])
			}
			parallel(t, len(sample), 8, func(i int) error {
				got, err := s.GetByUUID(ctx, sample[i].UUID)
				if err != nil {
					return fmt.Errorf("GetByUUID(%s): %w", sample[i].UUID, err)
				}
				if !reflect.DeepEqual(got, norm(sample[i])) {
					return fmt.Errorf("GetByUUID(%s) = %+v, want %+v", sample[i].UUID, got, norm(sample[i]))
				}
				return nil
			})
		})
	})
}

// ---- the tests ----

func testCreateAndGet(t *testing.T, s store.Store) {
	ctx := testContext(t, time.Minute)
	full := newToken(t, "alice", false)
	full.CreatedBy = "admin"
	full.CreatedVia = "jwt"
	viaToken := newToken(t, "frank", false)
	viaToken.CreatedVia = "5f0c3e0e-0d7c-4a57-9c43-6f1e2b7c9a10"
	sys := newToken(t, "alice", true)
	noGroups := newToken(t, "bob", false)
	noGroups.Groups = nil
	emptyGroups := newToken(t, "carol", false)
	emptyGroups.Groups = []string{}
	blank := newToken(t, "dave", false)
	blank.Name, blank.CreatedBy = "", ""
	manyGroups := newToken(t, "erin", false)
	manyGroups.Groups = []string{"z", "a", "lisa-users", "a"} // order and duplicates kept

	for _, tc := range []struct {
		name string
		tok  store.Token
	}{
		{"all fields", full},
		{"system token", sys},
		{"nil groups read back empty", noGroups},
		{"empty groups", emptyGroups},
		{"empty name and creator", blank},
		{"group order and duplicates", manyGroups},
		{"created via another token", viaToken},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := s.Create(ctx, tc.tok); err != nil {
				t.Fatalf("Create: %v", err)
			}
			want := norm(tc.tok)
			got, err := s.GetByHash(ctx, tc.tok.Hash)
			if err != nil {
				t.Fatalf("GetByHash: %v", err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("GetByHash = %+v\nwant        %+v", got, want)
			}
			got, err = s.GetByUUID(ctx, tc.tok.UUID)
			if err != nil {
				t.Fatalf("GetByUUID: %v", err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("GetByUUID = %+v\nwant        %+v", got, want)
			}
		})
	}
}

func testGetMissing(t *testing.T, s store.Store) {
	ctx := testContext(t, time.Minute)
	mustCreate(ctx, t, s, newToken(t, "alice", false)) // not an empty table
	absent := newToken(t, "nobody", false)
	for _, tc := range []struct {
		name string
		get  func() (store.Token, error)
	}{
		{"hash", func() (store.Token, error) { return s.GetByHash(ctx, absent.Hash) }},
		{"empty hash", func() (store.Token, error) { return s.GetByHash(ctx, "") }},
		{"uuid", func() (store.Token, error) { return s.GetByUUID(ctx, absent.UUID) }},
		{"empty uuid", func() (store.Token, error) { return s.GetByUUID(ctx, "") }},
		{"legacy id", func() (store.Token, error) { return s.GetLegacy(ctx, "legacy-0123456789abcdef") }},
		{"not a legacy id", func() (store.Token, error) { return s.GetLegacy(ctx, "nonsense") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got, err := tc.get(); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("got %+v, %v; want ErrNotFound", got, err)
			}
		})
	}
}

func testGuardItemsHidden(t *testing.T, s store.Store) {
	ctx := testContext(t, time.Minute)
	tok := newToken(t, "alice", false)
	mustCreate(ctx, t, s, tok)
	guard := schema.GuardKey("alice")
	if got, err := s.GetByHash(ctx, guard); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetByHash(guard key) = %+v, %v; want ErrNotFound", got, err)
	}
	if got, err := s.GetLegacy(ctx, secret.LegacyID(guard)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetLegacy(id of guard key) = %+v, %v; want ErrNotFound (a guard is no legacy item)", got, err)
	}
	got, _ := listAll(ctx, t, s, store.ListOptions{Limit: 10}, nil)
	checkListing(t, got, wantByKey([]store.Token{tok}, nil))
	got, _ = listAll(ctx, t, s, store.ListOptions{Username: "alice", Limit: 10}, nil)
	checkListing(t, got, wantByKey([]store.Token{tok}, nil))
}

func testOneTokenPerUser(t *testing.T, s store.Store) {
	ctx := testContext(t, time.Minute)
	first := newToken(t, "alice", false)
	mustCreate(ctx, t, s, first)

	second := newToken(t, "alice", false)
	if err := s.Create(ctx, second); !errors.Is(err, store.ErrSlotTaken) {
		t.Fatalf("second personal token: %v, want ErrSlotTaken", err)
	}
	if _, err := s.GetByHash(ctx, second.Hash); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("refused token was written (GetByHash: %v)", err)
	}
	if _, err := s.GetByUUID(ctx, second.UUID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("refused token was written (GetByUUID: %v)", err)
	}

	for _, tc := range []struct {
		name string
		tok  store.Token
	}{
		{"system token beside a personal one", newToken(t, "alice", true)},
		{"another system token", newToken(t, "alice", true)},
		{"system token of a user without one", newToken(t, "bob", true)},
		{"personal token after only system tokens", newToken(t, "bob", false)},
		{"another user", newToken(t, "carol", false)},
	} {
		if err := s.Create(ctx, tc.tok); err != nil {
			t.Errorf("%s: Create: %v, want success", tc.name, err)
		}
	}
	got, _ := listAll(ctx, t, s, store.ListOptions{Username: "alice", Limit: 100}, nil)
	if len(got) != 3 {
		t.Errorf("alice holds %d tokens, want 3 (one personal, two system)", len(got))
	}
}

func testConcurrentSameUser(t *testing.T, s store.Store) {
	ctx := testContext(t, 2*time.Minute)
	const n = 50
	toks := make([]store.Token, n)
	for i := range toks {
		toks[i] = newToken(t, "alice", false)
	}
	errs := make([]error, n)
	var wg sync.WaitGroup
	ready := make(chan struct{})
	for i := range toks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-ready // start together to maximise contention
			errs[i] = s.Create(ctx, toks[i])
		}()
	}
	close(ready)
	wg.Wait()

	winner, taken := -1, 0
	for i, err := range errs {
		switch {
		case err == nil:
			if winner >= 0 {
				t.Errorf("both %d and %d succeeded", winner, i)
			}
			winner = i
		case errors.Is(err, store.ErrSlotTaken):
			taken++
		default:
			t.Errorf("create %d: %v, want nil or ErrSlotTaken", i, err)
		}
	}
	if winner < 0 || taken != n-1 {
		t.Fatalf("%d concurrent creates: winner=%d, %d ErrSlotTaken; want exactly 1 success and %d ErrSlotTaken", n, winner, taken, n-1)
	}
	got, _ := listAll(ctx, t, s, store.ListOptions{Username: "alice", Limit: 100}, nil)
	checkListing(t, got, wantByKey([]store.Token{toks[winner]}, nil))
}

func testConcurrentDifferentUsers(t *testing.T, s store.Store) {
	ctx := testContext(t, 2*time.Minute)
	toks := make([]store.Token, 20)
	for i := range toks {
		toks[i] = newToken(t, fmt.Sprintf("user%d", i), false)
	}
	parallel(t, len(toks), len(toks), func(i int) error { return s.Create(ctx, toks[i]) })
	got, _ := listAll(ctx, t, s, store.ListOptions{Limit: 100}, nil)
	checkListing(t, got, wantByKey(toks, nil))
}

func testExists(t *testing.T, s store.Store) {
	ctx := testContext(t, time.Minute)
	alice := newToken(t, "alice", false)
	mustCreate(ctx, t, s, alice)
	aliceSys := newToken(t, "alice", true)
	mustCreate(ctx, t, s, aliceSys)

	with := func(tok store.Token, f func(*store.Token)) store.Token { f(&tok); return tok }
	for _, tc := range []struct {
		name string
		tok  store.Token
	}{
		{"same hash, same user (slot also taken)", with(newToken(t, "alice", false), func(x *store.Token) { x.Hash = alice.Hash })},
		{"same hash, other user", with(newToken(t, "bob", false), func(x *store.Token) { x.Hash = alice.Hash })},
		{"same hash as a system token", with(newToken(t, "bob", false), func(x *store.Token) { x.Hash = aliceSys.Hash })},
		{"system token with a taken hash", with(newToken(t, "bob", true), func(x *store.Token) { x.Hash = alice.Hash })},
		{"same UUID, other hash", with(newToken(t, "bob", false), func(x *store.Token) { x.UUID = alice.UUID })},
		{"system token with a taken UUID", with(newToken(t, "bob", true), func(x *store.Token) { x.UUID = aliceSys.UUID })},
	} {
		if err := s.Create(ctx, tc.tok); !errors.Is(err, store.ErrExists) {
			t.Errorf("%s: Create: %v, want ErrExists", tc.name, err)
		}
	}
	// Nothing of the refused creates was written: bob's slot is still free
	// and alice's tokens are unchanged.
	mustCreate(ctx, t, s, newToken(t, "bob", false))
	for _, want := range []store.Token{alice, aliceSys} {
		if got, err := s.GetByUUID(ctx, want.UUID); err != nil || !reflect.DeepEqual(got, norm(want)) {
			t.Errorf("after refused creates GetByUUID = %+v, %v; want %+v", got, err, norm(want))
		}
	}
}

func testInvalidToken(t *testing.T, s store.Store) {
	ctx := testContext(t, time.Minute)
	with := func(f func(*store.Token)) store.Token { tok := newToken(t, "alice", false); f(&tok); return tok }
	for _, tc := range []struct {
		name string
		tok  store.Token
	}{
		{"empty hash", with(func(x *store.Token) { x.Hash = "" })},
		{"guard key as hash", with(func(x *store.Token) { x.Hash = schema.GuardKey("mallory") })},
		{"cursor key item as hash", with(func(x *store.Token) { x.Hash = schema.CursorKeyItem })},
		{"other reserved key as hash", with(func(x *store.Token) { x.Hash = "CONFIG#other" })},
		{"empty UUID", with(func(x *store.Token) { x.UUID = "" })},
		{"empty username", with(func(x *store.Token) { x.Username = "" })},
		{"legacy", with(func(x *store.Token) { x.Legacy = true })},
	} {
		err := s.Create(ctx, tc.tok)
		if err == nil {
			t.Errorf("%s: Create succeeded, want an error", tc.name)
		}
		for _, sentinel := range sentinels {
			if errors.Is(err, sentinel) {
				t.Errorf("%s: Create: %v; an invalid token is a programming error, not %v", tc.name, err, sentinel)
			}
		}
	}
	if got, _ := listAll(ctx, t, s, store.ListOptions{Limit: 100}, nil); len(got) != 0 {
		t.Errorf("invalid creates wrote %d items", len(got))
	}
	mustCreate(ctx, t, s, newToken(t, "alice", false)) // alice's slot is free
}

func testDeleteFreesSlot(t *testing.T, s store.Store) {
	ctx := testContext(t, time.Minute)
	a := newToken(t, "alice", false)
	mustCreate(ctx, t, s, a)
	if err := s.Delete(ctx, a); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, err := s.GetByHash(ctx, a.Hash); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetByHash after Delete: %v, want ErrNotFound", err)
	}
	if _, err := s.GetByUUID(ctx, a.UUID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetByUUID after Delete: %v, want ErrNotFound", err)
	}
	if err := s.Delete(ctx, a); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("second Delete: %v, want ErrNotFound", err)
	}
	b := newToken(t, "alice", false)
	if err := s.Create(ctx, b); err != nil {
		t.Fatalf("Create after Delete: %v, want success (slot freed)", err)
	}
	if err := s.Create(ctx, newToken(t, "alice", false)); !errors.Is(err, store.ErrSlotTaken) {
		t.Errorf("third token: %v, want ErrSlotTaken", err)
	}
	got, _ := listAll(ctx, t, s, store.ListOptions{Limit: 100}, nil)
	checkListing(t, got, wantByKey([]store.Token{b}, nil))
}

func testDeleteSystemKeepsSlot(t *testing.T, s store.Store) {
	ctx := testContext(t, time.Minute)
	personal := newToken(t, "alice", false)
	sys := newToken(t, "alice", true)
	mustCreate(ctx, t, s, personal)
	mustCreate(ctx, t, s, sys)
	if err := s.Delete(ctx, sys); err != nil {
		t.Fatalf("Delete(system): %v", err)
	}
	if err := s.Create(ctx, newToken(t, "alice", false)); !errors.Is(err, store.ErrSlotTaken) {
		t.Errorf("after deleting a system token: %v, want ErrSlotTaken (the personal token still holds the slot)", err)
	}
	if err := s.Delete(ctx, personal); err != nil {
		t.Fatalf("Delete(personal): %v", err)
	}
	mustCreate(ctx, t, s, newToken(t, "alice", false))
}

func testDeleteMissing(t *testing.T, s store.Store) {
	ctx := testContext(t, time.Minute)
	mustCreate(ctx, t, s, newToken(t, "alice", false))
	for _, tc := range []struct {
		name string
		tok  store.Token
	}{
		{"personal", newToken(t, "bob", false)},
		{"system", newToken(t, "bob", true)},
		{"legacy", store.Token{Hash: "never-inserted", Legacy: true}},
		{"guard key", store.Token{Hash: schema.GuardKey("alice"), Legacy: true}},
		{"empty", store.Token{}},
	} {
		if err := s.Delete(ctx, tc.tok); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s: Delete: %v, want ErrNotFound", tc.name, err)
		}
	}
	// The guard-key attempt must not have freed alice's slot.
	if err := s.Create(ctx, newToken(t, "alice", false)); !errors.Is(err, store.ErrSlotTaken) {
		t.Errorf("after deleting by guard key: %v, want ErrSlotTaken", err)
	}
}

func testDeleteMismatch(t *testing.T, s store.Store) {
	ctx := testContext(t, time.Minute)
	a := newToken(t, "alice", false)
	mustCreate(ctx, t, s, a)
	with := func(f func(*store.Token)) store.Token { x := a; f(&x); return x }
	for _, tc := range []struct {
		name string
		tok  store.Token
	}{
		{"other UUID", with(func(x *store.Token) { x.UUID = uuid.NewString() })},
		{"claims to be a system token", with(func(x *store.Token) { x.IsSystem = true })},
		{"claims to be legacy", with(func(x *store.Token) { x.Legacy = true; x.UUID = "" })},
	} {
		if err := s.Delete(ctx, tc.tok); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s: Delete: %v, want ErrNotFound", tc.name, err)
		}
	}
	if got, err := s.GetByUUID(ctx, a.UUID); err != nil || !reflect.DeepEqual(got, norm(a)) {
		t.Errorf("after refused deletes GetByUUID = %+v, %v; want %+v", got, err, norm(a))
	}
	if err := s.Create(ctx, newToken(t, "alice", false)); !errors.Is(err, store.ErrSlotTaken) {
		t.Errorf("after refused deletes: %v, want ErrSlotTaken", err)
	}
}

func testLegacy(t *testing.T, s store.Store) {
	ctx := testContext(t, time.Minute)
	li := legacyInserter(t, s)
	tok := newToken(t, "alice", false)
	mustCreate(ctx, t, s, tok)
	plain, expiring := "plain-"+randHex(t, 8), "expiring-"+randHex(t, 8)
	if err := li.PutLegacy(ctx, plain, 0); err != nil {
		t.Fatalf("PutLegacy: %v", err)
	}
	if err := li.PutLegacy(ctx, expiring, expires); err != nil {
		t.Fatalf("PutLegacy: %v", err)
	}
	if err := li.PutLegacy(ctx, plain, 0); !errors.Is(err, store.ErrExists) {
		t.Errorf("PutLegacy twice: %v, want ErrExists", err)
	}

	wantPlain := store.Token{Hash: plain, Groups: []string{}, Legacy: true}
	wantExpiring := store.Token{Hash: expiring, Expiration: expires, Groups: []string{}, Legacy: true}
	for _, want := range []store.Token{wantPlain, wantExpiring} {
		got, err := s.GetLegacy(ctx, secret.LegacyID(want.Hash))
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("GetLegacy = %+v, %v; want %+v", got, err, want)
		}
		got, err = s.GetByHash(ctx, want.Hash)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("GetByHash(legacy) = %+v, %v; want %+v", got, err, want)
		}
	}
	if got, err := s.GetLegacy(ctx, secret.LegacyID(tok.Hash)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetLegacy(id of a real token) = %+v, %v; want ErrNotFound", got, err)
	}

	if err := s.Delete(ctx, wantPlain); err != nil {
		t.Fatalf("Delete(legacy): %v", err)
	}
	if _, err := s.GetLegacy(ctx, secret.LegacyID(plain)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetLegacy after Delete: %v, want ErrNotFound", err)
	}
	if err := s.Delete(ctx, wantPlain); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Delete(legacy) twice: %v, want ErrNotFound", err)
	}
	got, _ := listAll(ctx, t, s, store.ListOptions{Limit: 100}, []string{plain, expiring})
	checkListing(t, got, wantByKey([]store.Token{tok}, map[string]int64{expiring: expires}))
}

func testListEmpty(t *testing.T, s store.Store) {
	ctx := testContext(t, time.Minute)
	for _, opts := range []store.ListOptions{{Limit: 1}, {Limit: 1000}, {Username: "alice", Limit: 10}} {
		page, err := s.List(ctx, opts)
		if err != nil || len(page.Tokens) != 0 || page.Cursor != "" {
			t.Errorf("List(%+v) on an empty store = %+v, %v; want no tokens and no cursor", opts, page, err)
		}
	}
}

// listFixture fills s with 7 personal tokens (7 guard items), 3 system
// tokens of user0 and 3 legacy items.
func listFixture(ctx context.Context, t *testing.T, s store.Store) (toks []store.Token, legacy map[string]int64) {
	for i := range 7 {
		toks = append(toks, newToken(t, fmt.Sprintf("user%d", i), false))
	}
	for range 3 {
		toks = append(toks, newToken(t, "user0", true))
	}
	createAll(ctx, t, s, toks)
	return toks, putLegacies(ctx, t, s, 3)
}

func testListPagination(t *testing.T, s store.Store) {
	ctx := testContext(t, time.Minute)
	toks, legacy := listFixture(ctx, t, s)
	want := wantByKey(toks, legacy)
	secrets := keys(legacy)
	for _, limit := range []int{1, 2, 3, 5, 12, 13, 14, 1000} {
		t.Run(fmt.Sprintf("limit=%d", limit), func(t *testing.T) {
			got, _ := listAll(ctx, t, s, store.ListOptions{Limit: limit}, secrets)
			checkListing(t, got, want)
		})
	}
}

// testListManyLegacy makes runs of consecutive legacy items certain, so
// pages end inside such runs; a cursor must still not reveal a legacy value.
func testListManyLegacy(t *testing.T, s store.Store) {
	ctx := testContext(t, time.Minute)
	toks := []store.Token{newToken(t, "alice", false), newToken(t, "bob", false), newToken(t, "bob", true)}
	createAll(ctx, t, s, toks)
	legacy := putLegacies(ctx, t, s, 15)
	want := wantByKey(toks, legacy)
	for _, limit := range []int{1, 2, 4, 17, 18} {
		t.Run(fmt.Sprintf("limit=%d", limit), func(t *testing.T) {
			got, _ := listAll(ctx, t, s, store.ListOptions{Limit: limit}, keys(legacy))
			checkListing(t, got, want)
		})
	}
}

func testListByUser(t *testing.T, s store.Store) {
	ctx := testContext(t, time.Minute)
	toks, _ := listFixture(ctx, t, s)
	user0 := []store.Token{toks[0], toks[7], toks[8], toks[9]}
	for _, tc := range []struct {
		user  string
		limit int
		want  []store.Token
	}{
		{"user0", 1, user0},
		{"user0", 3, user0},
		{"user0", 1000, user0},
		{"user1", 1, toks[1:2]},
		{"nobody", 5, nil},
		{schema.GuardKey("user0"), 5, nil},
	} {
		t.Run(fmt.Sprintf("%s/limit=%d", tc.user, tc.limit), func(t *testing.T) {
			got, _ := listAll(ctx, t, s, store.ListOptions{Username: tc.user, Limit: tc.limit}, nil)
			checkListing(t, got, wantByKey(tc.want, nil))
		})
	}
}

func testListBadCursor(t *testing.T, s store.Store) {
	ctx := testContext(t, time.Minute)
	toks, _ := listFixture(ctx, t, s)
	cursorOf := func(opts store.ListOptions) string {
		page, err := s.List(ctx, opts)
		if err != nil || page.Cursor == "" {
			t.Fatalf("List(%+v) = %+v, %v; want a cursor", opts, page, err)
		}
		return page.Cursor
	}
	allCursor := cursorOf(store.ListOptions{Limit: 1})
	userCursor := cursorOf(store.ListOptions{Username: "user0", Limit: 1})
	b64 := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

	for _, tc := range []struct {
		name string
		opts store.ListOptions
	}{
		{"garbage", store.ListOptions{Limit: 5, Cursor: "!!not a cursor!!"}},
		{"base64 of text", store.ListOptions{Limit: 5, Cursor: b64("hello")}},
		{"empty object", store.ListOptions{Limit: 5, Cursor: b64("{}")}},
		{"JSON null", store.ListOptions{Limit: 5, Cursor: b64("null")}},
		{"truncated", store.ListOptions{Limit: 5, Cursor: allCursor[:len(allCursor)/2]}},
		// Shapes like the stores' own cursors, but invalid for both.
		{"position that is no hash", store.ListOptions{Limit: 5, Cursor: b64(`{"m":"all","a":"not-a-position"}`)}},
		{"key with an extra attribute", store.ListOptions{Limit: 5, Cursor: b64(`{"m":"all","k":{"token":"` + toks[0].Hash + `","extra":"x"}}`)}},
		{"unknown listing mode", store.ListOptions{Limit: 5, Cursor: b64(`{"m":"other","k":{"token":"` + toks[0].Hash + `"}}`)}},
		{"user cursor for all tokens", store.ListOptions{Limit: 5, Cursor: userCursor}},
		{"user cursor for another user", store.ListOptions{Username: "user1", Limit: 5, Cursor: userCursor}},
		{"all-tokens cursor for one user", store.ListOptions{Username: "user0", Limit: 5, Cursor: allCursor}},
		{"huge", store.ListOptions{Limit: 5, Cursor: strings.Repeat("A", 100_000)}},
		{"long valid base64url", store.ListOptions{Limit: 5, Cursor: strings.Repeat("A", 10_000)}},
		{"blank", store.ListOptions{Limit: 5, Cursor: " "}},
		{"padding only", store.ListOptions{Limit: 5, Cursor: "=="}},
		{"one byte", store.ListOptions{Limit: 5, Cursor: b64("\x01")}},
		{"zero bytes of a plausible size", store.ListOptions{Limit: 5, Cursor: b64(strings.Repeat("\x00", 64))}},
		{"random bytes", store.ListOptions{Limit: 5, Cursor: b64(randHex(t, 40))}},
		{"padded", store.ListOptions{Limit: 5, Cursor: allCursor + "=="}},
		{"one character more", store.ListOptions{Limit: 5, Cursor: allCursor + "A"}},
		{"one character less", store.ListOptions{Limit: 5, Cursor: allCursor[:len(allCursor)-1]}},
		{"user cursor for a user with a longer name", store.ListOptions{Username: "user00", Limit: 5, Cursor: userCursor}},
		{"user cursor for a user with a shorter name", store.ListOptions{Username: "user", Limit: 5, Cursor: userCursor}},
	} {
		if page, err := s.List(ctx, tc.opts); !errors.Is(err, store.ErrBadCursor) {
			t.Errorf("%s: List = %+v, %v; want ErrBadCursor", tc.name, page, err)
		}
	}
	// The genuine cursors still work.
	if _, err := s.List(ctx, store.ListOptions{Limit: 5, Cursor: allCursor}); err != nil {
		t.Errorf("List with its own cursor: %v", err)
	}
	if _, err := s.List(ctx, store.ListOptions{Username: "user0", Limit: 5, Cursor: userCursor}); err != nil {
		t.Errorf("List with its own user cursor: %v", err)
	}
}

// listCursors returns every cursor of a full listing.
func listCursors(ctx context.Context, t *testing.T, s store.Store, opts store.ListOptions) []string {
	t.Helper()
	var out []string
	for {
		page, err := s.List(ctx, opts)
		if err != nil {
			t.Fatalf("List(%+v): %v", opts, err)
		}
		if page.Cursor == "" {
			return out
		}
		if len(out) > 1000 {
			t.Fatal("listing does not end")
		}
		out = append(out, page.Cursor)
		opts.Cursor = page.Cursor
	}
}

// testCursorRevealsNothing: cursors go to API clients, so they must not
// carry what the table holds: no token hash (as text or as bytes), no guard
// key, no username other than the one listed, nor "USER#", in the cursor
// text or in any base64 decoding of it.
func testCursorRevealsNothing(t *testing.T, s store.Store) {
	ctx := testContext(t, time.Minute)
	toks, legacy := listFixture(ctx, t, s)
	users := map[string]bool{}
	for _, tok := range toks {
		users[tok.Username] = true
	}
	forbidden := func(listed string) []string {
		out := []string{"USER#"}
		for _, tok := range toks {
			raw, err := hex.DecodeString(tok.Hash)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, tok.Hash, strings.ToUpper(tok.Hash), string(raw))
		}
		for u := range users {
			out = append(out, schema.GuardKey(u))
			if u != listed {
				out = append(out, u)
			}
		}
		return append(out, keys(legacy)...)
	}
	check := func(listed string, cursors []string) {
		t.Helper()
		if len(cursors) == 0 {
			t.Fatalf("listing of %q gave no cursor", listed)
		}
		bad, n := forbidden(listed), 0
		for _, c := range cursors {
			if v, ok := leaks(c, bad); ok {
				if n++; n <= 3 {
					t.Errorf("cursor %q of the listing of %q reveals %q", c, listed, v)
				}
			}
		}
		if n > 3 {
			t.Errorf("%d of %d cursors of the listing of %q reveal table contents", n, len(cursors), listed)
		}
	}
	for _, limit := range []int{1, 2, 3} {
		check("", listCursors(ctx, t, s, store.ListOptions{Limit: limit}))
	}
	check("user0", listCursors(ctx, t, s, store.ListOptions{Username: "user0", Limit: 1}))
}

// testCursorTampered: a cursor with any one character or decoded byte
// changed is ErrBadCursor (not another page, not an infrastructure error),
// and the genuine cursor still works afterwards.
func testCursorTampered(t *testing.T, s store.Store) {
	ctx := testContext(t, 2*time.Minute)
	listFixture(ctx, t, s)
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	for _, opts := range []store.ListOptions{{Limit: 2}, {Username: "user0", Limit: 1}} {
		page, err := s.List(ctx, opts)
		if err != nil || page.Cursor == "" {
			t.Fatalf("List(%+v) = %+v, %v; want a cursor", opts, page, err)
		}
		genuine := page.Cursor
		var variants []string
		// Every position of the text (a sample of 512 for longer cursors):
		// the next character of the alphabet and one half the alphabet away.
		for _, i := range positions(len(genuine), 512) {
			j := strings.IndexByte(alphabet, genuine[i])
			for _, d := range []int{1, 32} {
				c := byte('.')
				if j >= 0 {
					c = alphabet[(j+d)%len(alphabet)]
				}
				variants = append(variants, genuine[:i]+string(c)+genuine[i+1:])
			}
		}
		// Every decoded byte, low bit and all bits flipped.
		if raw, err := base64.RawURLEncoding.DecodeString(genuine); err == nil {
			for _, i := range positions(len(raw), 512) {
				for _, x := range []byte{0x01, 0xff} {
					b := append([]byte(nil), raw...)
					b[i] ^= x
					variants = append(variants, base64.RawURLEncoding.EncodeToString(b))
				}
			}
		}
		failures := 0
		for _, v := range variants {
			if v == genuine {
				continue
			}
			o := opts
			o.Cursor = v
			if page, err := s.List(ctx, o); !errors.Is(err, store.ErrBadCursor) {
				failures++
				if failures <= 5 {
					t.Errorf("listing %q: tampered cursor %q: List = %d tokens, %v; want ErrBadCursor", opts.Username, v, len(page.Tokens), err)
				}
			}
		}
		if failures > 5 {
			t.Errorf("listing %q: %d of %d tampered cursors were not ErrBadCursor", opts.Username, failures, len(variants))
		}
		o := opts
		o.Cursor = genuine
		if _, err := s.List(ctx, o); err != nil {
			t.Errorf("listing %q: the genuine cursor after the tampered ones: %v", opts.Username, err)
		}
	}
}

// positions is 0..n-1, or max of them spread evenly when n is larger.
func positions(n, max int) []int {
	out := make([]int, 0, min(n, max))
	for k := range min(n, max) {
		out = append(out, k*n/min(n, max))
	}
	return out
}

// testReservedItemsHidden: a store may keep items of its own in the table
// under reserved keys (the DynamoDB store keeps the cursor-sealing key at
// schema.CursorKeyItem, created when the first cursor is issued or read).
// Such an item is never a token: not found by hash, not a legacy item, not
// deletable, never listed, and refused as a legacy value.
func testReservedItemsHidden(t *testing.T, s store.Store) {
	ctx := testContext(t, time.Minute)
	toks, legacy := listFixture(ctx, t, s)
	first, err := s.List(ctx, store.ListOptions{Limit: 1})
	if err != nil || first.Cursor == "" {
		t.Fatalf("List(Limit: 1) = %+v, %v; want a cursor", first, err)
	}
	key := schema.CursorKeyItem
	if got, err := s.GetByHash(ctx, key); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetByHash(%s) = %+v, %v; want ErrNotFound", key, got, err)
	}
	if got, err := s.GetLegacy(ctx, secret.LegacyID(key)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetLegacy(id of %s) = %+v, %v; want ErrNotFound (no legacy item)", key, got, err)
	}
	for _, tok := range []store.Token{{Hash: key, Legacy: true}, {Hash: key, Groups: []string{}, Legacy: true}, {Hash: key, UUID: uuid.NewString()}} {
		if err := s.Delete(ctx, tok); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Delete(%+v): %v, want ErrNotFound", tok, err)
		}
	}
	if err := legacyInserter(t, s).PutLegacy(ctx, key, 0); err == nil {
		t.Errorf("PutLegacy(%s) succeeded; a reserved key is no legacy value", key)
	}
	// The refused deletes left the store's own item alone: the cursor
	// issued before them still works.
	if _, err := s.List(ctx, store.ListOptions{Limit: 1, Cursor: first.Cursor}); err != nil {
		t.Errorf("List with a cursor issued before the deletes: %v", err)
	}
	want := wantByKey(toks, legacy)
	for _, limit := range []int{1, 2, 5, 1000} {
		got, _ := listAll(ctx, t, s, store.ListOptions{Limit: limit}, keys(legacy))
		checkListing(t, got, want)
	}
}

func testListLimit(t *testing.T, s store.Store) {
	ctx := testContext(t, time.Minute)
	for _, limit := range []int{0, -1, 1001} {
		_, err := s.List(ctx, store.ListOptions{Limit: limit})
		if err == nil {
			t.Errorf("List(Limit: %d) succeeded, want an error", limit)
		}
		for _, sentinel := range sentinels {
			if errors.Is(err, sentinel) {
				t.Errorf("List(Limit: %d): %v; a bad limit is a caller bug, not %v", limit, err, sentinel)
			}
		}
	}
}

func testGetByUUIDAmongMany(t *testing.T, s store.Store, n int) {
	ctx := testContext(t, 2*time.Minute)
	toks := make([]store.Token, n)
	for i := range toks {
		toks[i] = newToken(t, fmt.Sprintf("user%d", i/2), i%2 == 1)
	}
	createAll(ctx, t, s, toks)
	parallel(t, n, 8, func(i int) error {
		got, err := s.GetByUUID(ctx, toks[i].UUID)
		if err != nil {
			return fmt.Errorf("GetByUUID(%s): %w", toks[i].UUID, err)
		}
		if !reflect.DeepEqual(got, norm(toks[i])) {
			return fmt.Errorf("GetByUUID(%s) = %+v, want %+v", toks[i].UUID, got, norm(toks[i]))
		}
		return nil
	})
}

func testCopies(t *testing.T, s store.Store) {
	ctx := testContext(t, time.Minute)
	tok := newToken(t, "alice", false)
	groups := tok.Groups
	mustCreate(ctx, t, s, tok)
	groups[0] = "changed-after-create"
	got, err := s.GetByHash(ctx, tok.Hash)
	if err != nil {
		t.Fatal(err)
	}
	if got.Groups[0] == "changed-after-create" {
		t.Errorf("the store kept the caller's Groups slice")
	}
	got.Groups[0] = "changed-after-get"
	again, _ := s.GetByHash(ctx, tok.Hash)
	if again.Groups[0] == "changed-after-get" {
		t.Errorf("the store handed out its own Groups slice")
	}
}

// testSettingsNeverSet: a store that was never given settings answers the
// zero Settings (nil = the deployment's default applies), not an error.
func testSettingsNeverSet(t *testing.T, s store.Store) {
	ctx := testContext(t, time.Minute)
	got, err := s.GetSettings(ctx)
	if err != nil || !reflect.DeepEqual(got, store.Settings{}) {
		t.Fatalf("GetSettings on a new store = %+v, %v; want the zero Settings and no error", got, err)
	}
}

// testSettingsRoundTrip: what PutSettings stores, GetSettings returns, the
// last write wins, a nil setting stays nil, and neither side can change
// the other's value through the pointer.
func testSettingsRoundTrip(t *testing.T, s store.Store) {
	ctx := testContext(t, time.Minute)
	for _, want := range []store.Settings{
		{AllowUserManagedTokens: ptrBool(false), UpdatedBy: "admin", UpdatedAt: created},
		{AllowUserManagedTokens: ptrBool(true), UpdatedBy: "other-admin", UpdatedAt: created + 60},
		{UpdatedBy: "admin", UpdatedAt: created + 120},
	} {
		in := want
		if want.AllowUserManagedTokens != nil {
			in.AllowUserManagedTokens = ptrBool(*want.AllowUserManagedTokens)
		}
		if err := s.PutSettings(ctx, in); err != nil {
			t.Fatalf("PutSettings(%s): %v", fmtSettings(want), err)
		}
		if in.AllowUserManagedTokens != nil {
			*in.AllowUserManagedTokens = !*in.AllowUserManagedTokens // the store must not share it
		}
		got, err := s.GetSettings(ctx)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("GetSettings after PutSettings(%s) = %s, %v", fmtSettings(want), fmtSettings(got), err)
		}
		if got.AllowUserManagedTokens != nil {
			*got.AllowUserManagedTokens = !*got.AllowUserManagedTokens
			if again, _ := s.GetSettings(ctx); !reflect.DeepEqual(again, want) {
				t.Fatalf("changing a returned Settings changed the store: %s", fmtSettings(again))
			}
		}
	}
}

// testSettingsAreNoToken: the settings (the DynamoDB store keeps them at
// schema.SettingsItem) are never a token: not found by hash, not a legacy
// item, not deletable, never listed, and their key is refused as a legacy
// value; and tokens coming and going leave them alone.
func testSettingsAreNoToken(t *testing.T, s store.Store) {
	ctx := testContext(t, time.Minute)
	want := store.Settings{AllowUserManagedTokens: ptrBool(false), UpdatedBy: "admin", UpdatedAt: created}
	if err := s.PutSettings(ctx, want); err != nil {
		t.Fatal(err)
	}
	toks, legacy := listFixture(ctx, t, s)
	key := schema.SettingsItem
	if got, err := s.GetByHash(ctx, key); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetByHash(%s) = %+v, %v; want ErrNotFound", key, got, err)
	}
	if got, err := s.GetLegacy(ctx, secret.LegacyID(key)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetLegacy(id of %s) = %+v, %v; want ErrNotFound", key, got, err)
	}
	for _, tok := range []store.Token{{Hash: key, Legacy: true}, {Hash: key, Groups: []string{}, Legacy: true}, {Hash: key, UUID: uuid.NewString()}} {
		if err := s.Delete(ctx, tok); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Delete(%+v): %v, want ErrNotFound", tok, err)
		}
	}
	if err := legacyInserter(t, s).PutLegacy(ctx, key, 0); err == nil {
		t.Errorf("PutLegacy(%s) succeeded; a reserved key is no legacy value", key)
	}
	bad := newToken(t, "mallory", true)
	bad.Hash = key
	if err := s.Create(ctx, bad); err == nil {
		t.Errorf("Create with Hash %s succeeded; a reserved key is no token", key)
	}
	wantList := wantByKey(toks, legacy)
	for _, limit := range []int{1, 2, 1000} {
		got, _ := listAll(ctx, t, s, store.ListOptions{Limit: limit}, keys(legacy))
		checkListing(t, got, wantList)
	}
	for _, tok := range toks {
		if err := s.Delete(ctx, tok); err != nil {
			t.Fatalf("Delete(%s): %v", ref(tok), err)
		}
	}
	if got, err := s.GetSettings(ctx); err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("GetSettings after the refused deletes and the tokens' = %s, %v; want %s", fmtSettings(got), err, fmtSettings(want))
	}
}

func ptrBool(b bool) *bool { return &b }

func fmtSettings(s store.Settings) string {
	v := "nil"
	if s.AllowUserManagedTokens != nil {
		v = fmt.Sprint(*s.AllowUserManagedTokens)
	}
	return fmt.Sprintf("{AllowUserManagedTokens: %s, UpdatedBy: %q, UpdatedAt: %d}", v, s.UpdatedBy, s.UpdatedAt)
}

// ---- helpers ----

func testContext(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func randHex(t testing.TB, n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// newToken is a token as the service would create it, with a fresh secret.
func newToken(t testing.TB, user string, system bool) store.Token {
	sec, err := secret.Generate(nil)
	if err != nil {
		t.Fatal(err)
	}
	id := uuid.NewString()
	return store.Token{
		Hash:        secret.Hash(sec),
		UUID:        id,
		Username:    user,
		CreatedBy:   user,
		CreatedDate: created,
		Expiration:  expires,
		Name:        "token " + id[:8],
		Groups:      []string{"lisa-users", "lisa-api-users"},
		IsSystem:    system,
	}
}

// norm is a token as a store returns it: Groups never nil.
func norm(tok store.Token) store.Token {
	tok.Groups = append([]string{}, tok.Groups...)
	return tok
}

func mustCreate(ctx context.Context, t testing.TB, s store.Store, tok store.Token) {
	t.Helper()
	if err := s.Create(ctx, tok); err != nil {
		t.Fatalf("Create(%s for %s, system=%v): %v", tok.UUID, tok.Username, tok.IsSystem, err)
	}
}

// createAll creates toks with a few workers: fast enough on DynamoDB Local
// without flooding a two-core machine.
func createAll(ctx context.Context, t testing.TB, s store.Store, toks []store.Token) {
	t.Helper()
	parallel(t, len(toks), 8, func(i int) error {
		if err := s.Create(ctx, toks[i]); err != nil {
			return fmt.Errorf("Create(%s for %s): %w", toks[i].UUID, toks[i].Username, err)
		}
		return nil
	})
}

// putLegacies inserts n legacy items and returns value -> expiration.
func putLegacies(ctx context.Context, t testing.TB, s store.Store, n int) map[string]int64 {
	t.Helper()
	li := legacyInserter(t, s)
	out := map[string]int64{}
	for i := range n {
		v, exp := "legacy-plaintext-"+randHex(t, 8), int64(0)
		if i%2 == 1 {
			exp = expires
		}
		if err := li.PutLegacy(ctx, v, exp); err != nil {
			t.Fatalf("PutLegacy: %v", err)
		}
		out[v] = exp
	}
	return out
}

func legacyInserter(t testing.TB, s store.Store) LegacyInserter {
	t.Helper()
	li, ok := s.(LegacyInserter)
	if !ok {
		t.Fatalf("%T does not implement storetest.LegacyInserter; the suite needs it to test legacy items", s)
	}
	return li
}

// parallel runs f(0..n-1) on at most workers goroutines and reports every
// error (the first ten).
func parallel(t testing.TB, n, workers int, f func(i int) error) {
	t.Helper()
	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
	)
	next := make(chan int)
	for range min(workers, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := f(i); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	for i, err := range errs {
		if i == 10 {
			t.Errorf("... and %d more errors", len(errs)-10)
			break
		}
		t.Error(err)
	}
	if len(errs) > 0 {
		t.FailNow()
	}
}

// listAll follows the cursors of a listing to its end. It fails the test on
// an error, a page over the limit, a listing that does not end, or a cursor
// that reveals one of the legacy secrets. It returns the items and the
// number of pages.
func listAll(ctx context.Context, t testing.TB, s store.Store, opts store.ListOptions, secrets []string) ([]store.Token, int) {
	t.Helper()
	var all []store.Token
	for pages := 1; ; pages++ {
		page, err := s.List(ctx, opts)
		if err != nil {
			t.Fatalf("List(%+v) page %d: %v", opts, pages, err)
		}
		if len(page.Tokens) > opts.Limit {
			t.Fatalf("page %d holds %d tokens, over the limit %d", pages, len(page.Tokens), opts.Limit)
		}
		all = append(all, page.Tokens...)
		if page.Cursor == "" {
			return all, pages
		}
		if pages > len(all)+2 { // a store that keeps returning empty pages
			t.Fatalf("listing does not end: %d pages for %d items", pages, len(all))
		}
		if v, ok := leaks(page.Cursor, secrets); ok {
			t.Fatalf("cursor %q reveals the legacy value %q", page.Cursor, v)
		}
		opts.Cursor = page.Cursor
	}
}

// leaks reports whether a cursor shows one of the secrets, as is or
// base64-decoded.
func leaks(cursor string, secrets []string) (string, bool) {
	forms := []string{cursor}
	for _, enc := range []*base64.Encoding{base64.RawURLEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.StdEncoding} {
		if b, err := enc.DecodeString(cursor); err == nil {
			forms = append(forms, string(b))
		}
	}
	for _, v := range secrets {
		for _, f := range forms {
			if strings.Contains(f, v) {
				return v, true
			}
		}
	}
	return "", false
}

// wantByKey indexes the expected listing by partition key: tokens as
// created, legacy items (value -> expiration) as stores return them.
func wantByKey(toks []store.Token, legacy map[string]int64) map[string]store.Token {
	want := map[string]store.Token{}
	for _, tok := range toks {
		want[tok.Hash] = norm(tok)
	}
	for v, exp := range legacy {
		want[v] = store.Token{Hash: v, Expiration: exp, Groups: []string{}, Legacy: true}
	}
	return want
}

// checkListing: every expected item exactly once, nothing else (no guard
// or other reserved items), each equal to what was written.
func checkListing(t testing.TB, got []store.Token, want map[string]store.Token) {
	t.Helper()
	seen := map[string]int{}
	bad := 0
	for _, tok := range got {
		seen[tok.Hash]++
		if schema.IsReservedKey(tok.Hash) {
			t.Errorf("listing holds a reserved item %q", tok.Hash)
			continue
		}
		w, ok := want[tok.Hash]
		switch {
		case !ok:
			t.Errorf("listing holds an unexpected item (uuid %q, legacy %v)", tok.UUID, tok.Legacy)
			bad++
		case seen[tok.Hash] == 2:
			t.Errorf("item %s listed more than once", ref(w))
			bad++
		case !reflect.DeepEqual(tok, w):
			t.Errorf("listed %+v\nwant   %+v", tok, w)
			bad++
		}
		if bad >= 10 {
			t.FailNow()
		}
	}
	missing := 0
	for k, w := range want {
		if seen[k] == 0 {
			if missing < 10 {
				t.Errorf("item %s missing from the listing", ref(w))
			}
			missing++
		}
	}
	if missing > 0 || len(got) != len(want) {
		t.Errorf("listed %d items, want %d (%d missing)", len(got), len(want), missing)
	}
}

func keys(m map[string]int64) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

func ref(tok store.Token) string {
	if tok.Legacy {
		return secret.LegacyID(tok.Hash)
	}
	return tok.UUID
}
