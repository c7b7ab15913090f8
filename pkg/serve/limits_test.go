package serve_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/llmgw/apitokens/pkg/limits"
	"github.com/llmgw/apitokens/pkg/serve"
	"github.com/llmgw/apitokens/pkg/usage"
)

// modes are the two serve modes; every limits test runs in both.
var modes = []struct {
	name   string
	stream bool
}{{"lambda", false}, {"container", true}}

func forModes(t *testing.T, f func(t *testing.T, stream bool)) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) { f(t, m.stream) })
	}
}

func i64(v int64) *int64     { return &v }
func f64(v float64) *float64 { return &v }

const userTokenUUID = "11111111-1111-4111-8111-111111111111"

// limitedEnv is a devupstream env metered by a fresh fake store.
func limitedEnv(t *testing.T, stream bool, mutate func(*serve.Config)) (*testEnv, *fakeUsage) {
	t.Helper()
	f := newFakeUsage()
	e := newEnv(t, func(c *serve.Config) {
		c.Stream = stream
		c.Usage = f
		c.UsageTracking = true
		if mutate != nil {
			mutate(c)
		}
	})
	return e, f
}

// waitRecords waits for n Record calls: a call's usage is written after
// its answer has been sent.
func waitRecords(t *testing.T, f *fakeUsage, n int) []fakeRecord {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		rs := f.Records()
		if len(rs) >= n || time.Now().After(deadline) {
			if len(rs) != n {
				t.Fatalf("Record called %d times, want %d: %+v", len(rs), n, rs)
			}
			return rs
		}
		time.Sleep(5 * time.Millisecond)
	}
}

var resetFormat = regexp.MustCompile(`^([1-9][0-9]*h)?([0-9]+m)?[0-9]+s$`)

// wantRateHeaders checks the x-ratelimit-* headers of kind ("requests" or
// "tokens"): limit, remaining, and a reset in OpenAI's format within
// (0, most].
func wantRateHeaders(t *testing.T, r result, kind string, limit, remaining int64, most time.Duration) {
	t.Helper()
	if got := r.header.Get("x-ratelimit-limit-" + kind); got != strconv.FormatInt(limit, 10) {
		t.Errorf("x-ratelimit-limit-%s = %q, want %d", kind, got, limit)
	}
	if got := r.header.Get("x-ratelimit-remaining-" + kind); got != strconv.FormatInt(remaining, 10) {
		t.Errorf("x-ratelimit-remaining-%s = %q, want %d", kind, got, remaining)
	}
	reset := r.header.Get("x-ratelimit-reset-" + kind)
	d, err := time.ParseDuration(reset)
	if !resetFormat.MatchString(reset) || err != nil || d < time.Second || d > most || d != d.Round(time.Second) {
		t.Errorf("x-ratelimit-reset-%s = %q, want whole seconds in [1s, %s]", kind, reset, most)
	}
}

func wantNoRateHeaders(t *testing.T, r result) {
	t.Helper()
	for k := range r.header {
		if strings.HasPrefix(strings.ToLower(k), "x-ratelimit-") {
			t.Errorf("unexpected header %s: %s", k, r.header.Get(k))
		}
	}
}

// want429 checks a limit refusal: status, OpenAI shape, code and type,
// and Retry-After in whole seconds in [1, most].
func want429(t *testing.T, r result, code, typ string, most time.Duration) {
	t.Helper()
	if r.status != http.StatusTooManyRequests {
		t.Fatalf("status = %d, want 429: %s", r.status, r.body)
	}
	d := r.errorBody(t)
	if d.Code != code || d.Type != typ || d.Param != nil || d.Message == "" {
		t.Errorf("error = %+v, want code %q type %q, param null, a message", d, code, typ)
	}
	ra, err := strconv.Atoi(r.header.Get("Retry-After"))
	if err != nil || ra < 1 || time.Duration(ra)*time.Second > most {
		t.Errorf("Retry-After = %q, want whole seconds in [1, %s]", r.header.Get("Retry-After"), most)
	}
}

