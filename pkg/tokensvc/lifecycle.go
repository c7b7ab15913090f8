package tokensvc

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/llmgw/apitokens/pkg/apierr"
	"github.com/llmgw/apitokens/pkg/auth"
	"github.com/llmgw/apitokens/pkg/limits"
	"github.com/llmgw/apitokens/pkg/secret"
	"github.com/llmgw/apitokens/pkg/store"
)

// PatchRequest is the body of PATCH /api-tokens/{tokenUUID}. Absent
// fields stay as they are. Groups is declared only to refuse it with a
// clear message: a token's groups are fixed at creation.
type PatchRequest struct {
	Name            *string          `json:"name"`
	TokenExpiration *int64           `json:"tokenExpiration"`
	ExpiresIn       *string          `json:"expiresIn"`
	Disabled        *bool            `json:"disabled"`
	Groups          *json.RawMessage `json:"groups"`
	// Limits replace the token's own limits; null clears them. Admins set
	// any; anyone else, or any caller acting with an API token, may not
	// raise the token's effective limits.
	Limits limitsField `json:"limits"`
}

var (
	errConflict     = apierr.New(apierr.Conflict, "the token was changed by another request meanwhile: read it again and retry").WithCode("token_changed")
	errLegacyChange = apierr.New(apierr.Invalid, "legacy tokens cannot be changed or rotated: delete it and create a new token").WithCode("legacy_token")
)

// Patch changes a token's name, expiry or disabled state. Owners (members
// of the API group) and admins may; an owner may always disable their own
// token, as they may always delete it. Only an admin enables a token an
// admin disabled. A new expiry obeys the limits of creation, and a caller
// authenticated by an API token cannot move any token's expiry past its
// own. A rotated token's expiry is its grace period and cannot be changed.
// A request that changes nothing answers the token as it is and records
// nothing.
func (s *Service) Patch(ctx context.Context, caller auth.Principal, id string, req PatchRequest) (View, error) {
	if req.Groups != nil {
		return View{}, apierr.New(apierr.Invalid, "groups cannot be changed: a token keeps the groups it was created with (create a new token for other groups)").WithCode("groups_fixed")
	}
	newLimits, setLimits, err := parseLimits(req.Limits)
	if err != nil {
		return View{}, err
	}
	if req.Name == nil && req.TokenExpiration == nil && req.ExpiresIn == nil && req.Disabled == nil && !setLimits {
		return View{}, apierr.New(apierr.Invalid, "nothing to change: send name, tokenExpiration (or expiresIn), disabled or limits").WithCode("empty_patch")
	}
	onlyDisables := req.Name == nil && req.TokenExpiration == nil && req.ExpiresIn == nil && !setLimits && *req.Disabled
	if !onlyDisables {
		if err := mayManage(caller); err != nil {
			return View{}, err
		}
	}
	t, err := s.find(ctx, caller, id)
	if err != nil {
		return View{}, err
	}
	if t.Legacy {
		return View{}, errLegacyChange
	}
	now := s.now()
	u := t
	if req.Name != nil {
		if u.Name, err = validateName(req.Name); err != nil {
			return View{}, err
		}
	}
	if req.TokenExpiration != nil || req.ExpiresIn != nil {
		if t.RotatedTo != "" {
			return View{}, apierr.New(apierr.Invalid, "this token was rotated: it works until %d and its expiry cannot be changed (change the new token %s instead)", t.Expiration, t.RotatedTo).WithCode("token_rotated")
		}
		if g, ok := outranks(caller, t.Groups); ok {
			return View{}, apierr.New(apierr.Invalid, "this token holds group %q, which you do not: only an admin signed in can change its expiry", g).WithCode("group_not_held")
		}
		var ceiling int64
		if caller.AuthType == auth.AuthAPIToken {
			ceiling = caller.ExpiresAt
		}
		if u.Expiration, err = s.expiration(CreateRequest{TokenExpiration: req.TokenExpiration, ExpiresIn: req.ExpiresIn}, now, ceiling); err != nil {
			return View{}, err
		}
	}
	if setLimits {
		if boundByPolicy(caller) {
			if err := checkNotRaised(s.cfg.Limits.Resolve(t.Limits, t.Groups), s.cfg.Limits.Resolve(newLimits, t.Groups),
				"above the token's current effective limits"); err != nil {
				return View{}, err
			}
		}
		u.Limits = newLimits
	}
	action := store.ActionUpdate
	if req.Disabled != nil && *req.Disabled != t.Disabled {
		if *req.Disabled {
			action = store.ActionDisable
			u.Disabled, u.DisabledBy, u.DisabledByAdmin, u.DisabledAt = true, caller.Username, caller.IsAdmin, now.Unix()
		} else {
			if t.DisabledByAdmin && !caller.IsAdmin {
				return View{}, apierr.New(apierr.Forbidden, "this token was disabled by an admin (%s): only an admin can enable it", t.DisabledBy).WithCode("disabled_by_admin")
			}
			action = store.ActionEnable
			u.Disabled, u.DisabledBy, u.DisabledByAdmin, u.DisabledAt = false, "", false, 0
		}
	}
	var cs []store.Change
	cs = changed(cs, "name", t.Name, u.Name)
	cs = changed(cs, "tokenExpiration", fmtInt(t.Expiration), fmtInt(u.Expiration))
	cs = changed(cs, "disabled", fmtBool(t.Disabled), fmtBool(u.Disabled))
	cs = changed(cs, "limits", limits.Encode(t.Limits), limits.Encode(u.Limits))
	if len(cs) == 0 {
		return s.view(t, now.Unix()), nil
	}
	u.UpdatedAt = now.Unix()
	switch err := s.store.Update(ctx, t, u, s.event(ctx, caller, action, t.UUID, t.Username, cs...)); {
	case errors.Is(err, store.ErrConflict):
		return View{}, errConflict
	case errors.Is(err, store.ErrNotFound):
		return View{}, errNotFound
	case err != nil:
		return View{}, storeFailure(err, "update token")
	}
	s.logger.InfoContext(ctx, "token changed", slog.String("tokenUUID", t.UUID), slog.String("username", t.Username),
		slog.String("action", action), slog.String("changedBy", caller.Username))
	return s.view(u, now.Unix()), nil
}

