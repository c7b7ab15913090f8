package storetest

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/llmgw/apitokens/pkg/limits"
	"github.com/llmgw/apitokens/pkg/schema"
	"github.com/llmgw/apitokens/pkg/store"
)

// lifecycleTests are the conformance tests of Update, Rotate,
// TouchLastUsed and the audit trail.
var lifecycleTests = []struct {
	name string
	fn   func(*testing.T, store.Store)
}{
	{"LifecycleFieldsRoundTrip", testLifecycleFields},
	{"Update", testUpdate},
	{"Limits", testLimits},
	{"UpdateRefused", testUpdateRefused},
	{"UpdateConcurrent", testUpdateConcurrent},
	{"Rotate", testRotate},
	{"RotateSystemToken", testRotateSystem},
	{"RotateRefused", testRotateRefused},
	{"RotateConcurrent", testRotateConcurrent},
	{"TouchLastUsed", testTouchLastUsed},
	{"TouchLastUsedConcurrent", testTouchLastUsedConcurrent},
	{"EventsWithChanges", testEventsWithChanges},
	{"EventsOnlyWithTheChange", testEventsOnlyWithChange},
	{"EventsUnrecordable", testEventsUnrecordable},
	{"EventsQuery", testEventsQuery},
	{"EventsPagination", testEventsPagination},
	{"EventsBadCursor", testEventsBadCursor},
	{"EventsLimitOutOfRange", testEventsLimit},
}

// eventBase is a recent time (Unix ms): a store may keep events for a
// retention period only, so the suite's events are from the last hours.
var eventBase = time.Now().Add(-3 * time.Hour).UnixMilli()

// newEvent is an event about tok by actor, at eventBase + minute minutes.
func newEvent(tok store.Token, action, actor string, minute int64) store.Event {
	return store.Event{
		ID:        uuid.NewString(),
		Time:      eventBase + minute*60_000,
		Action:    action,
		Actor:     actor,
		AuthType:  "jwt",
		SourceIP:  "203.0.113.7",
		UserAgent: "storetest/1",
		TokenUUID: tok.UUID,
		Username:  tok.Username,
		Changes:   []store.Change{{Field: "name", Old: "", New: tok.Name}},
	}
}

// normEvent is an event as a store returns it: Changes never nil.
func normEvent(ev store.Event) store.Event {
	ev.Changes = append([]store.Change{}, ev.Changes...)
	return ev
}

// allEvents follows the cursors of an events query to its end.
func allEvents(ctx context.Context, t testing.TB, s store.Store, q store.EventQuery) ([]store.Event, int) {
	t.Helper()
	var all []store.Event
	for pages := 1; ; pages++ {
		page, err := s.Events(ctx, q)
		if err != nil {
			t.Fatalf("Events(%+v) page %d: %v", q, pages, err)
		}
		if len(page.Events) > q.Limit {
			t.Fatalf("page %d holds %d events, over the limit %d", pages, len(page.Events), q.Limit)
		}
		all = append(all, page.Events...)
		if page.Cursor == "" {
			return all, pages
		}
		if pages > len(all)+2 {
			t.Fatalf("events listing does not end: %d pages for %d events", pages, len(all))
		}
		q.Cursor = page.Cursor
	}
}

// checkEvents: exactly want, newest first (by time, then id descending).
func checkEvents(t testing.TB, what string, got, want []store.Event) {
	t.Helper()
	w := make([]store.Event, len(want))
	for i, ev := range want {
		w[i] = normEvent(ev)
	}
	sort.SliceStable(w, func(i, j int) bool {
		if w[i].Time != w[j].Time {
			return w[i].Time > w[j].Time
		}
		return w[i].ID > w[j].ID
	})
	if len(got) == 0 && len(w) == 0 {
		return
	}
	if !reflect.DeepEqual(got, w) {
		t.Errorf("%s: got %d events, want %d", what, len(got), len(w))
		for i := range max(len(got), len(w)) {
			var g, x any = "-", "-"
			if i < len(got) {
				g = fmt.Sprintf("%s %d %s %s", got[i].Action, got[i].Time, got[i].TokenUUID, got[i].ID[:8])
			}
			if i < len(w) {
				x = fmt.Sprintf("%s %d %s %s", w[i].Action, w[i].Time, w[i].TokenUUID, w[i].ID[:8])
			}
			t.Logf("  %d: got %v, want %v", i, g, x)
		}
	}
}

// eventsOf is every event of the store, newest first.
func eventsOf(ctx context.Context, t testing.TB, s store.Store) []store.Event {
	t.Helper()
	got, _ := allEvents(ctx, t, s, store.EventQuery{Limit: 1000})
	return got
}

func notSentinel(t testing.TB, what string, err error) {
	t.Helper()
	if err == nil {
		t.Errorf("%s succeeded, want an error", what)
		return
	}
	for _, sentinel := range sentinels {
		if errors.Is(err, sentinel) {
			t.Errorf("%s: %v; a programming error, not %v", what, err, sentinel)
		}
	}
}

func mustGet(ctx context.Context, t testing.TB, s store.Store, hash string) store.Token {
	t.Helper()
	got, err := s.GetByHash(ctx, hash)
	if err != nil {
		t.Fatalf("GetByHash: %v", err)
	}
	return got
}

func testLifecycleFields(t *testing.T, s store.Store) {
	ctx := testContext(t, time.Minute)
	tok := newToken(t, "alice", false)
	tok.Disabled, tok.DisabledBy, tok.DisabledByAdmin, tok.DisabledAt = true, "admin", true, created+10
	tok.UpdatedAt, tok.LastUsedAt = created+20, created+30
	tok.RotatedFrom = uuid.NewString()
	mustCreate(ctx, t, s, tok)
	enabled := newToken(t, "bob", true)
	enabled.DisabledBy = "bob" // kept even while enabled (the store does not interpret it)
	mustCreate(ctx, t, s, enabled)
	for _, want := range []store.Token{tok, enabled} {
		if got := mustGet(ctx, t, s, want.Hash); !reflect.DeepEqual(got, norm(want)) {
			t.Errorf("GetByHash = %+v\nwant        %+v", got, norm(want))
		}
		if got, err := s.GetByUUID(ctx, want.UUID); err != nil || !reflect.DeepEqual(got, norm(want)) {
			t.Errorf("GetByUUID = %+v, %v\nwant        %+v", got, err, norm(want))
		}
	}
	got, _ := listAll(ctx, t, s, store.ListOptions{Limit: 10}, nil)
	checkListing(t, got, wantByKey([]store.Token{tok, enabled}, nil))
}

