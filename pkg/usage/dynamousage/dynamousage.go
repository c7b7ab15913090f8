// Package dynamousage is the usage.Store on its own DynamoDB table
// (schema.Usage): one item per token and UTC day, keyed tokenUUID/day,
// holding the day's totals (requests, errors, promptTokens,
// completionTokens, tokens, costNanos) and its request counters per hour
// ("h15") and per minute ("m1504").
//
// Request costs:
//   - Admit without limits: no request at all.
//   - Admit with request limits: one conditional UpdateItem that counts the
//     request in the day, hour and minute only if every request limit (and
//     tokensPerDay) still allows one more, so counting is exact across any
//     number of instances; with tokensPerMonth or budgetPerMonth one
//     strongly consistent Query of the month's days first, and a call over
//     them is refused without being counted.
//   - Admit with token limits only: that Query, or for tokensPerDay alone
//     one strongly consistent GetItem of the day.
//   - AdmitGlobal: the request-limit write on the usage.GlobalKey item,
//     which has no username and no month and so is in neither index.
//   - Unadmit and Record: one UpdateItem each.
//   - Days: a Query of the token's days; Rows a Query of username-index, or
//     of month-index per month of the range, every page.
//
// Every request is bounded by RequestTimeout.
package dynamousage

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/llmgw/apitokens/pkg/limits"
	"github.com/llmgw/apitokens/pkg/schema"
	"github.com/llmgw/apitokens/pkg/usage"
	"github.com/llmgw/apitokens/pkg/usage/internal/span"
)

// API is the part of the DynamoDB client the store uses. *dynamodb.Client
// implements it, and so does dynamotest.Counting.
type API interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	Query(ctx context.Context, in *dynamodb.QueryInput, optFns ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
}

// DefaultRetention is how long day items are kept when New is given no
// positive retention (config's USAGE_RETENTION_DAYS default).
const DefaultRetention = 400 * 24 * time.Hour

// Store is a usage.Store on one usage table. It is safe for concurrent
// use; it holds no mutable state.
type Store struct {
	api       API // bounded: every request has a deadline
	table     string
	retention time.Duration
}

var _ usage.Store = (*Store)(nil)

// New returns the store on tableName. Each day item expires (the table's
// TTL, expiresAt) retention after its day ends; DefaultRetention if
// retention is not positive.
func New(api API, tableName string, retention time.Duration) *Store {
	return NewWithTimeout(api, tableName, retention, RequestTimeout)
}

// NewWithTimeout is New with another bound per request (tests).
func NewWithTimeout(api API, tableName string, retention, d time.Duration) *Store {
	if retention <= 0 {
		retention = DefaultRetention
	}
	return &Store{api: bounded{API: api, d: d}, table: tableName, retention: retention}
}

func s(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
func n(v int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(v, 10)}
}

func (st *Store) key(token, day string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{schema.AttrUsageKey: s(token), schema.AttrUsageDay: s(day)}
}

// num reads a number attribute; missing (or not a number) is 0.
func num(it map[string]types.AttributeValue, name string) int64 {
	v, ok := it[name].(*types.AttributeValueMemberN)
	if !ok {
		return 0
	}
	i, _ := strconv.ParseInt(v.Value, 10, 64)
	return i
}

func str(it map[string]types.AttributeValue, name string) string {
	v, _ := it[name].(*types.AttributeValueMemberS)
	if v == nil {
		return ""
	}
	return v.Value
}

// dayCounts fills the counts of one day item (nil: none) into adm.
func dayCounts(adm usage.Admission, w limits.Windows, it map[string]types.AttributeValue) usage.Admission {
	adm.RequestsMinute = num(it, span.MinuteAttr(w.Minute))
	adm.RequestsHour = num(it, span.HourAttr(w.Hour))
	adm.RequestsDay = num(it, schema.AttrUsageRequests)
	adm.TokensDay = num(it, schema.AttrUsageTokens)
	return adm
}