// Grace periods of a rotation.
const (
	DefaultGracePeriod = time.Hour
	MaxGracePeriod     = 7 * 24 * time.Hour
)

// RotateRequest is the optional body of POST /api-tokens/{tokenUUID}/rotate.
type RotateRequest struct {
	// GracePeriod is how long the old token keeps working, in expiresIn's
	// grammar ("1h", "30m", "7d", "0s"); default 1h, at most 7d.
	GracePeriod *string `json:"gracePeriod"`
}

// Rotated is the 201 answer to a rotation: the new token (its secret shown
// this once) and when the old one stops working.
type Rotated struct {
	Created
	PreviousTokenExpiration int64 `json:"previousTokenExpiration"`
}

// Rotate replaces a token with a new one of the same owner, name, groups,
// system flag and expiry. The old token keeps working for the grace period
// (never past its own expiry), then is refused like any expired token; for
// a user token the one-per-user slot moves to the new token atomically.
// Expired, disabled, legacy and already rotated tokens cannot be rotated.
// A caller authenticated by an API token cannot rotate a token that
// outlives or out-ranks its own: the new token would.
func (s *Service) Rotate(ctx context.Context, caller auth.Principal, id string, req RotateRequest) (Rotated, error) {
	if err := mayManage(caller); err != nil {
		return Rotated{}, err
	}
	grace := DefaultGracePeriod
	if req.GracePeriod != nil {
		secs, err := parseSpan("gracePeriod", *req.GracePeriod)
		if err != nil {
			return Rotated{}, err
		}
		if secs > int64(MaxGracePeriod/time.Second) {
			return Rotated{}, apierr.New(apierr.Invalid, "gracePeriod is longer than the maximum of 7d").WithCode("invalid_grace_period")
		}
		grace = time.Duration(secs) * time.Second
	}
	t, err := s.find(ctx, caller, id)
	if err != nil {
		return Rotated{}, err
	}
	now := s.now()
	switch {
	case t.Legacy:
		return Rotated{}, errLegacyChange
	case t.RotatedTo != "":
		return Rotated{}, apierr.New(apierr.Invalid, "this token was already rotated (to %s): rotate that one", t.RotatedTo).WithCode("token_rotated")
	case t.Disabled:
		return Rotated{}, apierr.New(apierr.Invalid, "a disabled token cannot be rotated: enable it first, or delete it and create a new one").WithCode("token_disabled")
	case now.Unix() >= t.Expiration:
		return Rotated{}, apierr.New(apierr.Invalid, "an expired token cannot be rotated: create a new one").WithCode("token_expired")
	}
	if caller.AuthType == auth.AuthAPIToken && t.Expiration > caller.ExpiresAt {
		return Rotated{}, apierr.New(apierr.Invalid, "this token expires after the API token making this request (%d): a token cannot make one that outlives it (sign in to rotate it)", caller.ExpiresAt).WithCode("outlives_creator")
	}
	if g, ok := outranks(caller, t.Groups); ok {
		return Rotated{}, apierr.New(apierr.Invalid, "this token holds group %q, which you do not: a rotation would hand you a new secret with it (an admin, signed in, can rotate it)", g).WithCode("group_not_held")
	}
	plain, err := s.cfg.TokenFormat.Generate(s.rand)
	if err != nil {
		return Rotated{}, apierr.Wrap(apierr.Internal, err, "generate token")
	}
	fresh := store.Token{
		Hash: secret.Hash(plain), UUID: s.newID(), Username: t.Username,
		CreatedBy: caller.Username, CreatedVia: createdVia(caller), CreatedDate: now.Unix(),
		Expiration: t.Expiration, Name: t.Name, Groups: slices.Clone(t.Groups), IsSystem: t.IsSystem,
		RotatedFrom: t.UUID, Limits: cloneLimits(t.Limits),
		// Its usage goes on where the old token's is: a rotation must not
		// start the day's requests or the month's budget afresh.
		UsageKey: store.UsageKeyOf(t),
	}
	if fresh.Groups == nil {
		fresh.Groups = []string{}
	}
	retired := t
	retired.RotatedTo = fresh.UUID
	retired.Expiration = min(now.Add(grace).Unix(), t.Expiration)
	retired.UpdatedAt = now.Unix()
	var cs []store.Change
	cs = changed(cs, "rotatedTo", "", fresh.UUID)
	cs = changed(cs, "tokenExpiration", fmtInt(t.Expiration), fmtInt(retired.Expiration))
	evs := []store.Event{
		s.event(ctx, caller, store.ActionRotate, t.UUID, t.Username, cs...),
		s.event(ctx, caller, store.ActionCreate, fresh.UUID, fresh.Username, creation(fresh)...),
	}
	switch err := s.store.Rotate(ctx, t, retired, fresh, evs...); {
	case errors.Is(err, store.ErrConflict):
		return Rotated{}, errConflict
	case errors.Is(err, store.ErrNotFound):
		return Rotated{}, errNotFound
	case err != nil:
		return Rotated{}, storeFailure(err, "rotate token")
	}
	s.logger.InfoContext(ctx, "token rotated", slog.String("tokenUUID", t.UUID), slog.String("rotatedTo", fresh.UUID),
		slog.String("username", t.Username), slog.String("rotatedBy", caller.Username), slog.Int64("previousTokenExpiration", retired.Expiration))
	return Rotated{Created: s.created(fresh, plain), PreviousTokenExpiration: retired.Expiration}, nil
}

