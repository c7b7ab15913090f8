package item

import (
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/llmgw/apitokens/pkg/schema"
	"github.com/llmgw/apitokens/pkg/store"
)

// Change attribute names inside an event's changes list (M per change).
const (
	changeField = "field"
	changeOld   = "old"
	changeNew   = "new"
)

// EventKey is the audit table's sort key for ev (schema.AttrEventKey).
func EventKey(ev store.Event) string { return fmt.Sprintf("%013d#%s", ev.Time, ev.ID) }

// Month is the month-index partition of a time in Unix milliseconds:
// "YYYY-MM" in UTC.
func Month(ms int64) string { return time.UnixMilli(ms).UTC().Format("2006-01") }

// EncodeEvent is the audit item for ev, kept for retention after its
// time (schema.AttrEventExpiresAt, the table's TTL). Empty optional
// strings are left out; username in particular, so that settings events are
// in no username-index partition.
func EncodeEvent(ev store.Event, retention time.Duration) map[string]types.AttributeValue {
	changes := make([]types.AttributeValue, len(ev.Changes))
	for i, c := range ev.Changes {
		changes[i] = &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{
			changeField: S(c.Field), changeOld: S(c.Old), changeNew: S(c.New),
		}}
	}
	it := map[string]types.AttributeValue{
		schema.AttrEventSubject:   S(ev.TokenUUID),
		schema.AttrEventKey:       S(EventKey(ev)),
		schema.AttrEventID:        S(ev.ID),
		schema.AttrEventTime:      N(ev.Time),
		schema.AttrEventAction:    S(ev.Action),
		schema.AttrEventActor:     S(ev.Actor),
		schema.AttrEventAuthType:  S(ev.AuthType),
		schema.AttrEventChanges:   &types.AttributeValueMemberL{Value: changes},
		schema.AttrEventMonth:     S(Month(ev.Time)),
		schema.AttrEventExpiresAt: N(ev.Time/1000 + int64(retention/time.Second)),
	}
	for name, v := range map[string]string{
		schema.AttrEventSourceIP:  ev.SourceIP,
		schema.AttrEventUserAgent: ev.UserAgent,
		schema.AttrEventUsername:  ev.Username,
	} {
		if v != "" {
			it[name] = S(v)
		}
	}
	return it
}

// DecodeEvent reads an audit item back into the Event that was written.
func DecodeEvent(it map[string]types.AttributeValue) (store.Event, error) {
	var ev store.Event
	var err error
	for name, dst := range map[string]*string{
		schema.AttrEventID:        &ev.ID,
		schema.AttrEventAction:    &ev.Action,
		schema.AttrEventActor:     &ev.Actor,
		schema.AttrEventAuthType:  &ev.AuthType,
		schema.AttrEventSourceIP:  &ev.SourceIP,
		schema.AttrEventUserAgent: &ev.UserAgent,
		schema.AttrEventSubject:   &ev.TokenUUID,
		schema.AttrEventUsername:  &ev.Username,
	} {
		if *dst, err = optS(it, name); err != nil {
			return store.Event{}, fmt.Errorf("audit item: %w", err)
		}
	}
	if ev.Time, err = optN(it, schema.AttrEventTime); err != nil {
		return store.Event{}, fmt.Errorf("audit item %s: %w", ev.ID, err)
	}
	ev.Changes = []store.Change{}
	switch v := it[schema.AttrEventChanges].(type) {
	case nil:
	case *types.AttributeValueMemberL:
		for _, e := range v.Value {
			m, ok := e.(*types.AttributeValueMemberM)
			if !ok {
				return store.Event{}, fmt.Errorf("audit item %s: %s holds a non-map element", ev.ID, schema.AttrEventChanges)
			}
			var c store.Change
			for name, dst := range map[string]*string{changeField: &c.Field, changeOld: &c.Old, changeNew: &c.New} {
				if *dst, err = optS(m.Value, name); err != nil {
					return store.Event{}, fmt.Errorf("audit item %s: change: %w", ev.ID, err)
				}
			}
			ev.Changes = append(ev.Changes, c)
		}
	default:
		return store.Event{}, fmt.Errorf("audit item %s: %s has type %T, want a list", ev.ID, schema.AttrEventChanges, v)
	}
	if ev.ID == "" || ev.TokenUUID == "" {
		return store.Event{}, errors.New("audit item without id or subject")
	}
	return ev, nil
}
