package dynamousage_test

import (
	"context"
	"errors"
	"maps"
	"os"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/llmgw/apitokens/pkg/limits"
	"github.com/llmgw/apitokens/pkg/local/dynamolocal/dltest"
	"github.com/llmgw/apitokens/pkg/store/dynamostore/dynamotest"
	"github.com/llmgw/apitokens/pkg/usage"
	"github.com/llmgw/apitokens/pkg/usage/dynamousage"
	"github.com/llmgw/apitokens/pkg/usage/usagetest"
)

func TestMain(m *testing.M) { os.Exit(dltest.Main(m)) }

func TestConformance(t *testing.T) {
	client := dltest.Client(t)
	usagetest.Run(t, func(t *testing.T) usagetest.Harness {
		c := dynamotest.NewCounting(client)
		// The test bound, as for the token store's suite: fifty concurrent
		// conditional writes on one item can keep DynamoDB Local on a busy
		// machine waiting for seconds.
		s := dynamousage.NewWithTimeout(c, dltest.UsageTable(t, client), 0, dynamotest.RequestTimeout)
		return usagetest.Harness{Store: s, Calls: func() int {
			total := 0
			for _, v := range c.Counts() {
				total += v
			}
			return total
		}}
	})
}

// failing answers every request with an error, as an unreachable table
// does.
type failing struct{}

var errDown = errors.New("connection refused")

func (failing) GetItem(context.Context, *dynamodb.GetItemInput, ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	return nil, errDown
}

func (failing) UpdateItem(context.Context, *dynamodb.UpdateItemInput, ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	return nil, errDown
}

func (failing) Query(context.Context, *dynamodb.QueryInput, ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	return nil, errDown
}

func TestFailingBackend(t *testing.T) {
	usagetest.Failing(t, dynamousage.New(failing{}, "usage", 0))
}

// hanging never answers until its context ends.
type hanging struct{ failing }

func (hanging) UpdateItem(ctx context.Context, _ *dynamodb.UpdateItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

// TestRequestsAreBounded: a table that does not answer costs at most the
// bound per request, then an error.
func TestRequestsAreBounded(t *testing.T) {
	s := dynamousage.NewWithTimeout(hanging{}, "usage", 0, 50*time.Millisecond)
	start := time.Now()
	err := s.Record(context.Background(), "t", "alice", time.Now(), usage.Usage{Requests: 1})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Record on a hanging table: %v, want a deadline error", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Record took %v", d)
	}
}

// TestRequestPatterns pins what each kind of Admit costs in requests.
func TestRequestPatterns(t *testing.T) {
	client := dltest.Client(t)
	table := dltest.UsageTable(t, client)
	i64 := func(v int64) *int64 { return &v }
	budget := 1.0
	now := time.Date(2026, 3, 10, 10, 20, 30, 0, time.UTC)
	for _, tc := range []struct {
		name string
		l    limits.Limits
		want map[string]int
	}{
		{"none", limits.Limits{}, map[string]int{}},
		{"requests", limits.Limits{RequestsPerMinute: i64(5), RequestsPerHour: i64(9), RequestsPerDay: i64(99)}, map[string]int{"UpdateItem": 1}},
		{"requests and tokensPerDay", limits.Limits{RequestsPerMinute: i64(5), TokensPerDay: i64(99)}, map[string]int{"UpdateItem": 1}},
		{"tokensPerDay", limits.Limits{TokensPerDay: i64(99)}, map[string]int{"GetItem": 1}},
		{"tokensPerMonth", limits.Limits{TokensPerMonth: i64(99)}, map[string]int{"Query": 1}},
		{"tokensPerDay and budgetPerMonth", limits.Limits{TokensPerDay: i64(99), BudgetPerMonth: &budget}, map[string]int{"Query": 1}},
		{"requests and budgetPerMonth", limits.Limits{RequestsPerDay: i64(99), BudgetPerMonth: &budget}, map[string]int{"Query": 1, "UpdateItem": 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := dynamotest.NewCounting(client)
			s := dynamousage.NewWithTimeout(c, table, 0, dynamotest.RequestTimeout)
			a, err := s.Admit(context.Background(), usage.Admit{TokenUUID: "t-" + tc.name, Username: "alice", Limits: tc.l, Now: now})
			if err != nil || !a.Allowed {
				t.Fatalf("Admit = %+v, %v", a, err)
			}
			if got := c.Counts(); !maps.Equal(got, tc.want) {
				t.Errorf("requests %v, want %v", got, tc.want)
			}
		})
	}
}

// TestRefusalIsOneWrite: the refused conditional write reports which limit
// refused from the item DynamoDB returns with the failure, with no
// further read.
func TestRefusalIsOneWrite(t *testing.T) {
	client := dltest.Client(t)
	c := dynamotest.NewCounting(client)
	s := dynamousage.NewWithTimeout(c, dltest.UsageTable(t, client), 0, dynamotest.RequestTimeout)
	one := int64(1)
	a := usage.Admit{TokenUUID: "t", Username: "alice", Limits: limits.Limits{RequestsPerHour: &one}, Now: time.Now()}
	if got, err := s.Admit(context.Background(), a); err != nil || !got.Allowed {
		t.Fatalf("1st Admit = %+v, %v", got, err)
	}
	got, err := s.Admit(context.Background(), a)
	if err != nil || got.Refused != "requestsPerHour" || got.RequestsHour != 1 {
		t.Fatalf("2nd Admit = %+v, %v; want refused by requestsPerHour at 1", got, err)
	}
	if want := map[string]int{"UpdateItem": 2}; !maps.Equal(c.Counts(), want) {
		t.Errorf("requests %v, want %v", c.Counts(), want)
	}
}