// Admit implements usage.Store. The monthly limits are checked first, by
// a read (refused without counting); then the request limits and
// tokensPerDay, in one conditional write when there are request limits.
// Which limit refused is named in the order tokensPerMonth,
// budgetPerMonth, then requestsPerMinute, requestsPerHour, requestsPerDay,
// tokensPerDay.
func (st *Store) Admit(ctx context.Context, a usage.Admit) (usage.Admission, error) {
	l := a.Limits
	if l.IsZero() {
		return usage.Admission{Allowed: true}, nil
	}
	w := limits.WindowsAt(a.Now)
	var (
		adm   usage.Admission
		today map[string]types.AttributeValue
	)
	if l.HasMonthly() {
		first, last := span.MonthDays(w)
		items, err := st.query(ctx, &dynamodb.QueryInput{
			KeyConditionExpression:    aws.String("#k = :k AND #d BETWEEN :f AND :t"),
			ExpressionAttributeNames:  map[string]string{"#k": schema.AttrUsageKey, "#d": schema.AttrUsageDay},
			ExpressionAttributeValues: map[string]types.AttributeValue{":k": s(a.TokenUUID), ":f": s(first), ":t": s(last)},
			ConsistentRead:            aws.Bool(true),
		})
		if err != nil {
			return usage.Admission{}, fmt.Errorf("dynamousage: admit: month of %s: %w", a.TokenUUID, err)
		}
		for _, it := range items {
			adm.TokensMonth += num(it, schema.AttrUsageTokens)
			adm.CostMonthNanos += num(it, schema.AttrUsageCost)
			if str(it, schema.AttrUsageDay) == w.Day {
				today = it
			}
		}
		refused := ""
		switch {
		case l.TokensPerMonth != nil && adm.TokensMonth >= *l.TokensPerMonth:
			refused = "tokensPerMonth"
		case l.BudgetPerMonth != nil && adm.CostMonthNanos >= span.BudgetNanos(*l.BudgetPerMonth):
			refused = "budgetPerMonth"
		}
		if refused != "" {
			adm = dayCounts(adm, w, today)
			adm.Refused = refused
			return adm, nil
		}
	}
	if l.HasRequests() {
		return st.count(ctx, a.TokenUUID, a.Username, w, l, adm)
	}
	if l.TokensPerDay != nil && !l.HasMonthly() {
		out, err := st.api.GetItem(ctx, &dynamodb.GetItemInput{
			TableName: aws.String(st.table), Key: st.key(a.TokenUUID, w.Day), ConsistentRead: aws.Bool(true),
		})
		if err != nil {
			return usage.Admission{}, fmt.Errorf("dynamousage: admit: day of %s: %w", a.TokenUUID, err)
		}
		today = out.Item
	}
	adm = dayCounts(adm, w, today)
	if l.TokensPerDay != nil && adm.TokensDay >= *l.TokensPerDay {
		adm.Refused = "tokensPerDay"
		return adm, nil
	}
	adm.Allowed = true
	return adm, nil
}

// AdmitGlobal implements usage.Store.
func (st *Store) AdmitGlobal(ctx context.Context, now time.Time, g limits.Global) (usage.Admission, error) {
	l := g.AsLimits()
	if l.IsZero() {
		return usage.Admission{Allowed: true}, nil
	}
	return st.count(ctx, usage.GlobalKey, "", limits.WindowsAt(now), l, usage.Admission{})
}

// expr collects the names and values of one expression.
type expr struct {
	names  map[string]string
	values map[string]types.AttributeValue
}

func newExpr() *expr {
	return &expr{names: map[string]string{}, values: map[string]types.AttributeValue{}}
}

// name returns the placeholder of attribute attr, registering it.
func (e *expr) name(ph, attr string) string { e.names[ph] = attr; return ph }

// value returns the placeholder of v, registering it.
func (e *expr) value(ph string, v types.AttributeValue) string { e.values[ph] = v; return ph }

