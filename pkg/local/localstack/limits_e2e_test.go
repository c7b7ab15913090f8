package localstack_test

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/llmgw/apitokens/pkg/config"
	"github.com/llmgw/apitokens/pkg/local/devupstream"
)

// TestLimitsOverHTTP: limits enforced on /v2/serve/* through the local
// stack over real HTTP against DynamoDB Local, in both serve modes: 50
// concurrent calls against requestsPerMinute 10 give exactly 10 answers
// and 40 x 429 with OpenAI's headers; the OpenAI Go SDK sees a 429 as a
// rate-limit error; streamed and non-streamed calls are recorded with the
// upstream's token counts, without the caller seeing a usage chunk it did
// not ask for; a daily token limit refuses once recorded usage reaches it.
func TestLimitsOverHTTP(t *testing.T) {
	for _, mode := range []string{config.ServeModeLambda, config.ServeModeContainer} {
		t.Run(mode, func(t *testing.T) {
			s := startStack(t, map[string]string{config.EnvServeMode: mode, config.EnvTokenCacheSeconds: "10",
				config.EnvModelPrices: `{"local-echo":{"input":1000,"output":2000}}`})
			c := newClient(t, s)
			admin := c.jwt("admin", "lisa-admins", "lisa-users")
			mk := func(lim string) (string, string) {
				t.Helper()
				u := uniqueName(t)
				a := c.want(c.do("POST", "/api-tokens/"+u, `{"name":"limited","groups":["lisa-users"],"limits":`+lim+`}`, bearer(admin)...), 201)
				return a.str("token"), a.str("tokenUUID")
			}
			chatBody := `{"model":"` + devupstream.ModelEcho + `","messages":[{"role":"user","content":"count me"}]}`

			// Exactly as many as the limit, concurrently.
			tok, _ := mk(`{"requestsPerMinute":10}`)
			// Far from a minute's end, so all 50 fall into one window.
			if sec := time.Now().UTC().Second(); sec > 45 {
				time.Sleep(time.Duration(61-sec) * time.Second)
			}
			var mu sync.Mutex
			statuses := map[int]int{}
			var sample http.Header
			var wg sync.WaitGroup
			for range 50 {
				wg.Go(func() {
					a := c.do("POST", "/v2/serve/chat/completions", chatBody, bearer(tok)...)
					mu.Lock()
					defer mu.Unlock()
					statuses[a.status]++
					if a.status == 429 && sample == nil {
						sample = a.header
						if code := fmt.Sprint(a.body["error"].(map[string]any)["code"]); code != "rate_limit_exceeded" {
							t.Errorf("429 body: %s", a.raw)
						}
					}
				})
			}
			wg.Wait()
			if statuses[200] != 10 || statuses[429] != 40 {
				t.Fatalf("50 concurrent calls against 10 a minute: %v, want 10 x 200 and 40 x 429", statuses)
			}
			if sample.Get("X-Ratelimit-Limit-Requests") != "10" || sample.Get("X-Ratelimit-Remaining-Requests") != "0" || sample.Get("X-Ratelimit-Reset-Requests") == "" {
				t.Errorf("429 headers: %v", sample)
			}
			if ra, err := strconv.Atoi(sample.Get("Retry-After")); err != nil || ra < 1 || ra > 60 {
				t.Errorf("Retry-After = %q", sample.Get("Retry-After"))
			}

			// The OpenAI SDK: a rate-limit error with the code.
			// The stack client's HTTP client, whose idle connections the test closes before the stack.
			sdkc := openai.NewClient(option.WithBaseURL(s.URL+"/v2/serve/"), option.WithAPIKey(tok), option.WithMaxRetries(0), option.WithHTTPClient(c.http))
			_, err := sdkc.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{
				Model: devupstream.ModelEcho, Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("again")},
			})
			if code := apiErrorCode(t, err, 429); code != "rate_limit_exceeded" {
				t.Errorf("SDK error code %q", code)
			}

			// A rotation goes on counting where the old token was: it cannot
			// start a limit afresh.
			if sec := time.Now().UTC().Second(); sec > 50 {
				time.Sleep(time.Duration(61-sec) * time.Second)
			}
			rtok, rid := mk(`{"requestsPerMinute":2}`)
			for range 2 {
				c.want(c.do("POST", "/v2/serve/chat/completions", chatBody, bearer(rtok)...), 200)
			}
			rot := c.want(c.do("POST", "/api-tokens/"+rid+"/rotate", `{"gracePeriod":"0s"}`, bearer(admin)...), 201)
			if a := c.do("POST", "/v2/serve/chat/completions", chatBody, bearer(rot.str("token"))...); a.status != 429 {
				t.Fatalf("the rotated token's first call: %d %s, want 429 (the old token used the minute's 2)", a.status, a.raw)
			}
			if tot := waitUsage(t, c, admin, rot.str("tokenUUID"), 2); int64(tot["requests"].(float64)) != 2 {
				t.Errorf("the new token's usage does not carry the old one's: %v", tot)
			}

			// Usage of a non-streamed and a streamed call.
			tok2, id2 := mk(`{"tokensPerDay":100000}`)
			plain := c.want(c.do("POST", "/v2/serve/chat/completions", chatBody, bearer(tok2)...), 200)
			if plain.header.Get("X-Ratelimit-Limit-Tokens") != "100000" {
				t.Errorf("token limit headers: %v", plain.header)
			}
			usageOf := plain.body["usage"].(map[string]any)
			pt, ct := int64(usageOf["prompt_tokens"].(float64)), int64(usageOf["completion_tokens"].(float64))
			stream := c.want(c.do("POST", "/v2/serve/chat/completions", `{"model":"`+devupstream.ModelEcho+`","stream":true,"messages":[{"role":"user","content":"count me"}]}`, bearer(tok2)...), 200)
			if strings.Contains(stream.raw, `"usage"`) || !strings.Contains(stream.raw, "data: [DONE]") {
				t.Errorf("the caller received a usage chunk it did not ask for, or no end: %s", stream.raw)
			}
			// A call's usage is written beside its answer (container mode)
			// or just before it ends (Lambda mode): wait for both.
			tot := waitUsage(t, c, admin, id2, 2)
			if int64(tot["totalTokens"].(float64)) != 2*(pt+ct) || int64(tot["promptTokens"].(float64)) != 2*pt || int64(tot["requests"].(float64)) != 2 {
				t.Errorf("recorded usage %v, want 2 requests and %d tokens (the same call twice, once streamed)", tot, 2*(pt+ct))
			}
			if cost, _ := tot["cost"].(float64); cost <= 0 {
				t.Errorf("no cost recorded with MODEL_PRICES: %v", tot)
			}

			// A daily token limit refuses once recorded usage reaches it.
			tok3, id3 := mk(`{"tokensPerDay":3}`)
			c.want(c.do("POST", "/v2/serve/chat/completions", chatBody, bearer(tok3)...), 200) // 4 tokens, recorded after
			waitUsage(t, c, admin, id3, 1)
			over := c.do("POST", "/v2/serve/chat/completions", chatBody, bearer(tok3)...)
			if over.status != 429 || fmt.Sprint(over.body["error"].(map[string]any)["code"]) != "insufficient_quota" || over.header.Get("Retry-After") == "" {
				t.Fatalf("over the daily token limit: %d %v %s", over.status, over.header, over.raw)
			}
		})
	}
}

