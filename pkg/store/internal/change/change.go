// Package change holds the checks both store backends apply to the
// arguments of Update, Rotate and Events, so that they refuse exactly the
// same calls. Every refusal here is a programming error: none of the store
// sentinels.
package change

import (
	"errors"
	"fmt"
	"slices"
	"strconv"

	"github.com/llmgw/apitokens/pkg/limits"
	"github.com/llmgw/apitokens/pkg/store"
)

// MaxEventLimit bounds store.EventQuery.Limit (1..1000, as List).
const MaxEventLimit = 1000

// Immutable reports the first field that identifies a token and that no
// Update or Rotate may change: hash, UUID, owner, creator, creation, groups,
// system flag and RotatedFrom.
func Immutable(a, b store.Token) error {
	switch {
	case a.Hash != b.Hash:
		return errors.New("the token hash cannot change")
	case a.UUID != b.UUID:
		return errors.New("the tokenUUID cannot change")
	case a.Username != b.Username:
		return errors.New("the owner cannot change")
	case a.CreatedBy != b.CreatedBy || a.CreatedVia != b.CreatedVia || a.CreatedDate != b.CreatedDate:
		return errors.New("the creation record cannot change")
	case !slices.Equal(a.Groups, b.Groups):
		return errors.New("the groups cannot change")
	case a.IsSystem != b.IsSystem:
		return errors.New("a token cannot become or stop being a system token")
	case a.RotatedFrom != b.RotatedFrom:
		return errors.New("rotatedFrom cannot change")
	case a.UsageKey != b.UsageKey:
		return errors.New("the usage key cannot change")
	}
	return nil
}

// SameMutable reports whether a and b agree on everything an Update or a
// Rotate may change or compares: Name, Expiration, the Disabled fields,
// UpdatedAt and RotatedTo. LastUsedAt is deliberately not compared: it is
// written by every authenticated call and must not make a PATCH conflict.
func SameMutable(a, b store.Token) bool {
	return a.Name == b.Name && a.Expiration == b.Expiration &&
		a.Disabled == b.Disabled && a.DisabledBy == b.DisabledBy &&
		a.DisabledByAdmin == b.DisabledByAdmin && a.DisabledAt == b.DisabledAt &&
		a.UpdatedAt == b.UpdatedAt && a.RotatedTo == b.RotatedTo &&
		limits.Equal(a.Limits, b.Limits)
}

// Updatable refuses an Update that no store may make: a legacy item, a
// token without UUID, a change of an immutable field or of RotatedTo (only
// Rotate sets it).
func Updatable(old, updated store.Token) error {
	if old.Legacy || updated.Legacy {
		return errors.New("legacy items cannot be updated")
	}
	if old.UUID == "" || old.Hash == "" {
		return errors.New("token without hash or UUID")
	}
	if err := Immutable(old, updated); err != nil {
		return err
	}
	if old.RotatedTo != updated.RotatedTo {
		return errors.New("rotatedTo is set only by Rotate")
	}
	return nil
}

// Rotatable refuses a Rotate that no store may make: old legacy or
// invalid, fresh not storable or not the same kind of token for the same
// owner (same username, groups and system flag, RotatedFrom = old.UUID, not
// itself rotated), or retired other than old with RotatedTo = fresh.UUID,
// an Expiration no later than old's and any UpdatedAt.
//
// An old that already has RotatedTo is no programming error but a lost
// race (store.ErrConflict); the stores answer it themselves.
func Rotatable(old, retired, fresh store.Token) error {
	if old.Legacy || old.UUID == "" || old.Hash == "" {
		return errors.New("legacy items cannot be rotated")
	}
	if err := store.Storable(fresh); err != nil {
		return fmt.Errorf("new token: %w", err)
	}
	switch {
	case fresh.Username != old.Username || fresh.IsSystem != old.IsSystem || !slices.Equal(fresh.Groups, old.Groups):
		return errors.New("the new token must have the old token's owner, groups and kind")
	case fresh.RotatedFrom != old.UUID:
		return errors.New("the new token's rotatedFrom must be the old token's UUID")
	case fresh.RotatedTo != "":
		return errors.New("the new token cannot be rotated already")
	case fresh.Hash == old.Hash || fresh.UUID == old.UUID:
		return errors.New("the new token must have its own hash and UUID")
	}
	if err := Immutable(old, retired); err != nil {
		return fmt.Errorf("retired token: %w", err)
	}
	want := old
	want.RotatedTo, want.Expiration, want.UpdatedAt = fresh.UUID, retired.Expiration, retired.UpdatedAt
	switch {
	case !SameMutable(want, retired):
		return errors.New("the retired token may differ from the old one only in rotatedTo, expiry and updatedAt")
	case retired.Expiration > old.Expiration:
		return errors.New("the retired token cannot expire later than the old one")
	}
	return nil
}

// Recordable checks every event with store.Recordable.
func Recordable(events []store.Event) error {
	for _, ev := range events {
		if err := store.Recordable(ev); err != nil {
			return err
		}
	}
	return nil
}

// Query checks an EventQuery's limit and range.
func Query(q store.EventQuery) error {
	if q.Limit < 1 || q.Limit > MaxEventLimit {
		return fmt.Errorf("limit %d outside 1..%d", q.Limit, MaxEventLimit)
	}
	if q.From < 0 || q.To < 0 {
		return errors.New("negative time bound")
	}
	return nil
}

// EventsListing is the mode of a sealed events cursor (cursorseal.Listing).
const EventsListing = "events"

// Binding is what an events cursor is sealed for (the username argument of
// cursorseal.Listing): every field of the query but Limit and Cursor, so
// that a cursor opens only for the query that issued it.
func Binding(q store.EventQuery) string {
	return strconv.Quote(q.TokenUUID) + strconv.Quote(q.Username) + strconv.Quote(q.Actor) +
		strconv.FormatInt(q.From, 10) + "," + strconv.FormatInt(q.To, 10)
}

// EventKey is the audit sort key of ev (schema.AttrEventKey): its time in
// Unix milliseconds zero-padded to 13 digits, "#", its id. Ordering by it
// is ordering by time, ties broken by id.
func EventKey(ev store.Event) string { return fmt.Sprintf("%013d#%s", ev.Time, ev.ID) }

// Matches reports whether ev is selected by q (all keys and bounds).
func Matches(ev store.Event, q store.EventQuery) bool {
	return (q.TokenUUID == "" || ev.TokenUUID == q.TokenUUID) &&
		(q.Username == "" || ev.Username == q.Username) &&
		(q.Actor == "" || ev.Actor == q.Actor) &&
		(q.From == 0 || ev.Time >= q.From) &&
		(q.To == 0 || ev.Time <= q.To)
}

// CloneEvent copies ev so that caller and store never share Changes; an
// event without changes has an empty, non-nil list (as a store returns it).
func CloneEvent(ev store.Event) store.Event {
	ev.Changes = slices.Clone(ev.Changes)
	if ev.Changes == nil {
		ev.Changes = []store.Change{}
	}
	return ev
}
