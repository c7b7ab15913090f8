package memstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/llmgw/apitokens/pkg/secret"
	"github.com/llmgw/apitokens/pkg/store"
	"github.com/llmgw/apitokens/pkg/store/internal/change"
	"github.com/llmgw/apitokens/pkg/store/internal/cursorseal"
)

// recordable refuses events that no store may write (store.Recordable).
func recordable(audit []store.Event) error { return change.Recordable(audit) }

// record appends audit to the trail. The caller holds mu and has made the
// change: events are written only together with it.
func (s *Store) record(audit []store.Event) {
	for _, ev := range audit {
		s.events = append(s.events, change.CloneEvent(ev))
	}
}

// Update implements store.Store: a compare-and-swap under the lock. The
// stored token must still be old in every field Update may change, and in
// RotatedTo (change.SameMutable); LastUsedAt is kept as stored.
func (s *Store) Update(ctx context.Context, old, updated store.Token, audit ...store.Event) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memstore: update: %w", err)
	}
	if err := change.Updatable(old, updated); err != nil {
		return fmt.Errorf("memstore: update: %w", err)
	}
	if err := recordable(audit); err != nil {
		return fmt.Errorf("memstore: update: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.items[old.Hash]
	if !ok || e.tok.Legacy || e.tok.UUID != old.UUID {
		return fmt.Errorf("memstore: update %s: %w", old.UUID, store.ErrNotFound)
	}
	if !change.SameMutable(e.tok, old) {
		return fmt.Errorf("memstore: update %s: %w", old.UUID, store.ErrConflict)
	}
	next := clone(e.tok)
	next.Name, next.Expiration = updated.Name, updated.Expiration
	next.Disabled, next.DisabledBy, next.DisabledByAdmin, next.DisabledAt = updated.Disabled, updated.DisabledBy, updated.DisabledByAdmin, updated.DisabledAt
	next.UpdatedAt = updated.UpdatedAt
	next.Limits = clone(updated).Limits
	e.tok = next
	s.items[old.Hash] = e
	s.record(audit)
	return nil
}

// Rotate implements store.Store under the lock. Answers in this order: a
// taken fresh UUID is ErrExists; old gone is ErrNotFound; old changed or
// already rotated is ErrConflict; a taken fresh hash is ErrExists; the
// owner's slot held by a third token (possible only for tokens made before
// slots existed) is ErrSlotTaken. The slot of a non-system token moves
// from old to fresh (it is taken if it was free).
func (s *Store) Rotate(ctx context.Context, old, retired, fresh store.Token, audit ...store.Event) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memstore: rotate: %w", err)
	}
	if err := change.Rotatable(old, retired, fresh); err != nil {
		return fmt.Errorf("memstore: rotate: %w", err)
	}
	if err := recordable(audit); err != nil {
		return fmt.Errorf("memstore: rotate: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.byUUID[fresh.UUID]; ok {
		return fmt.Errorf("memstore: rotate: tokenUUID %s: %w", fresh.UUID, store.ErrExists)
	}
	e, ok := s.items[old.Hash]
	if !ok || e.tok.Legacy || e.tok.UUID != old.UUID {
		return fmt.Errorf("memstore: rotate %s: %w", old.UUID, store.ErrNotFound)
	}
	if old.RotatedTo != "" || e.tok.RotatedTo != "" || !change.SameMutable(e.tok, old) {
		return fmt.Errorf("memstore: rotate %s: %w", old.UUID, store.ErrConflict)
	}
	if _, ok := s.items[fresh.Hash]; ok {
		return fmt.Errorf("memstore: rotate %s: new token: %w", old.UUID, store.ErrExists)
	}
	if !old.IsSystem {
		if holder, ok := s.slots[old.Username]; ok && holder != old.UUID {
			return fmt.Errorf("memstore: rotate %s: %w", old.UUID, store.ErrSlotTaken)
		}
		s.slots[old.Username] = fresh.UUID
	}
	next := clone(e.tok)
	next.RotatedTo, next.Expiration, next.UpdatedAt = fresh.UUID, retired.Expiration, retired.UpdatedAt
	e.tok = next
	s.items[old.Hash] = e
	s.items[fresh.Hash] = entry{tok: clone(fresh), order: secret.Hash(fresh.Hash)}
	s.byUUID[fresh.UUID] = fresh.Hash
	s.record(audit)
	return nil
}

// TouchLastUsed implements store.Store: LastUsedAt only moves forwards;
// missing, legacy and reserved keys are ignored.
func (s *Store) TouchLastUsed(ctx context.Context, hash string, at int64) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memstore: touch last used: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.items[hash]
	if !ok || e.tok.Legacy || e.tok.LastUsedAt >= at {
		return nil
	}
	e.tok.LastUsedAt = at
	s.items[hash] = e
	return nil
}

// eventCursor is the sealed form of an Events cursor: the sort key
// (change.EventKey) of the last event returned.
type eventCursor struct {
	After string `json:"a"`
}

// Events implements store.Store: every matching event, ordered by
// change.EventKey descending (newest first, ties by id), Limit a page.
func (s *Store) Events(ctx context.Context, q store.EventQuery) (store.EventPage, error) {
	if err := ctx.Err(); err != nil {
		return store.EventPage{}, fmt.Errorf("memstore: events: %w", err)
	}
	if err := change.Query(q); err != nil {
		return store.EventPage{}, fmt.Errorf("memstore: events: %w", err)
	}
	listing := cursorseal.Listing(change.EventsListing, change.Binding(q))
	after := ""
	if q.Cursor != "" {
		c, err := s.openEventCursor(q.Cursor, listing)
		if err != nil {
			return store.EventPage{}, fmt.Errorf("memstore: events: %w: %v", store.ErrBadCursor, err)
		}
		after = c.After
	}
	s.mu.Lock()
	var match []store.Event
	for _, ev := range s.events {
		if change.Matches(ev, q) && (after == "" || change.EventKey(ev) < after) {
			match = append(match, change.CloneEvent(ev))
		}
	}
	s.mu.Unlock()
	sort.Slice(match, func(i, j int) bool { return change.EventKey(match[i]) > change.EventKey(match[j]) })
	page := store.EventPage{Events: []store.Event{}}
	for i, ev := range match {
		if i == q.Limit {
			b, _ := json.Marshal(eventCursor{After: change.EventKey(match[i-1])})
			page.Cursor = s.seal.Seal(b, listing)
			break
		}
		page.Events = append(page.Events, ev)
	}
	return page, nil
}

func (s *Store) openEventCursor(str string, listing []byte) (eventCursor, error) {
	sealed, err := cursorseal.Parse(str, maxCursorLen)
	if err != nil {
		return eventCursor{}, err
	}
	raw, err := s.seal.Open(sealed, listing)
	if err != nil {
		return eventCursor{}, err
	}
	var c eventCursor
	if err := json.Unmarshal(raw, &c); err != nil || c.After == "" || !strings.Contains(c.After, "#") {
		return eventCursor{}, errors.New("bad position")
	}
	return c, nil
}
