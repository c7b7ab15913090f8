package tokensvc

import (
	"context"
	"strconv"
	"strings"

	"github.com/google/uuid"

	"github.com/llmgw/apitokens/pkg/auth"
	"github.com/llmgw/apitokens/pkg/limits"
	"github.com/llmgw/apitokens/pkg/store"
)

// Origin is where a request came from, as the audit trail records it.
type Origin struct {
	SourceIP  string
	UserAgent string
}

type originKey struct{}

// WithOrigin returns ctx carrying the request's origin; the adapters set
// it for every call, and every audit event of the call records it.
func WithOrigin(ctx context.Context, o Origin) context.Context {
	return context.WithValue(ctx, originKey{}, o)
}

func originOf(ctx context.Context) Origin {
	o, _ := ctx.Value(originKey{}).(Origin)
	return o
}

// Bounds on what an event keeps of the request: both come from the
// caller, and an audit item must stay far below DynamoDB's item limit.
const (
	maxAuditSourceIP  = 64
	maxAuditUserAgent = 512
)

// event is the audit event of one change made by caller to the token
// (public id) tokenID of owner.
func (s *Service) event(ctx context.Context, caller auth.Principal, action, tokenID, owner string, changes ...store.Change) store.Event {
	o := originOf(ctx)
	return store.Event{
		ID:        eventID(),
		Time:      s.now().UnixMilli(),
		Action:    action,
		Actor:     caller.Username,
		AuthType:  createdVia(caller),
		SourceIP:  clip(o.SourceIP, maxAuditSourceIP),
		UserAgent: clip(o.UserAgent, maxAuditUserAgent),
		TokenUUID: tokenID,
		Username:  owner,
		Changes:   changes,
	}
}

// eventID is a version 7 UUID: time-ordered, and in creation order within
// a process even in the same millisecond, so that events recorded at the
// same time by one instance list in the order they happened.
func eventID() string {
	id, err := uuid.NewV7()
	if err != nil {
		return uuid.NewString() // crypto/rand failed: unique still, unordered
	}
	return id.String()
}

// clip cuts s to at most n bytes, dropping a rune cut in two (and any
// other invalid UTF-8 the caller sent).
func clip(s string, n int) string {
	if len(s) > n {
		s = s[:n]
	}
	return strings.ToValidUTF8(s, "")
}

// Values of changes, as the API shows them.
func fmtInt(v int64) string {
	if v == 0 {
		return ""
	}
	return strconv.FormatInt(v, 10)
}

func fmtBool(v bool) string { return strconv.FormatBool(v) }

func fmtGroups(g []string) string { return strings.Join(g, ",") }

// changed appends a Change if old and new differ.
func changed(cs []store.Change, field, old, new string) []store.Change {
	if old == new {
		return cs
	}
	return append(cs, store.Change{Field: field, Old: old, New: new})
}

// creation lists what a new token was made with.
func creation(t store.Token) []store.Change {
	var cs []store.Change
	cs = changed(cs, "name", "", t.Name)
	cs = changed(cs, "tokenExpiration", "", fmtInt(t.Expiration))
	cs = changed(cs, "groups", "", fmtGroups(t.Groups))
	cs = changed(cs, "isSystemToken", "", fmtBool(t.IsSystem))
	cs = changed(cs, "rotatedFrom", "", t.RotatedFrom)
	cs = changed(cs, "limits", "", limits.Encode(t.Limits))
	return cs
}

// EventView is an audit event as the API shows it.
type EventView struct {
	EventID   string       `json:"eventId"`
	Time      int64        `json:"time"` // Unix seconds
	Action    string       `json:"action"`
	Actor     string       `json:"actor"`
	AuthType  string       `json:"authType"`
	SourceIP  string       `json:"sourceIp,omitempty"`
	UserAgent string       `json:"userAgent,omitempty"`
	TokenUUID string       `json:"tokenUUID"`
	Username  string       `json:"username,omitempty"`
	Changes   []ChangeView `json:"changes"`
}

// ChangeView is one changed field of an event.
type ChangeView struct {
	Field string `json:"field"`
	Old   string `json:"old"`
	New   string `json:"new"`
}

// EventList is one page of events, newest first; NextToken is omitted on
// the last page.
type EventList struct {
	Events    []EventView `json:"events"`
	NextToken string      `json:"nextToken,omitempty"`
}

func eventView(e store.Event) EventView {
	cs := make([]ChangeView, 0, len(e.Changes))
	for _, c := range e.Changes {
		cs = append(cs, ChangeView(c))
	}
	return EventView{
		EventID: e.ID, Time: e.Time / 1000, Action: e.Action, Actor: e.Actor, AuthType: e.AuthType,
		SourceIP: e.SourceIP, UserAgent: e.UserAgent, TokenUUID: e.TokenUUID, Username: e.Username, Changes: cs,
	}
}