// count is the conditional write of a request: ADD 1 to the day's
// requests and the hour's and minute's counters, REMOVE the minute
// counters span.PrunedMinutes names (never the current one: the paths do
// not overlap), SET expiresAt and, on a token's item, month and username;
// on the condition that each request limit and tokensPerDay is below its
// limit (a missing counter is 0). The global item (username "") gets no
// month, so month-index never holds it.
func (st *Store) count(ctx context.Context, token, username string, w limits.Windows, l limits.Limits, adm usage.Admission) (usage.Admission, error) {
	e := newExpr()
	one := e.value(":one", n(1))
	rq := e.name("#rq", schema.AttrUsageRequests)
	h := e.name("#h", span.HourAttr(w.Hour))
	m := e.name("#m", span.MinuteAttr(w.Minute))
	update := "ADD " + rq + " " + one + ", " + h + " " + one + ", " + m + " " + one
	update += " SET " + e.name("#ex", schema.AttrUsageExpiresAt) + " = " + e.value(":ex", n(span.ExpiresAt(w, st.retention)))
	if token != usage.GlobalKey {
		update += ", " + e.name("#mo", schema.AttrUsageMonth) + " = " + e.value(":mo", s(w.Month))
		if username != "" {
			update += ", " + e.name("#un", schema.AttrUsageUsername) + " = " + e.value(":un", s(username))
		}
	}
	if old := span.PrunedMinutes(w); len(old) > 0 {
		var rm []string
		for i, attr := range old {
			rm = append(rm, e.name("#p"+strconv.Itoa(i), attr))
		}
		update += " REMOVE " + strings.Join(rm, ", ")
	}
	var conds []string
	below := func(ph string, limit *int64, vph string) {
		if limit != nil {
			v := e.value(vph, n(*limit))
			conds = append(conds, "(attribute_not_exists("+ph+") OR "+ph+" < "+v+")")
		}
	}
	below(m, l.RequestsPerMinute, ":rpm")
	below(h, l.RequestsPerHour, ":rph")
	below(rq, l.RequestsPerDay, ":rpd")
	if l.TokensPerDay != nil {
		below(e.name("#tk", schema.AttrUsageTokens), l.TokensPerDay, ":tpd")
	}
	in := &dynamodb.UpdateItemInput{
		TableName:                           aws.String(st.table),
		Key:                                 st.key(token, w.Day),
		UpdateExpression:                    aws.String(update),
		ConditionExpression:                 aws.String(strings.Join(conds, " AND ")),
		ExpressionAttributeNames:            e.names,
		ExpressionAttributeValues:           e.values,
		ReturnValues:                        types.ReturnValueAllNew,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	}
	out, err := st.api.UpdateItem(ctx, in)
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		old := ccf.Item
		if old == nil { // a DynamoDB that does not return the item
			got, gerr := st.api.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(st.table), Key: st.key(token, w.Day), ConsistentRead: aws.Bool(true)})
			if gerr != nil {
				return usage.Admission{}, fmt.Errorf("dynamousage: admit %s: read after refusal: %w", token, gerr)
			}
			old = got.Item
		}
		adm = dayCounts(adm, w, old)
		if adm.Refused = usage.DayLimitReached(l, adm); adm.Refused != "" {
			return adm, nil
		}
		// The item changed between the failed check and the read (an
		// Unadmit, a new minute): say so rather than guess.
		return usage.Admission{}, fmt.Errorf("dynamousage: admit %s: condition failed with no limit reached", token)
	}
	if err != nil {
		return usage.Admission{}, fmt.Errorf("dynamousage: admit %s: %w", token, err)
	}
	adm = dayCounts(adm, w, out.Attributes)
	adm.Allowed, adm.Counted = true, true
	return adm, nil
}

// Unadmit implements usage.Store: ADD -1 to the day's requests and to the
// hour's and minute's counters of now, on the condition that all three
// are above 0 (a condition that fails is no error).
func (st *Store) Unadmit(ctx context.Context, tokenUUID string, now time.Time) error {
	w := limits.WindowsAt(now)
	_, err := st.api.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:           aws.String(st.table),
		Key:                 st.key(tokenUUID, w.Day),
		UpdateExpression:    aws.String("ADD #rq :neg, #h :neg, #m :neg"),
		ConditionExpression: aws.String("#rq > :zero AND #h > :zero AND #m > :zero"),
		ExpressionAttributeNames: map[string]string{
			"#rq": schema.AttrUsageRequests, "#h": span.HourAttr(w.Hour), "#m": span.MinuteAttr(w.Minute),
		},
		ExpressionAttributeValues: map[string]types.AttributeValue{":neg": n(-1), ":zero": n(0)},
	})
	var ccf *types.ConditionalCheckFailedException
	if err != nil && !errors.As(err, &ccf) {
		return fmt.Errorf("dynamousage: unadmit %s: %w", tokenUUID, err)
	}
	return nil
}

// Record implements usage.Store: one UpdateItem that ADDs u to the day's
// totals (tokens = prompt + completion) and SETs month, expiresAt and,
// when not "", username.
func (st *Store) Record(ctx context.Context, tokenUUID, username string, now time.Time, u usage.Usage) error {
	w := limits.WindowsAt(now)
	e := newExpr()
	update := "ADD " + strings.Join([]string{
		e.name("#rq", schema.AttrUsageRequests) + " " + e.value(":rq", n(u.Requests)),
		e.name("#er", schema.AttrUsageErrors) + " " + e.value(":er", n(u.Errors)),
		e.name("#pt", schema.AttrUsagePrompt) + " " + e.value(":pt", n(u.PromptTokens)),
		e.name("#ct", schema.AttrUsageOutput) + " " + e.value(":ct", n(u.CompletionTokens)),
		e.name("#tk", schema.AttrUsageTokens) + " " + e.value(":tk", n(u.PromptTokens+u.CompletionTokens)),
		e.name("#co", schema.AttrUsageCost) + " " + e.value(":co", n(u.CostNanos)),
	}, ", ")
	update += " SET " + e.name("#mo", schema.AttrUsageMonth) + " = " + e.value(":mo", s(w.Month)) +
		", " + e.name("#ex", schema.AttrUsageExpiresAt) + " = " + e.value(":ex", n(span.ExpiresAt(w, st.retention)))
	if username != "" {
		update += ", " + e.name("#un", schema.AttrUsageUsername) + " = " + e.value(":un", s(username))
	}
	_, err := st.api.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(st.table),
		Key:                       st.key(tokenUUID, w.Day),
		UpdateExpression:          aws.String(update),
		ExpressionAttributeNames:  e.names,
		ExpressionAttributeValues: e.values,
	})
	if err != nil {
		return fmt.Errorf("dynamousage: record %s: %w", tokenUUID, err)
	}
	return nil
}

