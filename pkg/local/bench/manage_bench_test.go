package bench_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/google/uuid"

	"github.com/llmgw/apitokens/pkg/local/bench"
	"github.com/llmgw/apitokens/pkg/local/dynamolocal"
	"github.com/llmgw/apitokens/pkg/secret"
	"github.com/llmgw/apitokens/pkg/store"
	"github.com/llmgw/apitokens/pkg/store/dynamostore/dynamotest"
)

// seedTokens is the table size figure 6 is measured at.
const seedTokens = 10_000

// BenchmarkManage is figure 6: the token API through the local stack's API
// Gateway path (REQUEST authorizer on an admin JWT, then the function) with
// 10,000 tokens in the table, seeded straight into DynamoDB beforehand.
//
//	op=create/conc=N  POST /api-tokens/{username} by an admin, a new user each time
//	op=list-first     GET /api-tokens/ by an admin: the first page (default limit, 100)
//	op=list-all       an admin pages through every token with limit=1000; ns/op per full listing
//	op=list-own       GET /api-tokens/ by a user holding one of the 10,000 (username-index)
//
// Windows are capped at 3 s (BENCH_WINDOW if shorter) to keep make bench
// within its budget: figure 5's 10 s windows take most of it.
func BenchmarkManage(b *testing.B) {
	w := min(window(b), 3*time.Second)
	s := startStack(b, nil)
	seed(b, s)
	ownerJWT := s.jwt(b, "bench-seed-00042", "lisa-users", "lisa-api-users")

	b.Run("op=list-first", func(b *testing.B) {
		loadOnce(b, bench.Load{Concurrency: 1, Duration: w, Request: func(int) (*http.Request, error) {
			return newRequest(http.MethodGet, s.URL+"/api-tokens/", s.admin, nil)
		}})
	})
	b.Run("op=list-own", func(b *testing.B) {
		loadOnce(b, bench.Load{Concurrency: 1, Duration: w, Request: func(int) (*http.Request, error) {
			return newRequest(http.MethodGet, s.URL+"/api-tokens/", ownerJWT, nil)
		}})
	})
	b.Run("op=list-all", func(b *testing.B) {
		progress("manage: list all %d tokens, limit=1000 pages, for %v (at least 3 listings)", seedTokens, w)
		var lat latencies
		var tokens, pages int
		end := time.Now().Add(w)
		a := measureAllocs(func() {
			for len(lat) < 3 || time.Now().Before(end) {
				t0 := time.Now()
				tokens, pages = s.listAll(b, 1000)
				lat = append(lat, time.Since(t0))
			}
		})
		if tokens < seedTokens {
			b.Fatalf("listed %d tokens, want at least %d", tokens, seedTokens)
		}
		var sum time.Duration
		for _, d := range lat {
			sum += d
		}
		b.ReportMetric(float64(sum.Nanoseconds())/float64(len(lat)), "ns/op")
		b.ReportMetric(float64(a.bytes())/float64(len(lat)), "B/op")
		b.ReportMetric(float64(a.count())/float64(len(lat)), "allocs/op")
		b.ReportMetric(float64(tokens), "tokens")
		b.ReportMetric(float64(pages), "pages")
		lat.report(b)
	})
	var next atomic.Int64
	for _, conc := range []int{1, 8} {
		b.Run(fmt.Sprintf("op=create/conc=%d", conc), func(b *testing.B) {
			loadOnce(b, bench.Load{Concurrency: conc, Duration: w, Expect: http.StatusCreated, Request: func(int) (*http.Request, error) {
				user := fmt.Sprintf("bench-new-%07d", next.Add(1))
				return newRequest(http.MethodPost, s.URL+"/api-tokens/"+user, s.admin, []byte(`{"name":"bench","expiresIn":"1d"}`))
			}})
		})
	}
}

// loadOnce runs l (after a short warm-up for read-only loads) and reports it.
func loadOnce(b *testing.B, l bench.Load) {
	b.Helper()
	progress("manage: %s, %d workers, %v window", b.Name(), l.Concurrency, l.Duration)
	ctx, cancel := context.WithTimeout(context.Background(), l.Duration+time.Minute)
	defer cancel()
	if l.Expect == 0 {
		w := l
		w.Duration = warmup(l.Duration)
		if _, err := bench.Run(ctx, w); err != nil {
			b.Fatal(err)
		}
	}
	var r bench.Result
	var err error
	a := measureAllocs(func() { r, err = bench.Run(ctx, l) })
	if err != nil {
		b.Fatal(err)
	}
	reportLoad(b, r, a)
}

// seed writes seedTokens tokens for as many users straight into the
// stack's table with BatchWriteItem (dynamostore.PutBatch, a few requests
// in flight), which takes seconds where 10,000 API calls would take
// minutes.
func seed(b *testing.B, s *stack) {
	b.Helper()
	t0 := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	client, err := dynamolocal.NewClient(ctx, s.DynamoDBEndpoint)
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now()
	toks := make([]store.Token, seedTokens)
	for i, u := range users("bench-seed", seedTokens) {
		plain, err := secret.Generate(nil)
		if err != nil {
			b.Fatal(err)
		}
		toks[i] = store.Token{
			Hash: secret.Hash(plain), UUID: uuid.NewString(), Username: u, CreatedBy: "bench-admin",
			CreatedDate: now.Unix(), Expiration: now.Add(90 * 24 * time.Hour).Unix(), Name: "seeded for figure 6",
			Groups: []string{"lisa-users", "lisa-api-users"},
		}
	}
	if err := dynamotest.New(client, s.TableName).PutBatch(ctx, toks); err != nil {
		b.Fatalf("seed %d tokens: %v", seedTokens, err)
	}
	b.Cleanup(func() {
		// DynamoDB Local keeps tables in memory until it exits.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, _ = client.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String(s.TableName)})
	})
	progress("manage: seeded %d tokens (and their guard items) in %v", seedTokens, time.Since(t0).Round(time.Millisecond))
}

// listAll pages through every token as the admin and returns how many
// tokens and pages it saw.
func (s *stack) listAll(b *testing.B, limit int) (tokens, pages int) {
	b.Helper()
	next := ""
	for {
		q := url.Values{"limit": {fmt.Sprint(limit)}}
		if next != "" {
			q.Set("nextToken", next)
		}
		req, err := newRequest(http.MethodGet, s.URL+"/api-tokens/?"+q.Encode(), s.admin, nil)
		if err != nil {
			b.Fatal(err)
		}
		resp, err := s.client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		raw, err := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			b.Fatalf("list page %d: status %d, %v: %.200s", pages+1, resp.StatusCode, err, raw)
		}
		var page struct {
			Tokens    []json.RawMessage `json:"tokens"`
			NextToken string            `json:"nextToken"`
		}
		if err := json.Unmarshal(raw, &page); err != nil {
			b.Fatal(err)
		}
		tokens += len(page.Tokens)
		pages++
		if page.NextToken == "" || pages > 2*seedTokens/limit+10 {
			return tokens, pages
		}
		next = page.NextToken
	}
}
