package dynamostore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/llmgw/apitokens/pkg/schema"
	"github.com/llmgw/apitokens/pkg/store"
	"github.com/llmgw/apitokens/pkg/store/dynamostore/internal/item"
	"github.com/llmgw/apitokens/pkg/store/internal/change"
	"github.com/llmgw/apitokens/pkg/store/internal/cursorseal"
)

// eventCursor is the opened form of an Events cursor: the key of the last
// event returned, as ExclusiveStartKey of the partition it was read from
// (subject and eventKey, plus the index's partition key), sealed like List
// cursors (cursorseal, the table's cursor key) and bound to the query
// (change.Binding). Month is the month-index partition for queries
// without a key.
type eventCursor struct {
	Month string            `json:"m,omitempty"`
	Key   map[string]string `json:"k"`
}

// eventPlan is how a query reads: the table or an index, its partition key
// attribute, and the partitions in order (one, or months newest first).
type eventPlan struct {
	index  string // "" = the table itself (partition key: subject)
	pk     string
	parts  []string
	months bool
	oldest string // the last month to read (month-index)
}

// Events implements store.Store. The key of the query picks the read:
// TokenUUID a Query of the audit table itself, Username of username-index,
// Actor of actor-index; with none of them month-index, one partition per
// month from To (or now) back to From (or now minus the retention; older
// events have expired), newest month first. Every Query runs newest first
// (ScanIndexForward=false) with eventKey BETWEEN the bounds, the other
// fields as a FilterExpression, and Events reads on until it has Limit
// events and has seen one more, so that only the last page is short and
// has no cursor. Month partitions are read from the index, which is
// eventually consistent in DynamoDB.
func (s *Store) Events(ctx context.Context, q store.EventQuery) (store.EventPage, error) {
	if err := change.Query(q); err != nil {
		return store.EventPage{}, fmt.Errorf("dynamostore: events: %w", err)
	}
	if s.audit == "" {
		return store.EventPage{}, errors.New("dynamostore: events: no audit table configured (WithAudit)")
	}
	listing := cursorseal.Listing(change.EventsListing, change.Binding(q))
	plan := s.eventPlan(q, time.Now())
	var c eventCursor
	if q.Cursor != "" {
		var err error
		if c, err = s.openEventCursor(ctx, q.Cursor, listing, plan, q); err != nil {
			return store.EventPage{}, fmt.Errorf("dynamostore: events: %w", err)
		}
		if plan.months {
			plan.parts = monthsBetween(c.Month, plan.oldest)
		}
	}
	var esk map[string]types.AttributeValue
	if c.Key != nil {
		esk = map[string]types.AttributeValue{}
		for k, v := range c.Key {
			esk[k] = item.S(v)
		}
	}
	out := []store.Event{}
	for _, part := range plan.parts {
		for {
			need := q.Limit + 1 - len(out)
			items, lek, err := s.eventsRequest(ctx, q, plan, part, esk, need)
			if err != nil {
				return store.EventPage{}, fmt.Errorf("dynamostore: events: %w", err)
			}
			for _, it := range items {
				ev, err := item.DecodeEvent(it)
				if err != nil {
					return store.EventPage{}, fmt.Errorf("dynamostore: events: %w", err)
				}
				if len(out) == q.Limit {
					cur, err := s.sealEventCursor(ctx, out[len(out)-1], plan, listing)
					if err != nil {
						return store.EventPage{}, fmt.Errorf("dynamostore: events: %w", err)
					}
					return store.EventPage{Events: out, Cursor: cur}, nil
				}
				out = append(out, ev)
			}
			if len(lek) == 0 {
				break
			}
			esk = lek
		}
		esk = nil
	}
	return store.EventPage{Events: out}, nil
}

// eventPlan picks the read for q at now (see Events).
func (s *Store) eventPlan(q store.EventQuery, now time.Time) eventPlan {
	switch {
	case q.TokenUUID != "":
		return eventPlan{pk: schema.AttrEventSubject, parts: []string{q.TokenUUID}}
	case q.Username != "":
		return eventPlan{index: schema.IndexEventUsername, pk: schema.AttrEventUsername, parts: []string{q.Username}}
	case q.Actor != "":
		return eventPlan{index: schema.IndexEventActor, pk: schema.AttrEventActor, parts: []string{q.Actor}}
	}
	// From To (or now, with a day of slack: clocks differ) back at most
	// the retention and a day (TTL deletes lazily): no older event can
	// exist, so the months read stay about a year's worth whatever the
	// bounds asked for.
	hi := now.Add(24 * time.Hour).UnixMilli()
	if q.To > 0 {
		hi = q.To
	}
	lo := hi - (s.retention + 48*time.Hour).Milliseconds()
	if q.From > lo {
		lo = q.From
	}
	p := eventPlan{index: schema.IndexEventMonth, pk: schema.AttrEventMonth, months: true, oldest: item.Month(lo)}
	if lo <= hi {
		p.parts = monthsBetween(item.Month(hi), item.Month(lo))
	}
	return p
}

// monthsBetween is every "YYYY-MM" from newest back to oldest, inclusive.
func monthsBetween(newest, oldest string) []string {
	n, err1 := time.Parse("2006-01", newest)
	o, err2 := time.Parse("2006-01", oldest)
	if err1 != nil || err2 != nil {
		return nil
	}
	var out []string
	for m := n; !m.Before(o); m = m.AddDate(0, -1, 0) {
		out = append(out, m.Format("2006-01"))
	}
	return out
}

