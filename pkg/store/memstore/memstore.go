// Package memstore is the in-memory reference implementation of
// store.Store, for unit tests and anything else that needs the contract
// without DynamoDB. It mirrors the DynamoDB store's observable behaviour,
// which the conformance suite in storetest checks for both.
package memstore

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/llmgw/apitokens/pkg/schema"
	"github.com/llmgw/apitokens/pkg/secret"
	"github.com/llmgw/apitokens/pkg/store"
	"github.com/llmgw/apitokens/pkg/store/internal/cursorseal"
)

const (
	maxLimit     = 1000 // store.ListOptions: Limit is 1..1000
	maxCursorLen = 4096 // far above what List issues
)

// Store is a mutex-protected map of tokens. The zero value is not usable;
// call New.
type Store struct {
	mu     sync.Mutex
	items  map[string]entry   // by partition key (Hash)
	byUUID map[string]string  // tokenUUID -> Hash
	slots  map[string]string  // username -> tokenUUID of their non-system token
	seal   *cursorseal.Sealer // this Store's own cursor key (random, like its contents)
	// settings are kept apart from the tokens, as the DynamoDB store keeps
	// them under a reserved key: never listed, never a token.
	settings store.Settings
	// events is the audit trail in the order written; Events sorts it.
	events []store.Event
}

// entry is a stored token with its listing order key.
type entry struct {
	tok store.Token
	// order is SHA-256 hex of the partition key. Listings go in this
	// order, which is deterministic, unrelated to creation order (like a
	// DynamoDB scan), and lets a cursor name a position without naming a
	// legacy item's key, which is its plain-text secret.
	order string
}

var _ store.Store = (*Store)(nil)

// New returns an empty Store.
func New() *Store {
	seal, err := cursorseal.New(cursorseal.NewKey())
	if err != nil { // a key of KeySize bytes always makes a Sealer
		panic(err)
	}
	return &Store{items: map[string]entry{}, byUUID: map[string]string{}, slots: map[string]string{}, seal: seal}
}

// Create implements store.Store. Checks go in the DynamoDB store's order:
// an existing UUID or hash is ErrExists, then a taken slot ErrSlotTaken.
func (s *Store) Create(ctx context.Context, t store.Token, audit ...store.Event) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memstore: create: %w", err)
	}
	if err := store.Storable(t); err != nil {
		return fmt.Errorf("memstore: create: %w", err)
	}
	if err := recordable(audit); err != nil {
		return fmt.Errorf("memstore: create: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.insert(t); err != nil {
		return err
	}
	s.record(audit)
	return nil
}

// insert stores t as Create does (the caller holds mu).
func (s *Store) insert(t store.Token) error {
	if _, ok := s.byUUID[t.UUID]; ok {
		return fmt.Errorf("memstore: create: tokenUUID %s: %w", t.UUID, store.ErrExists)
	}
	if _, ok := s.items[t.Hash]; ok {
		return fmt.Errorf("memstore: create %s: %w", t.UUID, store.ErrExists)
	}
	if !t.IsSystem {
		if _, ok := s.slots[t.Username]; ok {
			return fmt.Errorf("memstore: create %s: %w", t.UUID, store.ErrSlotTaken)
		}
		s.slots[t.Username] = t.UUID
	}
	s.items[t.Hash] = entry{tok: clone(t), order: secret.Hash(t.Hash)}
	s.byUUID[t.UUID] = t.Hash
	return nil
}