// outranks reports the first of groups that caller does not hold, when
// caller's own groups bound what it may mint or prolong: for every caller
// that authenticated with an API token, and for every non-admin. A new
// secret or a longer life for a token is as good as a new token, and no
// token may out-rank the credential that acts on it (an owner whose groups
// shrank since, or a system token an admin gave more groups, stays as it
// is until an admin acts).
func outranks(caller auth.Principal, groups []string) (string, bool) {
	if caller.IsAdmin && caller.AuthType != auth.AuthAPIToken {
		return "", false
	}
	for _, g := range groups {
		if !slices.Contains(caller.Groups, g) {
			return g, true
		}
	}
	return "", false
}

// RevokeRequest selects the tokens of DELETE /api-tokens/?username=.
type RevokeRequest struct {
	Username            string
	IncludeSystemTokens string // "true", "false" or ""
}

// Revoked is the answer to revoking a user's tokens.
type Revoked struct {
	Deleted    int      `json:"deleted"`
	TokenUUIDs []string `json:"tokenUUIDs"`
}

// RevokeUser deletes every token of a user (admins only): their own token
// and, with includeSystemTokens=true, the system tokens made for them.
// Each deletion is recorded as its own event. It is idempotent: tokens
// already gone are not counted, and a second call deletes nothing. If the
// store fails part way, the tokens deleted so far stay deleted (and
// recorded) and the call is a 503: call it again.
func (s *Service) RevokeUser(ctx context.Context, caller auth.Principal, req RevokeRequest) (Revoked, error) {
	if !caller.IsAdmin {
		return Revoked{}, apierr.New(apierr.Forbidden, "only admins can revoke every token of a user").WithCode("not_admin")
	}
	if req.Username == "" {
		return Revoked{}, apierr.New(apierr.Invalid, "username is required: DELETE /api-tokens/?username=alice (a single token is deleted at /api-tokens/{tokenUUID})").WithCode("username_required")
	}
	username, err := validateUsername(req.Username)
	if err != nil {
		return Revoked{}, err
	}
	var system bool
	switch req.IncludeSystemTokens {
	case "", "false":
	case "true":
		system = true
	default:
		return Revoked{}, apierr.New(apierr.Invalid, "includeSystemTokens must be true or false")
	}
	// Collect first, then delete: deleting while paging would change the
	// pages under the cursor.
	var doomed []store.Token
	cursor := ""
	for {
		page, err := s.store.List(ctx, store.ListOptions{Username: username, Limit: MaxListLimit, Cursor: cursor})
		if err != nil {
			return Revoked{}, storeFailure(err, "list the user's tokens")
		}
		for _, t := range page.Tokens {
			if !t.Legacy && (system || !t.IsSystem) {
				doomed = append(doomed, t)
			}
		}
		if cursor = page.Cursor; cursor == "" {
			break
		}
	}
	out := Revoked{TokenUUIDs: []string{}}
	for _, t := range doomed {
		err := s.store.Delete(ctx, t, s.event(ctx, caller, store.ActionRevokeUser, t.UUID, t.Username))
		if errors.Is(err, store.ErrNotFound) {
			continue // deleted meanwhile: not ours to count
		}
		if err != nil {
			return Revoked{}, storeFailure(err, "revoke the user's tokens")
		}
		out.Deleted++
		out.TokenUUIDs = append(out.TokenUUIDs, t.UUID)
	}
	s.logger.InfoContext(ctx, "user's tokens revoked", slog.String("username", username), slog.Int("deleted", out.Deleted),
		slog.Bool("includeSystemTokens", system), slog.String("revokedBy", caller.Username))
	return out, nil
}