// updated is tok with every field Update may change changed.
func updated(tok store.Token, at int64) store.Token {
	u := tok
	u.Name = tok.Name + " (renamed)"
	u.Expiration = tok.Expiration - 3600
	u.Disabled, u.DisabledBy, u.DisabledByAdmin, u.DisabledAt = true, "admin", true, at
	u.UpdatedAt = at
	return u
}

func testUpdate(t *testing.T, s store.Store) {
	ctx := testContext(t, time.Minute)
	tok := newToken(t, "alice", false)
	mustCreate(ctx, t, s, tok)
	old := mustGet(ctx, t, s, tok.Hash)
	u := updated(old, created+100)
	ev := newEvent(tok, store.ActionDisable, "admin", 1)
	if err := s.Update(ctx, old, u, ev); err != nil {
		t.Fatalf("Update: %v", err)
	}
	if got := mustGet(ctx, t, s, tok.Hash); !reflect.DeepEqual(got, norm(u)) {
		t.Errorf("after Update GetByHash = %+v\nwant                   %+v", got, norm(u))
	}
	checkEvents(t, "after Update", eventsOf(ctx, t, s), []store.Event{ev})

	// Enabling again clears the disabled fields; a LastUsedAt written
	// meanwhile is no conflict and is kept.
	if err := s.TouchLastUsed(ctx, tok.Hash, created+150); err != nil {
		t.Fatal(err)
	}
	back := u
	back.Disabled, back.DisabledBy, back.DisabledByAdmin, back.DisabledAt = false, "", false, 0
	back.UpdatedAt = created + 200
	if err := s.Update(ctx, u, back); err != nil {
		t.Fatalf("Update (enable) with a stale LastUsedAt: %v", err)
	}
	want := back
	want.LastUsedAt = created + 150
	if got := mustGet(ctx, t, s, tok.Hash); !reflect.DeepEqual(got, norm(want)) {
		t.Errorf("after enable GetByHash = %+v\nwant                   %+v", got, norm(want))
	}
	// The slot is untouched by updates.
	if err := s.Create(ctx, newToken(t, "alice", false)); !errors.Is(err, store.ErrSlotTaken) {
		t.Errorf("Create after updates: %v, want ErrSlotTaken", err)
	}

	// Compare-and-swap: an update from a value no longer stored conflicts.
	stale := updated(old, created+300)
	if err := s.Update(ctx, old, stale, newEvent(tok, store.ActionUpdate, "alice", 2)); !errors.Is(err, store.ErrConflict) {
		t.Errorf("Update from a stale token: %v, want ErrConflict", err)
	}
	for _, f := range []func(*store.Token){
		func(x *store.Token) { x.Name = "other" },
		func(x *store.Token) { x.Expiration++ },
		func(x *store.Token) { x.Disabled = true },
		func(x *store.Token) { x.DisabledBy = "x" },
		func(x *store.Token) { x.DisabledByAdmin = true },
		func(x *store.Token) { x.DisabledAt = 1 },
		func(x *store.Token) { x.UpdatedAt = 1 },
		func(x *store.Token) { x.RotatedTo = uuid.NewString() },
	} {
		o := want
		f(&o)
		n := o
		n.Name = "never written"
		if err := s.Update(ctx, o, n); !errors.Is(err, store.ErrConflict) {
			t.Errorf("Update from %+v: %v, want ErrConflict", o, err)
		}
	}
	if got := mustGet(ctx, t, s, tok.Hash); !reflect.DeepEqual(got, norm(want)) {
		t.Errorf("after refused updates GetByHash = %+v\nwant                   %+v", got, norm(want))
	}

	// Gone: ErrNotFound, also for a token with another UUID at that hash.
	other := want
	other.UUID = uuid.NewString()
	if err := s.Update(ctx, other, updated(other, created+400)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Update with another UUID: %v, want ErrNotFound", err)
	}
	if err := s.Delete(ctx, want); err != nil {
		t.Fatal(err)
	}
	if err := s.Update(ctx, want, updated(want, created+400), newEvent(tok, store.ActionUpdate, "alice", 3)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Update of a deleted token: %v, want ErrNotFound", err)
	}
	checkEvents(t, "after refused updates", eventsOf(ctx, t, s), []store.Event{ev})
}

func testUpdateRefused(t *testing.T, s store.Store) {
	ctx := testContext(t, time.Minute)
	tok := newToken(t, "alice", false)
	mustCreate(ctx, t, s, tok)
	old := mustGet(ctx, t, s, tok.Hash)
	with := func(f func(*store.Token)) store.Token { u := updated(old, created+1); f(&u); return u }
	for _, tc := range []struct {
		name string
		u    store.Token
	}{
		{"hash", with(func(x *store.Token) { x.Hash = newToken(t, "alice", false).Hash })},
		{"uuid", with(func(x *store.Token) { x.UUID = uuid.NewString() })},
		{"username", with(func(x *store.Token) { x.Username = "bob" })},
		{"createdBy", with(func(x *store.Token) { x.CreatedBy = "mallory" })},
		{"groups", with(func(x *store.Token) { x.Groups = []string{"admins"} })},
		{"isSystem", with(func(x *store.Token) { x.IsSystem = true })},
		{"rotatedFrom", with(func(x *store.Token) { x.RotatedFrom = uuid.NewString() })},
		{"rotatedTo", with(func(x *store.Token) { x.RotatedTo = uuid.NewString() })},
		{"legacy", with(func(x *store.Token) { x.Legacy = true })},
	} {
		notSentinel(t, "Update changing "+tc.name, s.Update(ctx, old, tc.u, newEvent(tok, store.ActionUpdate, "alice", 1)))
	}
	li := legacyInserter(t, s)
	plain := "plain-" + randHex(t, 8)
	if err := li.PutLegacy(ctx, plain, expires); err != nil {
		t.Fatal(err)
	}
	leg := mustGet(ctx, t, s, plain)
	lu := leg
	lu.Expiration = expires - 10
	notSentinel(t, "Update of a legacy item", s.Update(ctx, leg, lu))
	if got := mustGet(ctx, t, s, plain); !reflect.DeepEqual(got, leg) {
		t.Errorf("legacy item changed: %+v", got)
	}
	if got := mustGet(ctx, t, s, tok.Hash); !reflect.DeepEqual(got, old) {
		t.Errorf("refused updates changed the token: %+v", got)
	}
	if evs := eventsOf(ctx, t, s); len(evs) != 0 {
		t.Errorf("refused updates wrote %d events", len(evs))
	}
}