// Days implements usage.Store: one Query of the token's items, day
// ascending, every page.
func (st *Store) Days(ctx context.Context, tokenUUID, from, to string) ([]usage.Row, error) {
	if _, _, err := span.Range(from, to); err != nil {
		return nil, err
	}
	items, err := st.query(ctx, &dynamodb.QueryInput{
		KeyConditionExpression:    aws.String("#k = :k AND #d BETWEEN :f AND :t"),
		ExpressionAttributeNames:  map[string]string{"#k": schema.AttrUsageKey, "#d": schema.AttrUsageDay},
		ExpressionAttributeValues: map[string]types.AttributeValue{":k": s(tokenUUID), ":f": s(from), ":t": s(to)},
		ConsistentRead:            aws.Bool(true),
	})
	if err != nil {
		return nil, fmt.Errorf("dynamousage: days of %s: %w", tokenUUID, err)
	}
	return rows(items), nil
}

// Rows implements usage.Store: with username a Query of username-index,
// else one of month-index per month of the range; every page. The global
// item is in neither index, and is skipped should it ever be.
func (st *Store) Rows(ctx context.Context, username, from, to string) ([]usage.Row, error) {
	first, last, err := span.Range(from, to)
	if err != nil {
		return nil, err
	}
	var items []map[string]types.AttributeValue
	if username != "" {
		items, err = st.query(ctx, &dynamodb.QueryInput{
			IndexName:                 aws.String(schema.IndexUsageUsername),
			KeyConditionExpression:    aws.String("#u = :u AND #d BETWEEN :f AND :t"),
			ExpressionAttributeNames:  map[string]string{"#u": schema.AttrUsageUsername, "#d": schema.AttrUsageDay},
			ExpressionAttributeValues: map[string]types.AttributeValue{":u": s(username), ":f": s(from), ":t": s(to)},
		})
		if err != nil {
			return nil, fmt.Errorf("dynamousage: rows of %s: %w", username, err)
		}
	} else {
		for _, m := range span.Months(first, last) {
			got, err := st.query(ctx, &dynamodb.QueryInput{
				IndexName:                 aws.String(schema.IndexUsageMonth),
				KeyConditionExpression:    aws.String("#m = :m AND #d BETWEEN :f AND :t"),
				ExpressionAttributeNames:  map[string]string{"#m": schema.AttrUsageMonth, "#d": schema.AttrUsageDay},
				ExpressionAttributeValues: map[string]types.AttributeValue{":m": s(m.Month), ":f": s(m.From), ":t": s(m.To)},
			})
			if err != nil {
				return nil, fmt.Errorf("dynamousage: rows of %s: %w", m.Month, err)
			}
			items = append(items, got...)
		}
	}
	out := rows(items)
	kept := out[:0]
	for _, r := range out {
		if r.TokenUUID != usage.GlobalKey {
			kept = append(kept, r)
		}
	}
	return kept, nil
}

// query runs in on the table, following every page.
func (st *Store) query(ctx context.Context, in *dynamodb.QueryInput) ([]map[string]types.AttributeValue, error) {
	in.TableName = aws.String(st.table)
	var items []map[string]types.AttributeValue
	for {
		out, err := st.api.Query(ctx, in)
		if err != nil {
			return nil, err
		}
		items = append(items, out.Items...)
		if len(out.LastEvaluatedKey) == 0 {
			return items, nil
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
}

func rows(items []map[string]types.AttributeValue) []usage.Row {
	out := make([]usage.Row, 0, len(items))
	for _, it := range items {
		out = append(out, usage.Row{
			TokenUUID:        str(it, schema.AttrUsageKey),
			Username:         str(it, schema.AttrUsageUsername),
			Day:              str(it, schema.AttrUsageDay),
			Requests:         num(it, schema.AttrUsageRequests),
			Errors:           num(it, schema.AttrUsageErrors),
			PromptTokens:     num(it, schema.AttrUsagePrompt),
			CompletionTokens: num(it, schema.AttrUsageOutput),
			CostNanos:        num(it, schema.AttrUsageCost),
		})
	}
	return out
}