func chat(e *testEnv, t *testing.T, token string) result {
	t.Helper()
	return e.call(t, "POST", "/v2/serve/chat/completions", chatBody("local-echo", "hello world", false), bearer(token)...)
}

// TestLimitRefusals: each limit kind refuses the call after the one it
// allows with its code, type, Retry-After and headers, and the upstream is
// not called for the refusal.
func TestLimitRefusals(t *testing.T) {
	day, month := 24*time.Hour, 31*24*time.Hour
	tests := []struct {
		name      string
		lim       limits.Limits
		code, typ string
		most      time.Duration // the longest wait the window allows
		reqHdr    bool
		tokHdr    bool
	}{
		{"requestsPerMinute", limits.Limits{RequestsPerMinute: i64(1)}, "rate_limit_exceeded", "requests", time.Minute, true, false},
		{"requestsPerHour", limits.Limits{RequestsPerHour: i64(1)}, "rate_limit_exceeded", "requests", time.Hour, true, false},
		{"requestsPerDay", limits.Limits{RequestsPerDay: i64(1)}, "rate_limit_exceeded", "requests", day, true, false},
		{"tokensPerDay", limits.Limits{TokensPerDay: i64(1)}, "insufficient_quota", "insufficient_quota", day, false, true},
		{"tokensPerMonth", limits.Limits{TokensPerMonth: i64(1)}, "insufficient_quota", "insufficient_quota", month, false, true},
		{"budgetPerMonth", limits.Limits{BudgetPerMonth: f64(0.000001)}, "insufficient_quota", "insufficient_quota", month, false, false},
	}
	forModes(t, func(t *testing.T, stream bool) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				e, f := limitedEnv(t, stream, func(c *serve.Config) {
					c.Limits.Default = tt.lim
					c.Prices = limits.Prices{"local-echo": {Input: 1, Output: 1}}
				})
				if r := chat(e, t, userToken); r.status != 200 {
					t.Fatalf("first call: %d %s", r.status, r.body)
				}
				waitRecords(t, f, 1)
				before := e.up.Count()
				r := chat(e, t, userToken)
				want429(t, r, tt.code, tt.typ, tt.most)
				if n := e.up.Count() - before; n != 0 {
					t.Errorf("the upstream was called for a refused call")
				}
				if tt.reqHdr {
					wantRateHeaders(t, r, "requests", 1, 0, tt.most)
				}
				if tt.tokHdr {
					wantRateHeaders(t, r, "tokens", 1, 0, tt.most)
				}
				if !tt.reqHdr && r.header.Get("x-ratelimit-limit-requests") != "" {
					t.Errorf("request headers without a request limit")
				}
				// A refused call is not usage.
				time.Sleep(20 * time.Millisecond)
				if n := len(f.Records()); n != 1 {
					t.Errorf("Record called %d times, want 1 (not for the refusal)", n)
				}
			})
		}
	})
}