func testUpdateConcurrent(t *testing.T, s store.Store) {
	ctx := testContext(t, 2*time.Minute)
	tok := newToken(t, "alice", false)
	mustCreate(ctx, t, s, tok)
	old := mustGet(ctx, t, s, tok.Hash)
	const n = 10
	errs := make([]error, n)
	var wg sync.WaitGroup
	ready := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			u := old
			u.Name = fmt.Sprintf("name %d", i)
			u.UpdatedAt = created + int64(i) + 1
			<-ready
			errs[i] = s.Update(ctx, old, u, newEvent(tok, store.ActionUpdate, "alice", int64(i)))
		}()
	}
	close(ready)
	wg.Wait()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil:
			if winner >= 0 {
				t.Errorf("both updates %d and %d succeeded", winner, i)
			}
			winner = i
		case !errors.Is(err, store.ErrConflict):
			t.Errorf("update %d: %v, want nil or ErrConflict", i, err)
		}
	}
	if winner < 0 {
		t.Fatal("no concurrent update succeeded")
	}
	if got := mustGet(ctx, t, s, tok.Hash); got.Name != fmt.Sprintf("name %d", winner) {
		t.Errorf("stored name %q, want the winner's", got.Name)
	}
	if evs := eventsOf(ctx, t, s); len(evs) != 1 {
		t.Errorf("%d events after %d concurrent updates with one winner, want 1", len(evs), n)
	}
}

// rotation returns retired and fresh for a rotation of old at updatedAt,
// cutting the old token's expiry to graceEnd.
func rotation(t testing.TB, old store.Token, updatedAt, graceEnd int64) (retired, fresh store.Token) {
	fresh = newToken(t, old.Username, old.IsSystem)
	fresh.Groups = append([]string{}, old.Groups...)
	fresh.Name, fresh.Expiration = old.Name, old.Expiration
	fresh.CreatedDate = updatedAt
	fresh.RotatedFrom = old.UUID
	retired = old
	retired.RotatedTo = fresh.UUID
	retired.Expiration = min(old.Expiration, graceEnd)
	retired.UpdatedAt = updatedAt
	return retired, fresh
}

func rotationEvents(old, fresh store.Token, minute int64) []store.Event {
	rot := newEvent(old, store.ActionRotate, old.Username, minute)
	rot.Changes = []store.Change{{Field: "rotatedTo", New: fresh.UUID}}
	cr := newEvent(fresh, store.ActionCreate, old.Username, minute)
	cr.Changes = []store.Change{{Field: "rotatedFrom", New: old.UUID}}
	return []store.Event{rot, cr}
}

func testRotate(t *testing.T, s store.Store) {
	ctx := testContext(t, time.Minute)
	tok := newToken(t, "alice", false)
	mustCreate(ctx, t, s, tok)
	old := mustGet(ctx, t, s, tok.Hash)
	retired, fresh := rotation(t, old, created+100, created+3700)
	evs := rotationEvents(old, fresh, 1)
	if err := s.Rotate(ctx, old, retired, fresh, evs...); err != nil {
		t.Fatalf("Rotate: %v", err)
	}
	if got := mustGet(ctx, t, s, old.Hash); !reflect.DeepEqual(got, norm(retired)) {
		t.Errorf("old token after Rotate = %+v\nwant                   %+v", got, norm(retired))
	}
	if got, err := s.GetByUUID(ctx, fresh.UUID); err != nil || !reflect.DeepEqual(got, norm(fresh)) {
		t.Errorf("new token after Rotate = %+v, %v\nwant                   %+v", got, err, norm(fresh))
	}
	checkEvents(t, "after Rotate", eventsOf(ctx, t, s), evs)
	// The slot is the new token's.
	if err := s.Create(ctx, newToken(t, "alice", false)); !errors.Is(err, store.ErrSlotTaken) {
		t.Errorf("Create after Rotate: %v, want ErrSlotTaken", err)
	}
	// A rotated token cannot be rotated again, from its old or new value.
	for _, from := range []store.Token{old, retired} {
		r2, f2 := rotation(t, from, created+200, created+3700)
		r2.RotatedTo, f2.RotatedFrom = f2.UUID, from.UUID
		if err := s.Rotate(ctx, from, r2, f2, rotationEvents(from, f2, 2)...); !errors.Is(err, store.ErrConflict) {
			t.Errorf("Rotate of a rotated token (RotatedTo %q): %v, want ErrConflict", from.RotatedTo, err)
		}
		if _, err := s.GetByUUID(ctx, f2.UUID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("a refused rotation stored its new token: %v", err)
		}
	}
	// Deleting the rotated token leaves the slot to the new one.
	if err := s.Delete(ctx, retired); err != nil {
		t.Fatalf("Delete(rotated): %v", err)
	}
	if err := s.Create(ctx, newToken(t, "alice", false)); !errors.Is(err, store.ErrSlotTaken) {
		t.Errorf("Create after deleting the rotated token: %v, want ErrSlotTaken (the new token holds the slot)", err)
	}
	if got := mustGet(ctx, t, s, fresh.Hash); !reflect.DeepEqual(got, norm(fresh)) {
		t.Errorf("new token after deleting the old: %+v", got)
	}
	// The new token can be rotated in turn, and deleting both frees the slot.
	cur := mustGet(ctx, t, s, fresh.Hash)
	r3, f3 := rotation(t, cur, created+300, created+300)
	if err := s.Rotate(ctx, cur, r3, f3, rotationEvents(cur, f3, 3)...); err != nil {
		t.Fatalf("Rotate of the new token: %v", err)
	}
	for _, d := range []store.Token{f3, r3} {
		if err := s.Delete(ctx, d); err != nil {
			t.Fatalf("Delete: %v", err)
		}
	}
	mustCreate(ctx, t, s, newToken(t, "alice", false))
}

