// Package store defines how tokens are kept: the Token record, the Store
// contract every backend implements, and the sentinel errors callers match
// with errors.Is. The conformance suite in storetest holds each backend to
// this contract; memstore is the in-memory reference backend and
// dynamostore the DynamoDB one.
package store

import (
	"context"
	"errors"

	"github.com/google/uuid"

	"github.com/llmgw/apitokens/pkg/limits"
	"github.com/llmgw/apitokens/pkg/schema"
)

// Sentinel errors. Backends wrap them with detail; callers use errors.Is.
var (
	// ErrNotFound: no item with that key.
	ErrNotFound = errors.New("store: not found")
	// ErrSlotTaken: the user already holds a non-system token.
	ErrSlotTaken = errors.New("store: user already has a token")
	// ErrExists: an item with the same token hash or UUID already exists.
	ErrExists = errors.New("store: token already exists")
	// ErrBadCursor: a pagination cursor that this store did not issue.
	ErrBadCursor = errors.New("store: invalid pagination cursor")
	// ErrConflict: the stored token is no longer the one the caller read
	// (another change won the race, or it was already rotated).
	ErrConflict = errors.New("store: token changed meanwhile")
)

// Token is one item of the token table. A legacy item (the older scheme: a
// plain-text value inserted by hand) has Legacy set, an empty UUID and a Hash
// that is the stored plain value; such a Token must never be shown with its
// Hash and never authenticates.
type Token struct {
	Hash      string // partition key: SHA-256 hex of the secret
	UUID      string
	Username  string
	CreatedBy string
	// CreatedVia records how the token was made: "jwt" (a signed-in
	// user) or the tokenUUID of the API token that made it. Empty on
	// tokens made before it was recorded and on legacy items.
	CreatedVia  string
	CreatedDate int64 // Unix seconds
	Expiration  int64 // Unix seconds; 0 means none recorded (legacy items only)
	Name        string
	Groups      []string // as created; a Store returns a non-nil slice (empty when none)
	IsSystem    bool
	Legacy      bool

	// Disabled tokens are refused everywhere until enabled again.
	// DisabledBy is the username that disabled it, DisabledByAdmin whether
	// that caller was an admin (then only an admin may enable it), and
	// DisabledAt when (Unix seconds). All zero while enabled.
	Disabled        bool
	DisabledBy      string
	DisabledByAdmin bool
	DisabledAt      int64
	// UpdatedAt is when the token was last changed after its creation
	// (PATCH, rotation); 0 if never.
	UpdatedAt int64
	// LastUsedAt is when the token last authenticated a call (Unix
	// seconds), written at most once per resolution per instance
	// (TouchLastUsed); 0 if never recorded.
	LastUsedAt int64
	// RotatedFrom is the tokenUUID this token replaced; RotatedTo the
	// tokenUUID that replaced it. A token with RotatedTo set no longer
	// holds its owner's slot and cannot be rotated again.
	RotatedFrom string
	RotatedTo   string
	// Limits are the token's own limits (set by admins); nil when it has
	// none and the deployment's defaults apply (limits.Policy.Resolve).
	Limits *limits.Limits
	// UsageKey is the key the token's usage and rate counters are kept
	// under: PersonalUsageKey of its user for a personal token, and for a
	// system token the first token of its chain of rotations, so that
	// rotating (or, for a personal token, deleting and creating again)
	// does not start its limits afresh. "" means its own UUID (see
	// UsageKeyOf); personal tokens created before PersonalUsageKey have
	// that too.
	UsageKey string
}

// personalUsageSpace is the UUID namespace of PersonalUsageKey.
var personalUsageSpace = uuid.MustParse("8f3b1c52-6d1e-4a7b-9e0c-5a2f4d8b7c31")

// PersonalUsageKey is the usage key of every personal (non-system) token
// of username. A user holds at most one such token at a time; counting
// them all under one key means that deleting a token and creating another
// cannot start its rate limits and budgets afresh, as rotating cannot. It
// is a name-based UUID (version 5) of the username: a token UUID's shape,
// never any token's own UUID.
func PersonalUsageKey(username string) string {
	return uuid.NewSHA1(personalUsageSpace, []byte(username)).String()
}

// UsageKeyOf is the key t's usage is counted under.
func UsageKeyOf(t Token) string {
	if t.UsageKey != "" {
		return t.UsageKey
	}
	return t.UUID
}