// TestRateHeadersOnSuccess: the headers of the smallest limited window
// and of the day's (else month's) tokens, on every answer of a limited
// token; the upstream's own x-ratelimit-* headers do not reach its caller.
func TestRateHeadersOnSuccess(t *testing.T) {
	forModes(t, func(t *testing.T, stream bool) {
		e, f := limitedEnv(t, stream, func(c *serve.Config) {
			c.Limits.Default = limits.Limits{RequestsPerMinute: i64(5), RequestsPerDay: i64(100), TokensPerDay: i64(1000), TokensPerMonth: i64(5000)}
		})
		r := chat(e, t, userToken)
		if r.status != 200 {
			t.Fatalf("%d %s", r.status, r.body)
		}
		wantRateHeaders(t, r, "requests", 5, 4, time.Minute)
		wantRateHeaders(t, r, "tokens", 1000, 1000, 24*time.Hour)
		rec := waitRecords(t, f, 1)[0].Usage
		used := rec.PromptTokens + rec.CompletionTokens
		if used == 0 {
			t.Fatalf("no tokens recorded: %+v", rec)
		}
		r = e.call(t, "GET", "/v2/serve/models", "", bearer(userToken)...)
		if r.status != 200 {
			t.Fatalf("models: %d %s", r.status, r.body)
		}
		wantRateHeaders(t, r, "requests", 5, 3, time.Minute)
		wantRateHeaders(t, r, "tokens", 1000, 1000-used, 24*time.Hour)

		// Only a monthly token limit and an hourly request limit.
		e2, _ := limitedEnv(t, stream, func(c *serve.Config) {
			c.Limits.Default = limits.Limits{RequestsPerHour: i64(7), TokensPerMonth: i64(5000)}
		})
		r = chat(e2, t, userToken)
		wantRateHeaders(t, r, "requests", 7, 6, time.Hour)
		wantRateHeaders(t, r, "tokens", 5000, 5000, 31*24*time.Hour)

		// A token without limits: no headers of ours.
		e3, _ := limitedEnv(t, stream, nil)
		wantNoRateHeaders(t, chat(e3, t, userToken))
	})
}

func TestResetFormat(t *testing.T) {
	// The format OpenAI SDKs parse: Go's duration in whole seconds.
	for d, want := range map[time.Duration]string{
		12 * time.Second:                  "12s",
		6 * time.Minute:                   "6m0s",
		24*time.Hour - time.Second:        "23h59m59s",
		11*time.Second + time.Millisecond: "12s", // rounded up: never early
	} {
		if got := serve.FormatReset(d); got != want {
			t.Errorf("FormatReset(%s) = %q, want %q", d, got, want)
		}
	}
}