func testRotateSystem(t *testing.T, s store.Store) {
	ctx := testContext(t, time.Minute)
	personal := newToken(t, "alice", false)
	sys := newToken(t, "alice", true)
	mustCreate(ctx, t, s, personal)
	mustCreate(ctx, t, s, sys)
	old := mustGet(ctx, t, s, sys.Hash)
	retired, fresh := rotation(t, old, created+100, created+100)
	if err := s.Rotate(ctx, old, retired, fresh, rotationEvents(old, fresh, 1)...); err != nil {
		t.Fatalf("Rotate(system): %v", err)
	}
	if got := mustGet(ctx, t, s, fresh.Hash); !reflect.DeepEqual(got, norm(fresh)) {
		t.Errorf("new system token = %+v", got)
	}
	for _, d := range []store.Token{retired, fresh} {
		if err := s.Delete(ctx, d); err != nil {
			t.Fatalf("Delete(system): %v", err)
		}
	}
	// System rotations never touched the personal token's slot.
	if err := s.Create(ctx, newToken(t, "alice", false)); !errors.Is(err, store.ErrSlotTaken) {
		t.Errorf("Create: %v, want ErrSlotTaken (the personal token holds the slot)", err)
	}
	if err := s.Delete(ctx, personal); err != nil {
		t.Fatal(err)
	}
	mustCreate(ctx, t, s, newToken(t, "alice", false))
}

func testRotateRefused(t *testing.T, s store.Store) {
	ctx := testContext(t, time.Minute)
	tok := newToken(t, "alice", false)
	other := newToken(t, "bob", false)
	mustCreate(ctx, t, s, tok)
	mustCreate(ctx, t, s, other)
	old := mustGet(ctx, t, s, tok.Hash)
	check := func(what string, want error, o, r, f store.Token) {
		t.Helper()
		err := s.Rotate(ctx, o, r, f, rotationEvents(o, f, 1)...)
		if want == nil {
			notSentinel(t, what, err)
		} else if !errors.Is(err, want) {
			t.Errorf("%s: %v, want %v", what, err, want)
		}
		if f.UUID != other.UUID {
			if _, err := s.GetByUUID(ctx, f.UUID); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("%s: the new token was stored (%v)", what, err)
			}
		}
	}
	r, f := rotation(t, old, created+1, created+1)
	fHash := f
	fHash.Hash = other.Hash
	rHash := r
	check("new token with a taken hash", store.ErrExists, old, rHash, fHash)
	r, f = rotation(t, old, created+1, created+1)
	f.UUID, r.RotatedTo = other.UUID, other.UUID
	check("new token with a taken UUID", store.ErrExists, old, r, f)

	stale := old
	stale.Name = "stale"
	r, f = rotation(t, stale, created+1, created+1)
	check("from a stale value", store.ErrConflict, stale, r, f)

	gone := newToken(t, "carol", false)
	r, f = rotation(t, gone, created+1, created+1)
	check("of a missing token", store.ErrNotFound, gone, r, f)

	with := func(fn func(r, f *store.Token)) (store.Token, store.Token) {
		r, f := rotation(t, old, created+1, created+1)
		fn(&r, &f)
		return r, f
	}
	for _, tc := range []struct {
		name string
		fn   func(r, f *store.Token)
	}{
		{"retired expires later", func(r, f *store.Token) { r.Expiration = old.Expiration + 1 }},
		{"retired renamed", func(r, f *store.Token) { r.Name = "x" }},
		{"retired disabled", func(r, f *store.Token) { r.Disabled = true }},
		{"retired RotatedTo another", func(r, f *store.Token) { r.RotatedTo = uuid.NewString() }},
		{"retired other owner", func(r, f *store.Token) { r.Username = "bob" }},
		{"new token of another user", func(r, f *store.Token) { f.Username = "bob" }},
		{"new token of another kind", func(r, f *store.Token) { f.IsSystem = true }},
		{"new token with other groups", func(r, f *store.Token) { f.Groups = []string{"admins"} }},
		{"new token without RotatedFrom", func(r, f *store.Token) { f.RotatedFrom = "" }},
		{"new token legacy", func(r, f *store.Token) { f.Legacy = true }},
		{"new token with a reserved hash", func(r, f *store.Token) { f.Hash = schema.GuardKey("alice") }},
		{"new token with the old hash", func(r, f *store.Token) { f.Hash = old.Hash }},
	} {
		r, f := with(tc.fn)
		check(tc.name, nil, old, r, f)
	}
	li := legacyInserter(t, s)
	plain := "plain-" + randHex(t, 8)
	if err := li.PutLegacy(ctx, plain, expires); err != nil {
		t.Fatal(err)
	}
	leg := mustGet(ctx, t, s, plain)
	lr, lf := rotation(t, leg, created+1, created+1)
	lf.Username, lf.RotatedFrom = "alice", "legacy"
	check("of a legacy item", nil, leg, lr, lf)

	if got := mustGet(ctx, t, s, tok.Hash); !reflect.DeepEqual(got, old) {
		t.Errorf("refused rotations changed the token: %+v", got)
	}
	if evs := eventsOf(ctx, t, s); len(evs) != 0 {
		t.Errorf("refused rotations wrote %d events", len(evs))
	}
	if err := s.Create(ctx, newToken(t, "alice", false)); !errors.Is(err, store.ErrSlotTaken) {
		t.Errorf("Create: %v, want ErrSlotTaken (still the old token's)", err)
	}
}