// Audit actions: what an Event records.
const (
	ActionCreate     = "create"
	ActionUpdate     = "update"  // name or expiry changed
	ActionDisable    = "disable" // may carry other changes of the same PATCH
	ActionEnable     = "enable"
	ActionRotate     = "rotate" // on the old token; the new one gets ActionCreate with rotatedFrom
	ActionDelete     = "delete"
	ActionRevokeUser = "revoke_user" // one per token deleted by DELETE /api-tokens/?username=
	ActionSettings   = "settings"
)

// SettingsSubject is the Event.TokenUUID of changes to the settings.
const SettingsSubject = "settings"

// Event is one entry of the audit trail: a change, who made it and how.
// It never holds a secret or a token hash.
type Event struct {
	ID     string // unique (a UUID); set by the caller
	Time   int64  // Unix milliseconds
	Action string // one of the Action constants
	// Actor is the username of the caller; AuthType how it authenticated:
	// "jwt", or the tokenUUID of the API token it presented.
	Actor     string
	AuthType  string
	SourceIP  string
	UserAgent string
	// TokenUUID is the token changed (its public id: a legacy item's
	// legacy-... id), or SettingsSubject. Username is that token's owner
	// ("" for settings and legacy items).
	TokenUUID string
	Username  string
	Changes   []Change
}

// Change is one field an Event changed. Old and New are the values as the
// API shows them (Unix seconds as decimal strings, booleans as
// "true"/"false", groups comma-separated); "" when there was none.
type Change struct {
	Field string
	Old   string
	New   string
}

// EventQuery selects audit events, newest first. At most one of TokenUUID,
// Username and Actor is the key of the query; the others, and From/To,
// filter it. All empty lists every event (within From..To).
type EventQuery struct {
	TokenUUID string
	Username  string // the changed token's owner
	Actor     string
	From, To  int64 // Unix milliseconds, inclusive; 0 = unbounded
	Limit     int   // 1..1000, as ListOptions.Limit
	Cursor    string
}

// EventPage is one page of events, newest first; Cursor "" on the last.
type EventPage struct {
	Events []Event
	Cursor string
}

// ListOptions selects and pages a listing.
type ListOptions struct {
	// Username, if set, lists only that user's tokens (username-index).
	// Empty lists every token, legacy items included.
	Username string
	// Limit is the most items to return in one page (1..1000). Outside
	// that range List fails with an error that is none of the sentinels
	// (a caller bug; validate user input before).
	Limit int
	// Cursor continues a previous listing; "" starts at the beginning. It
	// is valid only for the same Username. Cursors are opaque and sealed:
	// they carry no table key (no token hash, guard key or username, nor a
	// legacy item's stored value), so they may be handed to API clients.
	// Any value this store did not issue for this listing (changed,
	// forged, from another listing, or sealed under a key since replaced)
	// is ErrBadCursor. Failing to check a cursor (the backend cannot be
	// reached) is an error that is none of the sentinels.
	Cursor string
}

// Page is one page of a listing. Cursor is "" on the last page.
type Page struct {
	Tokens []Token
	Cursor string
}

// Settings are the runtime settings of the token API, kept in the token
// table beside the tokens (DynamoDB: the reserved item schema.SettingsItem).
// A nil field was never set: the deployment's configured default applies.
type Settings struct {
	// AllowUserManagedTokens says whether members of the API group may
	// create their own token (ALLOW_USER_MANAGED_TOKENS is the default).
	AllowUserManagedTokens *bool
	UpdatedBy              string // username of the admin who last set them
	UpdatedAt              int64  // Unix seconds; 0 if never set
}