// EventsRequest selects a page of audit events. From and To are Unix
// seconds (inclusive); Username, Actor, From and To apply only to the
// admins' GET /api-token-events.
type EventsRequest struct {
	Username  string
	Actor     string
	From      string
	To        string
	Limit     string
	NextToken string
}

// TokenEvents is the history of one token, newest first: for its owner
// (also after the token was deleted, also outside the API group, as for
// deleting) and for admins. Another user's token and one that never
// existed are the same 404.
func (s *Service) TokenEvents(ctx context.Context, caller auth.Principal, id string, req EventsRequest) (EventList, error) {
	if !validTokenID(id) {
		return EventList{}, errBadID
	}
	if legacyID(id) && !caller.IsAdmin {
		return EventList{}, apierr.New(apierr.Forbidden, "legacy tokens can only be managed by admins").WithCode("not_admin")
	}
	limit, err := parseLimit(req.Limit)
	if err != nil {
		return EventList{}, err
	}
	page, err := s.events(ctx, store.EventQuery{TokenUUID: canonicalID(id), Limit: limit, Cursor: req.NextToken})
	if err != nil {
		return EventList{}, err
	}
	if !caller.IsAdmin {
		// Every event of a token names its owner, who never changes.
		if len(page.Events) == 0 && req.NextToken == "" {
			return EventList{}, errNotFound
		}
		for _, e := range page.Events {
			if e.Username != caller.Username {
				return EventList{}, errNotFound
			}
		}
	}
	return page, nil
}