func testRotateConcurrent(t *testing.T, s store.Store) {
	ctx := testContext(t, 2*time.Minute)
	tok := newToken(t, "alice", false)
	mustCreate(ctx, t, s, tok)
	old := mustGet(ctx, t, s, tok.Hash)
	const n = 20
	retired, fresh, evs := make([]store.Token, n), make([]store.Token, n), make([][]store.Event, n)
	for i := range n {
		retired[i], fresh[i] = rotation(t, old, created+int64(i)+1, created+3600)
		evs[i] = rotationEvents(old, fresh[i], int64(i))
	}
	errs := make([]error, n)
	var wg sync.WaitGroup
	ready := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-ready
			errs[i] = s.Rotate(ctx, old, retired[i], fresh[i], evs[i]...)
		}()
	}
	close(ready)
	wg.Wait()
	winner, conflicts := -1, 0
	for i, err := range errs {
		switch {
		case err == nil:
			if winner >= 0 {
				t.Errorf("both rotations %d and %d succeeded", winner, i)
			}
			winner = i
		case errors.Is(err, store.ErrConflict):
			conflicts++
		default:
			t.Errorf("rotation %d: %v, want nil or ErrConflict", i, err)
		}
	}
	if winner < 0 || conflicts != n-1 {
		t.Fatalf("%d concurrent rotations: winner %d, %d ErrConflict; want one success and %d ErrConflict", n, winner, conflicts, n-1)
	}
	if got := mustGet(ctx, t, s, old.Hash); !reflect.DeepEqual(got, norm(retired[winner])) {
		t.Errorf("old token = %+v\nwant        %+v", got, norm(retired[winner]))
	}
	for i := range n {
		_, err := s.GetByUUID(ctx, fresh[i].UUID)
		if (i == winner) != (err == nil) {
			t.Errorf("new token of rotation %d (winner %d): GetByUUID: %v", i, winner, err)
		}
	}
	checkEvents(t, "after concurrent rotations", eventsOf(ctx, t, s), evs[winner])
	// The winner holds the slot, even once the old token is gone.
	if err := s.Delete(ctx, retired[winner]); err != nil {
		t.Fatal(err)
	}
	if err := s.Create(ctx, newToken(t, "alice", false)); !errors.Is(err, store.ErrSlotTaken) {
		t.Errorf("Create: %v, want ErrSlotTaken", err)
	}
}

func testTouchLastUsed(t *testing.T, s store.Store) {
	ctx := testContext(t, time.Minute)
	tok := newToken(t, "alice", false)
	mustCreate(ctx, t, s, tok)
	for _, tc := range []struct{ at, want int64 }{
		{created + 100, created + 100},
		{created + 50, created + 100}, // never backwards
		{created + 100, created + 100},
		{created + 200, created + 200},
	} {
		if err := s.TouchLastUsed(ctx, tok.Hash, tc.at); err != nil {
			t.Fatalf("TouchLastUsed(%d): %v", tc.at, err)
		}
		want := norm(tok)
		want.LastUsedAt = tc.want
		if got := mustGet(ctx, t, s, tok.Hash); !reflect.DeepEqual(got, want) {
			t.Errorf("after TouchLastUsed(%d) = %+v\nwant %+v", tc.at, got, want)
		}
	}
	plain := "plain-" + randHex(t, 8)
	if err := legacyInserter(t, s).PutLegacy(ctx, plain, 0); err != nil {
		t.Fatal(err)
	}
	for _, hash := range []string{newToken(t, "nobody", false).Hash, schema.GuardKey("alice"), schema.SettingsItem, schema.CursorKeyItem} {
		if err := s.TouchLastUsed(ctx, hash, created); err != nil {
			t.Errorf("TouchLastUsed(%q): %v, want nil (best effort)", hash, err)
		}
		if got, err := s.GetByHash(ctx, hash); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("TouchLastUsed(%q) made an item: %+v, %v", hash, got, err)
		}
	}
	// The guard is intact: the slot is still taken.
	if err := s.Create(ctx, newToken(t, "alice", false)); !errors.Is(err, store.ErrSlotTaken) {
		t.Errorf("Create after touching the guard key: %v, want ErrSlotTaken", err)
	}
	got, _ := listAll(ctx, t, s, store.ListOptions{Limit: 10}, []string{plain})
	want := norm(tok)
	want.LastUsedAt = created + 200
	checkListing(t, got, wantByKey([]store.Token{want}, map[string]int64{plain: 0}))
	if evs := eventsOf(ctx, t, s); len(evs) != 0 {
		t.Errorf("TouchLastUsed wrote %d events", len(evs))
	}
}

func testTouchLastUsedConcurrent(t *testing.T, s store.Store) {
	ctx := testContext(t, time.Minute)
	tok := newToken(t, "alice", false)
	mustCreate(ctx, t, s, tok)
	const n = 20
	parallel(t, n, n, func(i int) error {
		return s.TouchLastUsed(ctx, tok.Hash, created+int64((i*7)%n)+1)
	})
	if got := mustGet(ctx, t, s, tok.Hash); got.LastUsedAt != created+n {
		t.Errorf("LastUsedAt = %d after concurrent touches, want the latest %d", got.LastUsedAt, created+n)
	}
}