// Store keeps tokens and the audit trail of their changes.
// Implementations must be safe for concurrent use.
//
// Every method that changes something takes the audit events that record
// the change and writes them atomically with it: either the change and all
// of its events are stored, or neither is (an audit write that fails fails
// the change). The token service always passes them; a change made with no
// event is possible only through this interface (tests, tools).
type Store interface {
	// Create writes t. For a non-system token it MUST atomically reserve the
	// owner's single non-system slot together with the write: of any number
	// of concurrent Creates for one user, at most one succeeds and the rest
	// return ErrSlotTaken. System tokens never touch the slot. A token whose
	// Hash or UUID already exists returns ErrExists (before ErrSlotTaken,
	// when both apply). On any error nothing is written. A token that cannot be stored (empty Hash, UUID or Username,
	// a reserved key as Hash, Legacy set) is an error that is none of the
	// sentinels: it is a programming error, not an answer.
	Create(ctx context.Context, t Token, audit ...Event) error

	// GetByHash returns the item whose partition key is hash, read with
	// strong consistency (a revocation is seen at once). Reserved items
	// (guard and configuration items, schema.IsReservedKey) are never
	// returned (ErrNotFound). Legacy items are returned with Legacy
	// set; callers must refuse them.
	GetByHash(ctx context.Context, hash string) (Token, error)

	// GetByUUID returns the token with that tokenUUID using the
	// tokenUUID-index (one query, never a scan), or ErrNotFound.
	GetByUUID(ctx context.Context, uuid string) (Token, error)

	// GetLegacy returns the legacy item whose secret.LegacyID is id, or
	// ErrNotFound. Legacy items have no index; this may scan, and is only
	// reached by admins.
	GetLegacy(ctx context.Context, id string) (Token, error)

	// Delete removes t (matched by Hash) and, for a non-system token, frees
	// the owner's slot, atomically. ErrNotFound if the item is already gone,
	// or if the stored item is no longer the token t describes (another
	// UUID; not a system token although t is one; legacy or not unlike t):
	// pass a Token obtained from this Store, so that a stale or mismatched
	// value can never delete another token or free another token's slot.
	// A token that was rotated (RotatedTo set) no longer holds the slot:
	// deleting it leaves the slot to the token that replaced it.
	Delete(ctx context.Context, t Token, audit ...Event) error

	// Update replaces the stored token old with updated (same Hash, UUID,
	// owner; only Name, Expiration, the Disabled fields and UpdatedAt may
	// differ). It is a compare-and-swap: if the stored item is no longer
	// old (any of those fields or RotatedTo differ), nothing is written and
	// the answer is ErrConflict; ErrNotFound if it is gone. Legacy items
	// cannot be updated (an error that is none of the sentinels).
	Update(ctx context.Context, old, updated Token, audit ...Event) error

	// Rotate atomically stores fresh (a new token, as Create would) and
	// replaces old with retired, which must be old with RotatedTo set to
	// fresh.UUID and possibly an earlier Expiration and a new UpdatedAt.
	// For a non-system token the owner's slot moves from old to fresh in
	// the same transaction. Of any number of concurrent Rotates of one
	// token at most one succeeds; the others get ErrConflict (as does
	// rotating a token whose stored item is no longer old, or already has
	// RotatedTo). ErrNotFound if old is gone; ErrExists if fresh's Hash or
	// UUID is taken.
	Rotate(ctx context.Context, old, retired, fresh Token, audit ...Event) error

	// TouchLastUsed sets LastUsedAt of the token with that hash to at,
	// unless it already is at or after at (it never moves backwards). A
	// missing token, a reserved key or a newer value is no error: the
	// write is best effort and changes nothing else.
	TouchLastUsed(ctx context.Context, hash string, at int64) error

	// Events returns one page of the audit trail, newest first. A cursor
	// is sealed and bound to its query as List's are (ErrBadCursor).
	Events(ctx context.Context, q EventQuery) (EventPage, error)

	// List returns one page of tokens, reserved items excluded. Every item is
	// returned exactly once across the pages of a listing of an unchanging
	// table. A page may hold fewer than Limit items and still have a Cursor.
	List(ctx context.Context, opts ListOptions) (Page, error)

	// GetSettings returns the stored settings, read with strong
	// consistency; never stored is the zero Settings (every field nil or
	// empty) and no error. The settings are no token: they never appear in
	// List, GetByHash or GetLegacy, and Delete cannot remove them.
	GetSettings(ctx context.Context) (Settings, error)

	// PutSettings replaces the stored settings with s (last writer wins).
	PutSettings(ctx context.Context, s Settings, audit ...Event) error
}

// Storable refuses a Token that no Store may create (see Create): legacy,
// an empty or reserved key, no UUID, no owner. These are programming
// errors, deliberately none of the sentinels.
func Storable(t Token) error {
	switch {
	case t.Legacy:
		return errors.New("legacy items cannot be created")
	case t.Hash == "" || schema.IsReservedKey(t.Hash):
		return errors.New("token hash is empty or a reserved key")
	case t.UUID == "":
		return errors.New("token UUID is empty")
	case t.Username == "":
		return errors.New("username is empty")
	}
	return nil
}

// Recordable refuses an Event that no Store may write: no id, time,
// action, actor or subject. Like Storable, these are programming errors.
func Recordable(ev Event) error {
	switch {
	case ev.ID == "":
		return errors.New("audit event without an id")
	case ev.Time <= 0:
		return errors.New("audit event without a time")
	case ev.Action == "":
		return errors.New("audit event without an action")
	case ev.Actor == "" || ev.AuthType == "":
		return errors.New("audit event without an actor")
	case ev.TokenUUID == "":
		return errors.New("audit event without a subject")
	}
	return nil
}