// Events is the audit trail across all tokens (admins), newest first,
// optionally of one owner's tokens, of one actor's changes, and between
// two times.
func (s *Service) Events(ctx context.Context, caller auth.Principal, req EventsRequest) (EventList, error) {
	if !caller.IsAdmin {
		return EventList{}, apierr.New(apierr.Forbidden, "only admins can read the audit trail of every token: GET /api-tokens/{tokenUUID}/events reads one of your own").WithCode("not_admin")
	}
	limit, err := parseLimit(req.Limit)
	if err != nil {
		return EventList{}, err
	}
	q := store.EventQuery{Limit: limit, Cursor: req.NextToken}
	for _, f := range []struct {
		name, v string
		dst     *string
	}{{"username", req.Username, &q.Username}, {"actor", req.Actor, &q.Actor}} {
		if f.v == "" {
			continue
		}
		if _, err := validateUsername(f.v); err != nil {
			return EventList{}, apierr.New(apierr.Invalid, "%s: %s", f.name, apierr.Message(err))
		}
		*f.dst = f.v
	}
	from, err := parseTime("from", req.From)
	if err != nil {
		return EventList{}, err
	}
	to, err := parseTime("to", req.To)
	if err != nil {
		return EventList{}, err
	}
	if from != 0 && to != 0 && from > to {
		return EventList{}, apierr.New(apierr.Invalid, "from (%d) is after to (%d)", from, to)
	}
	if from != 0 {
		q.From = from * 1000
	}
	if to != 0 {
		q.To = to*1000 + 999
	} else {
		// Up to now by this service's clock (with a minute for other
		// instances' clocks): the store walks the trail back from here.
		q.To = s.now().Add(time.Minute).UnixMilli()
	}
	return s.events(ctx, q)
}

func (s *Service) events(ctx context.Context, q store.EventQuery) (EventList, error) {
	page, err := s.store.Events(ctx, q)
	if errors.Is(err, store.ErrBadCursor) {
		return EventList{}, apierr.New(apierr.Invalid, "nextToken is not valid for this listing: start again without it").WithCode("invalid_next_token")
	}
	if err != nil {
		return EventList{}, storeFailure(err, "read the audit trail")
	}
	out := EventList{Events: make([]EventView, 0, len(page.Events)), NextToken: page.Cursor}
	for _, e := range page.Events {
		out.Events = append(out.Events, eventView(e))
	}
	return out, nil
}

// parseTime reads a from/to bound in Unix seconds; "" is unbounded.
func parseTime(field, v string) (int64, error) {
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	// Up to the year 9999: also keeps the milliseconds within int64.
	if err != nil || n < 1 || n > 253402300799 {
		return 0, apierr.New(apierr.Invalid, "%s must be a time in Unix seconds", field)
	}
	return n, nil
}

// validTokenID reports whether id can name a token: a UUID or a legacy id.
func validTokenID(id string) bool {
	if legacyID(id) {
		return validLegacyID(id)
	}
	return isUUID(id)
}

func legacyID(id string) bool { return strings.HasPrefix(id, secret.LegacyPrefix) }

func isUUID(id string) bool {
	_, err := uuid.Parse(id)
	return err == nil && len(id) == 36
}

// canonicalID is the form ids are stored in: UUIDs lower-case.
func canonicalID(id string) string {
	if legacyID(id) {
		return id
	}
	return strings.ToLower(id)
}