func testEventsWithChanges(t *testing.T, s store.Store) {
	ctx := testContext(t, time.Minute)
	var want []store.Event
	tok := newToken(t, "alice", false)
	ev := newEvent(tok, store.ActionCreate, "alice", 1)
	ev.AuthType = uuid.NewString() // made with an API token
	ev.SourceIP, ev.UserAgent = "", ""
	ev.Changes = []store.Change{{Field: "name", New: tok.Name}, {Field: "groups", New: "a,b"}, {Field: "disabled", Old: "false", New: "true"}}
	if err := s.Create(ctx, tok, ev); err != nil {
		t.Fatal(err)
	}
	want = append(want, ev)
	sys := newToken(t, "alice", true)
	ev2 := newEvent(sys, store.ActionCreate, "admin", 2)
	ev2.Changes = nil
	if err := s.Create(ctx, sys, ev2); err != nil {
		t.Fatal(err)
	}
	want = append(want, ev2)
	ev3 := newEvent(sys, store.ActionDelete, "admin", 3)
	if err := s.Delete(ctx, sys, ev3); err != nil {
		t.Fatal(err)
	}
	want = append(want, ev3)
	ev4 := newEvent(tok, store.ActionRevokeUser, "admin", 4)
	if err := s.Delete(ctx, tok, ev4); err != nil {
		t.Fatal(err)
	}
	want = append(want, ev4)
	ev5 := store.Event{ID: uuid.NewString(), Time: eventBase + 5*60_000, Action: store.ActionSettings, Actor: "admin", AuthType: "jwt",
		TokenUUID: store.SettingsSubject, Changes: []store.Change{{Field: "allowUserManagedTokens", Old: "", New: "false"}}}
	if err := s.PutSettings(ctx, store.Settings{AllowUserManagedTokens: ptrBool(false), UpdatedBy: "admin", UpdatedAt: created}, ev5); err != nil {
		t.Fatal(err)
	}
	want = append(want, ev5)
	checkEvents(t, "every change", eventsOf(ctx, t, s), want)
	// Several events in one change are all written.
	a, b := newToken(t, "bob", true), newToken(t, "bob", false)
	e1, e2 := newEvent(a, store.ActionCreate, "bob", 6), newEvent(a, store.ActionCreate, "bob", 6)
	if err := s.Create(ctx, a, e1, e2); err != nil {
		t.Fatal(err)
	}
	e3, e4 := newEvent(b, store.ActionCreate, "bob", 7), newEvent(b, store.ActionUpdate, "bob", 7)
	if err := s.Create(ctx, b, e3, e4); err != nil {
		t.Fatal(err)
	}
	checkEvents(t, "several events a change", eventsOf(ctx, t, s), append(want, e1, e2, e3, e4))
	// Changes without events are still possible through the interface.
	if err := s.Delete(ctx, a); err != nil {
		t.Fatal(err)
	}
	checkEvents(t, "a change without events", eventsOf(ctx, t, s), append(want, e1, e2, e3, e4))
}

func testEventsOnlyWithChange(t *testing.T, s store.Store) {
	ctx := testContext(t, time.Minute)
	tok := newToken(t, "alice", false)
	mustCreate(ctx, t, s, tok)
	sys := newToken(t, "alice", true)
	mustCreate(ctx, t, s, sys)
	ev := func(tk store.Token) store.Event { return newEvent(tk, store.ActionCreate, "alice", 1) }

	slot := newToken(t, "alice", false)
	if err := s.Create(ctx, slot, ev(slot)); !errors.Is(err, store.ErrSlotTaken) {
		t.Errorf("Create: %v, want ErrSlotTaken", err)
	}
	dupHash := newToken(t, "bob", true)
	dupHash.Hash = sys.Hash
	if err := s.Create(ctx, dupHash, ev(dupHash)); !errors.Is(err, store.ErrExists) {
		t.Errorf("Create(system, taken hash): %v, want ErrExists", err)
	}
	dupHash2 := newToken(t, "bob", false)
	dupHash2.Hash = tok.Hash
	if err := s.Create(ctx, dupHash2, ev(dupHash2)); !errors.Is(err, store.ErrExists) {
		t.Errorf("Create(taken hash): %v, want ErrExists", err)
	}
	missing := newToken(t, "carol", false)
	if err := s.Delete(ctx, missing, ev(missing)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Delete(missing): %v, want ErrNotFound", err)
	}
	mismatch := sys
	mismatch.UUID = uuid.NewString()
	if err := s.Delete(ctx, mismatch, ev(mismatch)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Delete(mismatch): %v, want ErrNotFound", err)
	}
	stale := tok
	stale.Name = "stale"
	if err := s.Update(ctx, stale, updated(stale, created+1), ev(tok)); !errors.Is(err, store.ErrConflict) {
		t.Errorf("Update(stale): %v, want ErrConflict", err)
	}
	if evs := eventsOf(ctx, t, s); len(evs) != 0 {
		t.Errorf("failed changes wrote %d events", len(evs))
	}
	// bob's slot was not taken by the refused create.
	mustCreate(ctx, t, s, newToken(t, "bob", false))
}

func testEventsUnrecordable(t *testing.T, s store.Store) {
	ctx := testContext(t, time.Minute)
	tok := newToken(t, "alice", false)
	mustCreate(ctx, t, s, tok)
	old := mustGet(ctx, t, s, tok.Hash)
	settings := store.Settings{AllowUserManagedTokens: ptrBool(true), UpdatedBy: "admin", UpdatedAt: created}
	if err := s.PutSettings(ctx, settings); err != nil {
		t.Fatal(err)
	}
	good := newEvent(tok, store.ActionUpdate, "alice", 1)
	for _, tc := range []struct {
		name string
		f    func(*store.Event)
	}{
		{"no id", func(e *store.Event) { e.ID = "" }},
		{"no time", func(e *store.Event) { e.Time = 0 }},
		{"no action", func(e *store.Event) { e.Action = "" }},
		{"no actor", func(e *store.Event) { e.Actor = "" }},
		{"no auth type", func(e *store.Event) { e.AuthType = "" }},
		{"no subject", func(e *store.Event) { e.TokenUUID = "" }},
	} {
		bad := newEvent(tok, store.ActionUpdate, "alice", 2)
		tc.f(&bad)
		fresh := newToken(t, "bob", false)
		notSentinel(t, "Create with an event with "+tc.name, s.Create(ctx, fresh, good, bad))
		if _, err := s.GetByHash(ctx, fresh.Hash); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Create with an event with %s stored the token (%v)", tc.name, err)
		}
		notSentinel(t, "Delete with an event with "+tc.name, s.Delete(ctx, old, bad))
		notSentinel(t, "Update with an event with "+tc.name, s.Update(ctx, old, updated(old, created+1), bad))
		r, f := rotation(t, old, created+1, created+1)
		notSentinel(t, "Rotate with an event with "+tc.name, s.Rotate(ctx, old, r, f, bad))
		notSentinel(t, "PutSettings with an event with "+tc.name, s.PutSettings(ctx, store.Settings{UpdatedBy: "mallory"}, bad))
	}
	if got := mustGet(ctx, t, s, tok.Hash); !reflect.DeepEqual(got, old) {
		t.Errorf("refused changes changed the token: %+v", got)
	}
	if got, err := s.GetSettings(ctx); err != nil || !reflect.DeepEqual(got, settings) {
		t.Errorf("refused PutSettings changed the settings: %s, %v", fmtSettings(got), err)
	}
	mustCreate(ctx, t, s, newToken(t, "bob", false)) // bob's slot is free
	if evs := eventsOf(ctx, t, s); len(evs) != 0 {
		t.Errorf("refused changes wrote %d events", len(evs))
	}
}