// eventsRequest is one Query of partition part, newest first, for about
// need more events.
func (s *Store) eventsRequest(ctx context.Context, q store.EventQuery, plan eventPlan, part string, esk map[string]types.AttributeValue, need int) ([]map[string]types.AttributeValue, map[string]types.AttributeValue, error) {
	to := q.To
	if to == 0 {
		to = 9_999_999_999_999
	}
	names := map[string]string{"#pk": plan.pk, "#ek": schema.AttrEventKey}
	values := map[string]types.AttributeValue{
		":pk": item.S(part),
		// '#' < '$': the bounds hold every id at From and at To.
		":lo": item.S(fmt.Sprintf("%013d#", q.From)),
		":hi": item.S(fmt.Sprintf("%013d$", to)),
	}
	var filters []string
	for _, f := range []struct{ attr, v string }{
		{schema.AttrEventSubject, q.TokenUUID},
		{schema.AttrEventUsername, q.Username},
		{schema.AttrEventActor, q.Actor},
	} {
		if f.v == "" || f.attr == plan.pk {
			continue
		}
		ph := fmt.Sprintf("#x%d", len(filters))
		names[ph] = f.attr
		values[":"+ph[1:]] = item.S(f.v)
		filters = append(filters, ph+" = :"+ph[1:])
	}
	limit := need
	if len(filters) > 0 {
		limit = min(4*need, change.MaxEventLimit) // some of what is read is filtered out
	}
	in := &dynamodb.QueryInput{
		TableName:                 aws.String(s.audit),
		KeyConditionExpression:    aws.String("#pk = :pk AND #ek BETWEEN :lo AND :hi"),
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: values,
		ScanIndexForward:          aws.Bool(false),
		ExclusiveStartKey:         esk,
		Limit:                     aws.Int32(int32(limit)),
	}
	if plan.index != "" {
		in.IndexName = aws.String(plan.index)
	} else {
		in.ConsistentRead = aws.Bool(true)
	}
	if len(filters) > 0 {
		in.FilterExpression = aws.String(strings.Join(filters, " AND "))
	}
	out, err := s.api.Query(ctx, in)
	if err != nil {
		return nil, nil, err
	}
	return out.Items, out.LastEvaluatedKey, nil
}

// eventKeyOf is ExclusiveStartKey of ev in plan's table or index.
func eventKeyOf(ev store.Event, plan eventPlan) (map[string]string, string) {
	k := map[string]string{schema.AttrEventSubject: ev.TokenUUID, schema.AttrEventKey: item.EventKey(ev)}
	month := ""
	switch plan.pk {
	case schema.AttrEventUsername:
		k[plan.pk] = ev.Username
	case schema.AttrEventActor:
		k[plan.pk] = ev.Actor
	case schema.AttrEventMonth:
		month = item.Month(ev.Time)
		k[plan.pk] = month
	}
	return k, month
}

func (s *Store) sealEventCursor(ctx context.Context, last store.Event, plan eventPlan, listing []byte) (string, error) {
	sealer, err := s.cursorSealer(ctx)
	if err != nil {
		return "", err
	}
	k, month := eventKeyOf(last, plan)
	b, err := json.Marshal(eventCursor{Month: month, Key: k})
	if err != nil {
		return "", err
	}
	return sealer.Seal(b, listing), nil
}

// openEventCursor accepts only a cursor this table's key sealed for this
// query, holding exactly the key attributes of plan's partition (the one
// queried, or a month in range). Anything else is store.ErrBadCursor.
func (s *Store) openEventCursor(ctx context.Context, str string, listing []byte, plan eventPlan, q store.EventQuery) (eventCursor, error) {
	sealed, err := cursorseal.Parse(str, maxCursorLen)
	if err != nil {
		return eventCursor{}, fmt.Errorf("%w: %v", store.ErrBadCursor, err)
	}
	sealer, err := s.cursorSealer(ctx)
	if err != nil {
		return eventCursor{}, err
	}
	raw, err := sealer.Open(sealed, listing)
	if err != nil {
		return eventCursor{}, fmt.Errorf("%w: %v", store.ErrBadCursor, err)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var c eventCursor
	if err := dec.Decode(&c); err != nil || dec.More() {
		return eventCursor{}, fmt.Errorf("%w: not an events cursor", store.ErrBadCursor)
	}
	want := 2
	if plan.index != "" {
		want = 3
	}
	bad := len(c.Key) != want || c.Key[schema.AttrEventSubject] == "" || c.Key[schema.AttrEventKey] == ""
	switch {
	case plan.months:
		_, perr := time.Parse("2006-01", c.Month)
		bad = bad || perr != nil || c.Key[plan.pk] != c.Month
	case plan.index != "":
		bad = bad || c.Month != "" || c.Key[plan.pk] != plan.parts[0]
	default:
		bad = bad || c.Month != "" || c.Key[plan.pk] != q.TokenUUID
	}
	if bad {
		return eventCursor{}, fmt.Errorf("%w: not a position of this query", store.ErrBadCursor)
	}
	return c, nil
}