// waitUsage polls a token's usage until it shows requests calls (at most
// 10 s) and returns its totals.
func waitUsage(t *testing.T, c *client, admin, id string, requests int64) map[string]any {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		u := c.want(c.do("GET", "/api-tokens/"+id+"/usage", "", bearer(admin)...), 200)
		tot := u.body["totals"].(map[string]any)
		if int64(tot["requests"].(float64)) >= requests || time.Now().After(deadline) {
			return tot
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestLimitsOutliveAToken: a user who deletes their token and creates a
// new one goes on counting where the old one was, so a limit (here the
// deployment's default, 2 calls a minute) cannot be started afresh that
// way; a system token of the same user is counted apart.
func TestLimitsOutliveAToken(t *testing.T) {
	s := startStack(t, map[string]string{config.EnvTokenCacheSeconds: "10", config.EnvDefaultTokenLimits: `{"requestsPerMinute":2}`})
	c := newClient(t, s)
	admin := c.jwt("admin", "lisa-admins", "lisa-users")
	user := uniqueName(t)
	userJWT := c.jwt(user, "lisa-users", "lisa-api-users")
	chatBody := `{"model":"` + devupstream.ModelEcho + `","messages":[{"role":"user","content":"count me"}]}`
	if sec := time.Now().UTC().Second(); sec > 45 {
		time.Sleep(time.Duration(61-sec) * time.Second)
	}

	first := c.want(c.do("POST", "/api-tokens/", `{"name":"first"}`, bearer(userJWT)...), 201)
	for range 2 {
		c.want(c.do("POST", "/v2/serve/chat/completions", chatBody, bearer(first.str("token"))...), 200)
	}
	c.want(c.do("POST", "/v2/serve/chat/completions", chatBody, bearer(first.str("token"))...), 429)
	c.want(c.do("DELETE", "/api-tokens/"+first.str("tokenUUID"), "", bearer(userJWT)...), 200)

	second := c.want(c.do("POST", "/api-tokens/", `{"name":"second"}`, bearer(userJWT)...), 201)
	if second.str("usageKey") == "" || second.str("usageKey") != first.str("usageKey") {
		t.Fatalf("usage keys %q then %q, want one key for the user", first.str("usageKey"), second.str("usageKey"))
	}
	a := c.do("POST", "/v2/serve/chat/completions", chatBody, bearer(second.str("token"))...)
	if a.status != 429 || a.header.Get("X-Ratelimit-Remaining-Requests") != "0" {
		t.Fatalf("the new token's first call: %d %s, want 429 (the deleted token used the minute's 2)", a.status, a.raw)
	}
	if tot := waitUsage(t, c, userJWT, second.str("tokenUUID"), 2); int64(tot["requests"].(float64)) != 2 {
		t.Errorf("the new token's usage does not carry the deleted one's: %v", tot)
	}
	// The admin report names the user's key; the token list carries it.
	report := c.want(c.do("GET", "/api-token-usage?username="+user, "", bearer(admin)...), 200)
	if tks, _ := report.body["tokens"].([]any); len(tks) != 1 || tks[0].(map[string]any)["tokenUUID"] != second.str("usageKey") {
		t.Errorf("usage report: %s", report.raw)
	}

	sys := c.want(c.do("POST", "/api-tokens/"+user, `{"name":"ci","groups":["lisa-users"],"isSystemToken":true}`, bearer(admin)...), 201)
	if sys.str("usageKey") != "" {
		t.Errorf("a system token's usage key %q, want none but its own id", sys.str("usageKey"))
	}
	c.want(c.do("POST", "/v2/serve/chat/completions", chatBody, bearer(sys.str("token"))...), 200)
}