// eventFixture writes 24 events through PutSettings (a store writes any
// event with any change): three tokens of two users, changed by two
// actors, one minute apart, plus two settings events, two of them at the
// same millisecond.
func eventFixture(ctx context.Context, t *testing.T, s store.Store) (evs []store.Event, toks []store.Token) {
	toks = []store.Token{newToken(t, "alice", false), newToken(t, "alice", true), newToken(t, "bob", false)}
	actors := []string{"alice", "admin"}
	for i := range 22 {
		tok := toks[i%3]
		evs = append(evs, newEvent(tok, store.ActionUpdate, actors[i%2], int64(i)))
	}
	evs[5].Time = evs[4].Time // a tie, broken by id
	for i := range 2 {
		evs = append(evs, store.Event{ID: uuid.NewString(), Time: eventBase + int64(30+i)*60_000, Action: store.ActionSettings,
			Actor: "admin", AuthType: "jwt", TokenUUID: store.SettingsSubject})
	}
	for i := 0; i < len(evs); i += 5 {
		if err := s.PutSettings(ctx, store.Settings{UpdatedBy: "admin", UpdatedAt: created}, evs[i:min(i+5, len(evs))]...); err != nil {
			t.Fatalf("PutSettings with events: %v", err)
		}
	}
	return evs, toks
}

func filterEvents(evs []store.Event, keep func(store.Event) bool) []store.Event {
	var out []store.Event
	for _, ev := range evs {
		if keep(ev) {
			out = append(out, ev)
		}
	}
	return out
}

func testEventsQuery(t *testing.T, s store.Store) {
	ctx := testContext(t, time.Minute)
	evs, toks := eventFixture(ctx, t, s)
	from, to := evs[6].Time, evs[15].Time
	for _, tc := range []struct {
		name string
		q    store.EventQuery
		keep func(store.Event) bool
	}{
		{"all", store.EventQuery{}, func(store.Event) bool { return true }},
		{"token", store.EventQuery{TokenUUID: toks[0].UUID}, func(e store.Event) bool { return e.TokenUUID == toks[0].UUID }},
		{"settings", store.EventQuery{TokenUUID: store.SettingsSubject}, func(e store.Event) bool { return e.TokenUUID == store.SettingsSubject }},
		{"user", store.EventQuery{Username: "alice"}, func(e store.Event) bool { return e.Username == "alice" }},
		{"actor", store.EventQuery{Actor: "admin"}, func(e store.Event) bool { return e.Actor == "admin" }},
		{"unknown token", store.EventQuery{TokenUUID: uuid.NewString()}, func(store.Event) bool { return false }},
		{"user and actor", store.EventQuery{Username: "alice", Actor: "admin"}, func(e store.Event) bool { return e.Username == "alice" && e.Actor == "admin" }},
		{"token and actor", store.EventQuery{TokenUUID: toks[1].UUID, Actor: "alice"}, func(e store.Event) bool { return e.TokenUUID == toks[1].UUID && e.Actor == "alice" }},
		{"token and user", store.EventQuery{TokenUUID: toks[2].UUID, Username: "alice"}, func(store.Event) bool { return false }},
		{"from", store.EventQuery{From: from}, func(e store.Event) bool { return e.Time >= from }},
		{"to", store.EventQuery{To: to}, func(e store.Event) bool { return e.Time <= to }},
		{"from to", store.EventQuery{From: from, To: to}, func(e store.Event) bool { return e.Time >= from && e.Time <= to }},
		{"one millisecond", store.EventQuery{From: evs[4].Time, To: evs[4].Time}, func(e store.Event) bool { return e.Time == evs[4].Time }},
		{"user from to", store.EventQuery{Username: "bob", From: from, To: to}, func(e store.Event) bool { return e.Username == "bob" && e.Time >= from && e.Time <= to }},
		{"actor from", store.EventQuery{Actor: "alice", From: from}, func(e store.Event) bool { return e.Actor == "alice" && e.Time >= from }},
		{"token to", store.EventQuery{TokenUUID: toks[0].UUID, To: to}, func(e store.Event) bool { return e.TokenUUID == toks[0].UUID && e.Time <= to }},
		{"before everything", store.EventQuery{To: eventBase - 1}, func(store.Event) bool { return false }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := tc.q
			q.Limit = 1000
			got, pages := allEvents(ctx, t, s, q)
			checkEvents(t, tc.name, got, filterEvents(evs, tc.keep))
			if pages != 1 {
				t.Errorf("%d pages for at most %d events with Limit 1000", pages, len(evs))
			}
		})
	}
}

func testEventsPagination(t *testing.T, s store.Store) {
	ctx := testContext(t, 2*time.Minute)
	evs, toks := eventFixture(ctx, t, s)
	for _, q := range []store.EventQuery{{}, {TokenUUID: toks[0].UUID}, {Username: "alice"}, {Actor: "admin"}, {Username: "alice", Actor: "alice"}, {From: evs[3].Time, To: evs[20].Time}} {
		want := filterEvents(evs, func(e store.Event) bool {
			return (q.TokenUUID == "" || e.TokenUUID == q.TokenUUID) && (q.Username == "" || e.Username == q.Username) &&
				(q.Actor == "" || e.Actor == q.Actor) && (q.From == 0 || e.Time >= q.From) && (q.To == 0 || e.Time <= q.To)
		})
		for _, limit := range []int{1, 2, 3, 7, len(want), len(want) + 1} {
			q.Limit = limit
			got, pages := allEvents(ctx, t, s, q)
			checkEvents(t, fmt.Sprintf("%+v", q), got, want)
			if wantPages := max(1, (len(want)+limit-1)/limit); pages != wantPages {
				t.Errorf("%+v: %d pages, want %d (full pages, no cursor on the last)", q, pages, wantPages)
			}
		}
	}
}