// GetByHash implements store.Store.
func (s *Store) GetByHash(ctx context.Context, hash string) (store.Token, error) {
	if err := ctx.Err(); err != nil {
		return store.Token{}, fmt.Errorf("memstore: get by hash: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.items[hash]
	if !ok {
		return store.Token{}, fmt.Errorf("memstore: get by hash: %w", store.ErrNotFound)
	}
	return clone(e.tok), nil
}

// GetByUUID implements store.Store.
func (s *Store) GetByUUID(ctx context.Context, uuid string) (store.Token, error) {
	if err := ctx.Err(); err != nil {
		return store.Token{}, fmt.Errorf("memstore: get by uuid: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	hash, ok := s.byUUID[uuid]
	if !ok {
		return store.Token{}, fmt.Errorf("memstore: get by uuid %s: %w", uuid, store.ErrNotFound)
	}
	return clone(s.items[hash].tok), nil
}

// GetLegacy implements store.Store.
func (s *Store) GetLegacy(ctx context.Context, id string) (store.Token, error) {
	if err := ctx.Err(); err != nil {
		return store.Token{}, fmt.Errorf("memstore: get legacy: %w", err)
	}
	if !strings.HasPrefix(id, secret.LegacyPrefix) {
		return store.Token{}, fmt.Errorf("memstore: get legacy: %w", store.ErrNotFound)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range s.items {
		if e.tok.Legacy && secret.LegacyID(e.tok.Hash) == id {
			return clone(e.tok), nil
		}
	}
	return store.Token{}, fmt.Errorf("memstore: get legacy %s: %w", id, store.ErrNotFound)
}

// Delete implements store.Store with the DynamoDB store's identity checks:
// the stored item must still be the token t describes (same UUID; still a
// system token if t is one; still legacy if t is legacy), and the slot is
// freed only if it is reserved for this token.
//
// A rotated token no longer holds the slot (it moved to the token that
// replaced it), so deleting it leaves the slot alone.
func (s *Store) Delete(ctx context.Context, t store.Token, audit ...store.Event) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memstore: delete: %w", err)
	}
	if err := recordable(audit); err != nil {
		return fmt.Errorf("memstore: delete: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.items[t.Hash]
	if !ok {
		return fmt.Errorf("memstore: delete: %w", store.ErrNotFound)
	}
	cur := e.tok
	if t.Legacy != cur.Legacy || (!t.Legacy && (t.UUID != cur.UUID || (t.IsSystem && !cur.IsSystem))) {
		return fmt.Errorf("memstore: delete: %w", store.ErrNotFound)
	}
	delete(s.items, t.Hash)
	if !cur.Legacy {
		delete(s.byUUID, cur.UUID)
		if !cur.IsSystem && s.slots[cur.Username] == cur.UUID {
			delete(s.slots, cur.Username)
		}
	}
	s.record(audit)
	return nil
}

// GetSettings implements store.Store.
func (s *Store) GetSettings(ctx context.Context) (store.Settings, error) {
	if err := ctx.Err(); err != nil {
		return store.Settings{}, fmt.Errorf("memstore: get settings: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return cloneSettings(s.settings), nil
}

// PutSettings implements store.Store.
func (s *Store) PutSettings(ctx context.Context, st store.Settings, audit ...store.Event) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memstore: put settings: %w", err)
	}
	if err := recordable(audit); err != nil {
		return fmt.Errorf("memstore: put settings: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.settings = cloneSettings(st)
	s.record(audit)
	return nil
}

// cloneSettings copies the pointed-to values, so that neither the caller
// nor the store can change the other's settings afterwards.
func cloneSettings(st store.Settings) store.Settings {
	if st.AllowUserManagedTokens != nil {
		v := *st.AllowUserManagedTokens
		st.AllowUserManagedTokens = &v
	}
	return st
}

// PutLegacy adds a legacy item (the older scheme: a plain-text value, optionally
// with tokenExpiration). Test support for storetest.LegacyInserter, not part
// of the store contract. An existing key is ErrExists.
func (s *Store) PutLegacy(ctx context.Context, value string, expiration int64) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memstore: put legacy: %w", err)
	}
	if value == "" || schema.IsReservedKey(value) {
		return errors.New("memstore: put legacy: value is empty or a reserved key")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.items[value]; ok {
		return fmt.Errorf("memstore: put legacy %s: %w", secret.LegacyID(value), store.ErrExists)
	}
	s.items[value] = entry{
		tok:   store.Token{Hash: value, Expiration: expiration, Groups: []string{}, Legacy: true},
		order: secret.Hash(value),
	}
	return nil
}

// cursor is this JSON, sealed (cursorseal, with the Store's own random key,
// for the listing of mode and user): the listing it belongs to and the order
// key of the last item returned. Sealed, it names no item, and one that was
// changed or issued for another listing or another Store does not open.
type cursor struct {
	Mode  string `json:"m"`
	User  string `json:"u,omitempty"`
	After string `json:"a"`
}

// List implements store.Store. Items go in order of SHA-256 of their key;
// a page ends after Limit items, and a cursor is issued only when at least
// one more item follows.
func (s *Store) List(ctx context.Context, opts store.ListOptions) (store.Page, error) {
	if err := ctx.Err(); err != nil {
		return store.Page{}, fmt.Errorf("memstore: list: %w", err)
	}
	if opts.Limit < 1 || opts.Limit > maxLimit {
		return store.Page{}, fmt.Errorf("memstore: list: limit %d outside 1..%d", opts.Limit, maxLimit)
	}
	mode := "all"
	if opts.Username != "" {
		mode = "user"
	}
	after := ""
	if opts.Cursor != "" {
		c, err := s.decodeCursor(opts.Cursor, mode, opts.Username)
		if err != nil || c.Mode != mode || c.User != opts.Username {
			return store.Page{}, fmt.Errorf("memstore: list: %w", store.ErrBadCursor)
		}
		after = c.After
	}

	s.mu.Lock()
	var match []entry
	for _, e := range s.items {
		if e.order > after && (opts.Username == "" || e.tok.Username == opts.Username) {
			match = append(match, e)
		}
	}
	s.mu.Unlock()
	sort.Slice(match, func(i, j int) bool { return match[i].order < match[j].order })

	page := store.Page{Tokens: []store.Token{}}
	for i, e := range match {
		if i == opts.Limit {
			b, _ := json.Marshal(cursor{Mode: mode, User: opts.Username, After: match[i-1].order})
			page.Cursor = s.seal.Seal(b, cursorseal.Listing(mode, opts.Username))
			break
		}
		page.Tokens = append(page.Tokens, clone(e.tok))
	}
	return page, nil
}

func (s *Store) decodeCursor(str, mode, username string) (cursor, error) {
	sealed, err := cursorseal.Parse(str, maxCursorLen)
	if err != nil {
		return cursor{}, err
	}
	raw, err := s.seal.Open(sealed, cursorseal.Listing(mode, username))
	if err != nil {
		return cursor{}, err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var c cursor
	if err := dec.Decode(&c); err != nil {
		return cursor{}, err
	}
	if dec.More() {
		return cursor{}, errors.New("trailing data")
	}
	if b, err := hex.DecodeString(c.After); err != nil || len(b) != 32 || strings.ToLower(c.After) != c.After {
		return cursor{}, errors.New("bad position")
	}
	return c, nil
}

// clone copies t so that callers never share the stored Groups slice, and
// normalizes Groups to non-nil as the DynamoDB store returns it.
func clone(t store.Token) store.Token {
	t.Groups = slices.Clone(t.Groups)
	t.Limits = t.Limits.Clone()
	if t.Groups == nil {
		t.Groups = []string{}
	}
	return t
}