// TestUpstreamRateHeadersReplaced: a limited token sees the gateway's
// headers only; an unlimited one still sees the upstream's.
func TestUpstreamRateHeadersReplaced(t *testing.T) {
	up := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Ratelimit-Limit-Requests", "999")
		w.Header().Set("X-Ratelimit-Limit-Tokens", "888")
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"object":"chat.completion","choices":[],"usage":{"prompt_tokens":1,"completion_tokens":1}}`)
	}
	forModes(t, func(t *testing.T, stream bool) {
		f := newFakeUsage()
		base := ownUpstreamEnv(t, stream, up, func(c *serve.Config) {
			c.Usage = f
			c.Limits.Default = limits.Limits{RequestsPerMinute: i64(5)}
		})
		r := post(t, base, "/v2/serve/chat/completions", chatBody("m", "hi", false), userToken)
		wantRateHeaders(t, r, "requests", 5, 4, time.Minute)
		if got := r.header.Get("X-Ratelimit-Limit-Tokens"); got != "" {
			t.Errorf("the upstream's token header reached a limited token's caller: %q", got)
		}
		base = ownUpstreamEnv(t, stream, up, func(c *serve.Config) { c.Usage = f })
		r = post(t, base, "/v2/serve/chat/completions", chatBody("m", "hi", false), userToken)
		if r.header.Get("X-Ratelimit-Limit-Requests") != "999" {
			t.Errorf("an unlimited token lost the upstream's headers: %v", r.header)
		}
	})
}

// TestGlobalLimits: GLOBAL_LIMITS count every caller together, JWT
// callers included; a global refusal takes the token's count back; JWT
// callers are held to nothing else and leave no usage.
func TestGlobalLimits(t *testing.T) {
	forModes(t, func(t *testing.T, stream bool) {
		e, f := limitedEnv(t, stream, func(c *serve.Config) {
			c.Limits.Global = limits.Global{RequestsPerMinute: i64(2)}
			c.Limits.Default = limits.Limits{RequestsPerDay: i64(10)}
		})
		if r := chat(e, t, teamToken); r.status != 200 { // JWT
			t.Fatalf("jwt: %d %s", r.status, r.body)
		}
		r := chat(e, t, userToken)
		wantRateHeaders(t, r, "requests", 10, 9, 24*time.Hour)
		now := time.Now()
		if n := f.Count(userTokenUUID, "d", now); n != 1 {
			t.Fatalf("token count %d, want 1", n)
		}
		before := e.up.Count()
		r = chat(e, t, userToken)
		want429(t, r, "rate_limit_exceeded", "requests", time.Minute)
		if !strings.Contains(r.errorBody(t).Message, "global") {
			t.Errorf("message does not say the limit is global: %s", r.body)
		}
		wantRateHeaders(t, r, "requests", 10, 9, 24*time.Hour) // the refused call does not count
		if n := f.Count(userTokenUUID, "d", now); n != 1 {
			t.Errorf("token count %d after the global refusal, want 1 (Unadmit)", n)
		}
		r = chat(e, t, teamToken)
		want429(t, r, "rate_limit_exceeded", "requests", time.Minute)
		wantNoRateHeaders(t, r)
		if e.up.Count() != before {
			t.Errorf("the upstream was called for refused calls")
		}
		waitRecords(t, f, 1) // the token's served call only: JWT calls leave no usage
		for _, rec := range f.Records() {
			if rec.TokenUUID != userTokenUUID {
				t.Errorf("usage recorded for %q", rec.TokenUUID)
			}
		}
		calls := f.Calls()
		if got := strings.Join(calls, ","); got != "AdmitGlobal,Admit,AdmitGlobal,Record,Admit,AdmitGlobal,Unadmit,AdmitGlobal" &&
			got != "AdmitGlobal,Admit,AdmitGlobal,Admit,AdmitGlobal,Unadmit,AdmitGlobal,Record" &&
			got != "AdmitGlobal,Admit,AdmitGlobal,Admit,AdmitGlobal,Unadmit,Record,AdmitGlobal" {
			t.Errorf("store calls %s", got)
		}
	})
}

// TestJWTOnlyGlobal: token limits of the policy never apply to JWT calls.
func TestJWTOnlyGlobal(t *testing.T) {
	forModes(t, func(t *testing.T, stream bool) {
		e, f := limitedEnv(t, stream, func(c *serve.Config) {
			c.Limits.Default = limits.Limits{RequestsPerMinute: i64(1)}
			c.Limits.Groups = map[string]limits.Limits{"ml-team": {RequestsPerMinute: i64(1)}}
		})
		for range 3 {
			if r := chat(e, t, teamToken); r.status != 200 {
				t.Fatalf("jwt: %d %s", r.status, r.body)
			}
		}
		time.Sleep(20 * time.Millisecond)
		if c := f.Calls(); len(c) != 0 {
			t.Errorf("JWT calls without global limits made store calls: %v", c)
		}
	})
}

// TestLimitsStoreDown: an unreachable store refuses limited calls with
// 503 limits_unavailable, or with LimitsFailOpen lets them through and
// logs each by tokenUUID, never by the token.
func TestLimitsStoreDown(t *testing.T) {
	forModes(t, func(t *testing.T, stream bool) {
		for _, open := range []bool{false, true} {
			t.Run(fmt.Sprintf("failOpen=%v", open), func(t *testing.T) {
				e, f := limitedEnv(t, stream, func(c *serve.Config) {
					c.Limits.Default = limits.Limits{RequestsPerMinute: i64(5)}
					c.Limits.Global = limits.Global{RequestsPerDay: i64(100)}
					c.LimitsFailOpen = open
				})
				f.Fail(errors.New("dynamodb: connection refused"))
				before := e.up.Count()
				for _, token := range []string{userToken, teamToken} {
					r := chat(e, t, token)
					if !open {
						if r.status != 503 {
							t.Fatalf("status %d, want 503: %s", r.status, r.body)
						}
						d := r.errorBody(t)
						if d.Code != "limits_unavailable" || !strings.Contains(d.Message, "limits") || strings.Contains(d.Message, "dynamodb") {
							t.Errorf("error %+v", d)
						}
						continue
					}
					if r.status != 200 {
						t.Fatalf("fail open: status %d: %s", r.status, r.body)
					}
					wantNoRateHeaders(t, r)
				}
				if !open {
					if e.up.Count() != before {
						t.Errorf("the upstream was called while limits could not be checked")
					}
					return
				}
				logs := e.logs.String()
				if n := strings.Count(logs, "LIMITS_FAIL_OPEN"); n < 3 { // token: Admit, AdmitGlobal; JWT: AdmitGlobal
					t.Errorf("%d fail-open warnings, want one per failed check:\n%s", n, logs)
				}
				if !strings.Contains(logs, `"tokenUUID":"`+userTokenUUID+`"`) || strings.Contains(logs, userToken) {
					t.Errorf("the warning must name the tokenUUID and never the token:\n%s", logs)
				}
			})
		}
	})
}

// TestNoStoreWithLimits: limits with no store configured are not
// silently ignored.
func TestNoStoreWithLimits(t *testing.T) {
	forModes(t, func(t *testing.T, stream bool) {
		e := newEnv(t, func(c *serve.Config) {
			c.Stream = stream
			c.Limits.Default = limits.Limits{RequestsPerMinute: i64(5)}
		})
		if r := chat(e, t, userToken); r.status != 503 || r.errorBody(t).Code != "limits_unavailable" {
			t.Errorf("%d %s", r.status, r.body)
		}
		if r := chat(e, t, teamToken); r.status != 200 { // no limit applies to a JWT caller
			t.Errorf("jwt: %d %s", r.status, r.body)
		}
	})
}

// TestNoLimitsNoTrackingNoCalls: the hot path of a deployment without
// limits and with tracking off never reaches the store.
func TestNoLimitsNoTrackingNoCalls(t *testing.T) {
	forModes(t, func(t *testing.T, stream bool) {
		e, f := limitedEnv(t, stream, func(c *serve.Config) { c.UsageTracking = false })
		for _, r := range []result{
			chat(e, t, userToken),
			e.call(t, "POST", "/v2/serve/chat/completions", chatBody("local-echo", "hi", true), bearer(userToken)...),
			e.call(t, "GET", "/v2/serve/models", "", bearer(userToken)...),
			e.call(t, "POST", "/v2/serve/embeddings", `{"model":"local-echo","input":"a b"}`, bearer(userToken)...),
			chat(e, t, teamToken),
		} {
			if r.status != 200 {
				t.Fatalf("%d %s", r.status, r.body)
			}
		}
		time.Sleep(20 * time.Millisecond)
		if c := f.Calls(); len(c) != 0 {
			t.Errorf("store calls: %v", c)
		}
		// Tracking off, but the token has limits: its usage is recorded.
		e, f = limitedEnv(t, stream, func(c *serve.Config) {
			c.UsageTracking = false
			c.Limits.Default = limits.Limits{TokensPerDay: i64(100)}
		})
		chat(e, t, userToken)
		if rec := waitRecords(t, f, 1)[0].Usage; rec.Requests != 1 || rec.PromptTokens == 0 {
			t.Errorf("record %+v", rec)
		}
	})
}

// TestUsageFromAnswers: tokens, requests, errors and cost as recorded for
// the model endpoints, read from the devupstream's "usage".
func TestUsageFromAnswers(t *testing.T) {
	prices := limits.Prices{"local-echo": {Input: 2, Output: 10}}
	tests := []struct {
		name, path, body string
		want             usage.Usage
		limited          bool
	}{
		// devupstream counts words: the echo answers "hello world".
		{"chat", "/v2/serve/chat/completions", chatBody("local-echo", "hello world", false),
			usage.Usage{Requests: 1, PromptTokens: 2, CompletionTokens: 2, CostNanos: 2*2000 + 2*10000}, false},
		{"chat counted by Admit", "/v2/serve/chat/completions", chatBody("local-echo", "hello world", false),
			usage.Usage{Requests: 0, PromptTokens: 2, CompletionTokens: 2, CostNanos: 24000}, true},
		{"chat stream", "/v2/serve/chat/completions", chatBody("local-echo", "hello big world", true),
			usage.Usage{Requests: 1, PromptTokens: 3, CompletionTokens: 3, CostNanos: 3*2000 + 3*10000}, false},
		{"completions", "/v2/serve/completions", `{"model":"local-echo","prompt":"one two three four"}`,
			usage.Usage{Requests: 1, PromptTokens: 4, CompletionTokens: 4, CostNanos: 4*2000 + 4*10000}, false},
		{"embeddings", "/v2/serve/embeddings", `{"model":"local-echo","input":["a b","c"]}`,
			usage.Usage{Requests: 1, PromptTokens: 3, CostNanos: 3 * 2000}, false},
		{"upstream error", "/v2/serve/chat/completions", chatBody("no-such-model", "hi", false),
			usage.Usage{Requests: 1, Errors: 1}, false},
	}
	forModes(t, func(t *testing.T, stream bool) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				e, f := limitedEnv(t, stream, func(c *serve.Config) {
					c.Prices = prices
					if tt.limited {
						c.Limits.Default = limits.Limits{RequestsPerMinute: i64(10)}
					}
				})
				r := e.call(t, "POST", tt.path, tt.body, bearer(userToken)...)
				if (r.status >= 400) != (tt.want.Errors > 0) {
					t.Fatalf("%d %s", r.status, r.body)
				}
				rec := waitRecords(t, f, 1)[0]
				if rec.Usage != tt.want || rec.TokenUUID != userTokenUUID || rec.Username != "alice" {
					t.Errorf("recorded %+v, want %+v", rec, tt.want)
				}
			})
		}
		t.Run("models are limited but not recorded", func(t *testing.T) {
			e, f := limitedEnv(t, stream, func(c *serve.Config) { c.Limits.Default = limits.Limits{RequestsPerMinute: i64(2)} })
			e.call(t, "GET", "/v2/serve/models", "", bearer(userToken)...)
			e.call(t, "GET", "/v2/serve/models/local-echo", "", bearer(userToken)...)
			want429(t, chat(e, t, userToken), "rate_limit_exceeded", "requests", time.Minute)
			time.Sleep(20 * time.Millisecond)
			if n := len(f.Records()); n != 0 {
				t.Errorf("%d records for model list calls", n)
			}
		})
	})
}

// TestStreamUsageChunk (devupstream, which honours include_usage): the
// caller that did not ask receives no usage chunk while the store gets
// the tokens; the caller that asked receives it.
func TestStreamUsageChunk(t *testing.T) {
	forModes(t, func(t *testing.T, stream bool) {
		for _, asked := range []bool{false, true} {
			t.Run(fmt.Sprintf("asked=%v", asked), func(t *testing.T) {
				e, f := limitedEnv(t, stream, nil)
				body := `{"model":"local-echo","stream":true,` + msgs
				if asked {
					body += `,"stream_options":{"include_usage":true}`
				}
				body += "}"
				r := e.call(t, "POST", "/v2/serve/chat/completions", body, bearer(userToken)...)
				if r.status != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), "text/event-stream") {
					t.Fatalf("%d %v %s", r.status, r.header, r.body)
				}
				evs := events(t, strings.NewReader(string(r.body)))
				if evs[len(evs)-1] != "[DONE]" {
					t.Errorf("the stream does not end with [DONE]: %q", evs)
				}
				usageChunks := 0
				for _, ev := range evs {
					if strings.Contains(ev, `"usage"`) {
						usageChunks++
					}
				}
				if want := map[bool]int{false: 0, true: 1}[asked]; usageChunks != want {
					t.Errorf("%d usage chunks reached the caller, want %d: %q", usageChunks, want, evs)
				}
				rec := waitRecords(t, f, 1)[0].Usage
				if rec.PromptTokens != 1 || rec.CompletionTokens != 1 {
					t.Errorf("recorded %+v, want the stream's usage (1, 1)", rec)
				}
			})
		}
	})
}

// ownUpstreamEnv runs a serve handler in front of up (under /v1).
func ownUpstreamEnv(t *testing.T, stream bool, up http.HandlerFunc, mutate func(*serve.Config)) string {
	t.Helper()
	upSrv := httptest.NewServer(up)
	t.Cleanup(upSrv.Close)
	cfg := serve.Config{UpstreamURL: upSrv.URL + "/v1", UpstreamKey: upstreamKey, Timeout: 5 * time.Second, Stream: stream, UsageTracking: true}
	if mutate != nil {
		mutate(&cfg)
	}
	h, err := serve.New(cfg, stubAuth(nil))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

func post(t *testing.T, base, path, body, token string) result {
	t.Helper()
	req, _ := http.NewRequest("POST", base+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return result{status: resp.StatusCode, header: resp.Header, body: b}
}

// sseUpstream is a deterministic OpenAI-like upstream: a chat or
// completions stream in small writes (so the relay sees events split
// across reads), with the usage chunk only when asked; it keeps the
// bodies it received.
type sseUpstream struct {
	mu     sync.Mutex
	bodies []string
}

func (u *sseUpstream) serve(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	u.mu.Lock()
	u.bodies = append(u.bodies, string(b))
	u.mu.Unlock()
	var req struct {
		StreamOptions struct {
			IncludeUsage bool `json:"include_usage"`
		} `json:"stream_options"`
	}
	_ = json.Unmarshal(b, &req)
	w.Header().Set("Content-Type", "text/event-stream")
	fl := w.(http.Flusher)
	send := func(s string) {
		for len(s) > 0 { // in pieces of 7 bytes
			n := min(7, len(s))
			io.WriteString(w, s[:n])
			fl.Flush()
			s = s[n:]
		}
	}
	send("data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hi\"},\"finish_reason\":null}],\"usage\":null}\n\n")
	send("data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}],\"usage\":null}\n\n")
	if req.StreamOptions.IncludeUsage {
		send("data: {\"id\":\"c1\",\"choices\":[],\"usage\":{\"prompt_tokens\":11,\"completion_tokens\":22,\"total_tokens\":33}}\n\n")
	}
	send("data: [DONE]\n\n")
}

func (u *sseUpstream) last() string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.bodies[len(u.bodies)-1]
}

// TestStreamExactlyAsUntracked: with tracking the caller receives the very
// bytes it receives without; the upstream was asked for the usage; the
// tokens are recorded. For chat and completions (which the devupstream
// streams without usage), in both modes.
func TestStreamExactlyAsUntracked(t *testing.T) {
	forModes(t, func(t *testing.T, stream bool) {
		for _, path := range []string{"/v2/serve/chat/completions", "/v2/serve/completions"} {
			t.Run(path, func(t *testing.T) {
				up := &sseUpstream{}
				f := newFakeUsage()
				tracked := ownUpstreamEnv(t, stream, up.serve, func(c *serve.Config) {
					c.Usage = f
					c.Prices = limits.Prices{"m": {Input: 1, Output: 1}}
				})
				plain := ownUpstreamEnv(t, stream, up.serve, nil)
				body := `{"model":"m","stream":true,"prompt":"x"}`
				want := post(t, plain, path, body, userToken)
				if up.last() != body {
					t.Fatalf("an untracked call's body was changed: %s", up.last())
				}
				got := post(t, tracked, path, body, userToken)
				if got.status != 200 || string(got.body) != string(want.body) {
					t.Errorf("tracked stream differs:\n got %q\nwant %q", got.body, want.body)
				}
				if up.last() != `{"stream_options":{"include_usage":true},"model":"m","stream":true,"prompt":"x"}` {
					t.Errorf("the upstream was not asked for usage: %s", up.last())
				}
				rec := waitRecords(t, f, 1)[0].Usage
				if rec != (usage.Usage{Requests: 1, PromptTokens: 11, CompletionTokens: 22, CostNanos: 33000}) {
					t.Errorf("recorded %+v", rec)
				}
			})
		}
	})
}

// TestStreamMidStreamFailure: a stream the upstream cuts is an error in
// the usage row (container mode relays it as it arrives).
func TestStreamMidStreamFailure(t *testing.T) {
	f := newFakeUsage()
	base := ownUpstreamEnv(t, true, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hi\"}}]}\n\ndata: {\"choi")
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler)
	}, func(c *serve.Config) { c.Usage = f })
	r := post(t, base, "/v2/serve/chat/completions", chatBody("m", "hi", true), userToken)
	if !strings.Contains(string(r.body), `data: {"choi`) || !strings.Contains(string(r.body), `"error"`) {
		t.Errorf("the cut stream was not relayed as before: %q", r.body)
	}
	if rec := waitRecords(t, f, 1)[0].Usage; rec != (usage.Usage{Requests: 1, Errors: 1}) {
		t.Errorf("recorded %+v", rec)
	}
}