func testEventsBadCursor(t *testing.T, s store.Store) {
	ctx := testContext(t, time.Minute)
	evs, toks := eventFixture(ctx, t, s)
	cursorOf := func(q store.EventQuery) string {
		page, err := s.Events(ctx, q)
		if err != nil || page.Cursor == "" {
			t.Fatalf("Events(%+v) = %d events, %q, %v; want a cursor", q, len(page.Events), page.Cursor, err)
		}
		return page.Cursor
	}
	all := cursorOf(store.EventQuery{Limit: 2})
	byToken := cursorOf(store.EventQuery{TokenUUID: toks[0].UUID, Limit: 2})
	byActor := cursorOf(store.EventQuery{Actor: "admin", Limit: 2})
	ranged := cursorOf(store.EventQuery{From: evs[1].Time, Limit: 2})
	createAll(ctx, t, s, toks)
	list, err := s.List(ctx, store.ListOptions{Limit: 1})
	if err != nil || list.Cursor == "" {
		t.Fatalf("List(Limit: 1) = %+v, %v; want a cursor", list, err)
	}
	b64 := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	flip := func(c string) string {
		raw, err := base64.RawURLEncoding.DecodeString(c)
		if err != nil {
			t.Fatal(err)
		}
		raw[len(raw)/2] ^= 1
		return base64.RawURLEncoding.EncodeToString(raw)
	}
	for _, tc := range []struct {
		name string
		q    store.EventQuery
	}{
		{"garbage", store.EventQuery{Cursor: "!!not a cursor!!"}},
		{"base64 JSON", store.EventQuery{Cursor: b64(`{"a":"0000000000001#x"}`)}},
		{"tampered", store.EventQuery{Cursor: flip(all)}},
		{"truncated", store.EventQuery{Cursor: all[:len(all)-2]}},
		{"huge", store.EventQuery{Cursor: string(make([]byte, 100_000))}},
		{"token cursor for all events", store.EventQuery{Cursor: byToken}},
		{"token cursor for another token", store.EventQuery{TokenUUID: toks[1].UUID, Cursor: byToken}},
		{"all cursor for a token", store.EventQuery{TokenUUID: toks[0].UUID, Cursor: all}},
		{"actor cursor for another actor", store.EventQuery{Actor: "alice", Cursor: byActor}},
		{"actor cursor as user", store.EventQuery{Username: "admin", Cursor: byActor}},
		{"range cursor for another range", store.EventQuery{From: evs[2].Time, Cursor: ranged}},
		{"range cursor without the range", store.EventQuery{Cursor: ranged}},
		{"all cursor with a filter", store.EventQuery{To: evs[20].Time, Cursor: all}},
		{"list cursor", store.EventQuery{Cursor: list.Cursor}},
	} {
		q := tc.q
		q.Limit = 5
		if page, err := s.Events(ctx, q); !errors.Is(err, store.ErrBadCursor) {
			t.Errorf("%s: Events = %d events, %v; want ErrBadCursor", tc.name, len(page.Events), err)
		}
	}
	// An events cursor is no list cursor either.
	if _, err := s.List(ctx, store.ListOptions{Limit: 1, Cursor: all}); !errors.Is(err, store.ErrBadCursor) {
		t.Errorf("List with an events cursor: %v, want ErrBadCursor", err)
	}
	// The genuine cursors still work, with another limit too.
	for _, q := range []store.EventQuery{{Cursor: all, Limit: 1}, {TokenUUID: toks[0].UUID, Cursor: byToken, Limit: 5}} {
		if _, err := s.Events(ctx, q); err != nil {
			t.Errorf("Events with its own cursor: %v", err)
		}
	}
}

func testEventsLimit(t *testing.T, s store.Store) {
	ctx := testContext(t, time.Minute)
	for _, limit := range []int{0, -1, 1001} {
		_, err := s.Events(ctx, store.EventQuery{Limit: limit})
		notSentinel(t, fmt.Sprintf("Events(Limit: %d)", limit), err)
	}
}

// testLimits: a token's own limits are stored with it, replaced and
// cleared by Update, compared by Update's compare-and-swap, and kept by a
// rotation.
func testLimits(t *testing.T, s store.Store) {
	ctx := testContext(t, time.Minute)
	ten, day := int64(10), int64(5000)
	budget := 12.5
	tok := newToken(t, "alice", false)
	tok.Limits = &limits.Limits{RequestsPerMinute: &ten, TokensPerDay: &day, BudgetPerMonth: &budget}
	tok.UsageKey = "5b0c3e0e-0d7c-4a57-9c43-6f1e2b7c9a10"
	mustCreate(ctx, t, s, tok)
	got := mustGet(ctx, t, s, tok.Hash)
	if got.UsageKey != tok.UsageKey || store.UsageKeyOf(got) != tok.UsageKey {
		t.Fatalf("usage key %q read back as %q", tok.UsageKey, got.UsageKey)
	}
	if !limits.Equal(got.Limits, tok.Limits) {
		t.Fatalf("created with limits %s, read back %s", limits.Encode(tok.Limits), limits.Encode(got.Limits))
	}
	// The caller's copy is not the store's.
	*tok.Limits.RequestsPerMinute = 99
	if again := mustGet(ctx, t, s, tok.Hash); *again.Limits.RequestsPerMinute != 10 {
		t.Fatal("the store shares the limits with the caller's token")
	}

	// Replace.
	twenty := int64(20)
	next := got
	next.Limits = &limits.Limits{RequestsPerHour: &twenty}
	next.UpdatedAt = created + 10
	if err := s.Update(ctx, got, next); err != nil {
		t.Fatalf("Update of limits: %v", err)
	}
	if g := mustGet(ctx, t, s, tok.Hash); limits.Encode(g.Limits) != `{"requestsPerHour":20}` {
		t.Fatalf("after replacing, limits = %s", limits.Encode(g.Limits))
	}
	// A stale old (with the first limits) is a conflict, and changes nothing.
	stale := next
	stale.Limits = nil
	stale.UpdatedAt = created + 20
	if err := s.Update(ctx, got, stale); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("Update from stale limits: %v, want ErrConflict", err)
	}
	// Clear.
	cleared := next
	cleared.Limits = nil
	cleared.UpdatedAt = created + 30
	if err := s.Update(ctx, next, cleared); err != nil {
		t.Fatalf("Update clearing limits: %v", err)
	}
	if g := mustGet(ctx, t, s, tok.Hash); g.Limits != nil {
		t.Fatalf("after clearing, limits = %s", limits.Encode(g.Limits))
	}
}