// TestLargeAnswerCountedWithoutTokens: in container mode an answer over
// the usage scan bound is relayed whole and counted without tokens.
func TestLargeAnswerCountedWithoutTokens(t *testing.T) {
	f := newFakeUsage()
	big := strings.Repeat("x", 9<<20)
	base := ownUpstreamEnv(t, true, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"data":"`+big+`","usage":{"prompt_tokens":5}}`)
	}, func(c *serve.Config) { c.Usage = f })
	r := post(t, base, "/v2/serve/embeddings", `{"model":"m","input":"x"}`, userToken)
	if r.status != 200 || len(r.body) < len(big) {
		t.Fatalf("%d, %d bytes", r.status, len(r.body))
	}
	if rec := waitRecords(t, f, 1)[0].Usage; rec != (usage.Usage{Requests: 1}) {
		t.Errorf("recorded %+v", rec)
	}
}

// TestRecordFailureDoesNotFailTheAnswer: the answer is sent before the
// usage is written; a failed write is logged.
func TestRecordFailureDoesNotFailTheAnswer(t *testing.T) {
	forModes(t, func(t *testing.T, stream bool) {
		e, f := limitedEnv(t, stream, nil)
		f.Fail(errors.New("throttled"))
		if r := chat(e, t, userToken); r.status != 200 {
			t.Fatalf("%d %s", r.status, r.body)
		}
		deadline := time.Now().Add(5 * time.Second)
		for !strings.Contains(e.logs.String(), "recording a call failed") {
			if time.Now().After(deadline) {
				t.Fatalf("no log of the failed write:\n%s", e.logs.String())
			}
			time.Sleep(5 * time.Millisecond)
		}
	})
}

// TestRewriteAfterModelChecks: a body the model checks refuse is refused
// before any limit or rewrite, and a permitted one keeps its verdict.
func TestRewriteAfterModelChecks(t *testing.T) {
	forModes(t, func(t *testing.T, stream bool) {
		e, f := limitedEnv(t, stream, func(c *serve.Config) { c.Limits.Default = limits.Limits{RequestsPerMinute: i64(10)} })
		for _, tt := range []struct{ body, code string }{
			{`{"model":"local-echo","stream":true,"fallbacks":["local-restricted"],` + msgs + `}`, "param_not_allowed"},
			{`{"model":"local-restricted","stream":true,` + msgs + `}`, "model_not_allowed"},
			{`{"model":"local-echo","stream":true,"stream_options":{"include_usage":false},"STREAM_OPTIONS":null,` + msgs + `}`, "duplicate_key"},
		} {
			r := e.call(t, "POST", "/v2/serve/chat/completions", tt.body, bearer(userToken)...)
			if r.status < 400 || r.errorBody(t).Code != tt.code {
				t.Errorf("%s: %d %s", tt.body, r.status, r.body)
			}
		}
		if c := f.Calls(); len(c) != 0 {
			t.Errorf("refused bodies reached the limits: %v", c)
		}
	})
}
