package serve

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/llmgw/apitokens/pkg/apierr"
	"github.com/llmgw/apitokens/pkg/auth"
	"github.com/llmgw/apitokens/pkg/limits"
	"github.com/llmgw/apitokens/pkg/usage"
)

// recordTimeout bounds the usage write after a call. The answer has been
// sent by then, so the write is detached from the caller's request: a
// caller that hangs up must not cost the row.
const recordTimeout = 3 * time.Second

// Codes of limit refusals, as OpenAI answers them.
const (
	CodeRateLimitExceeded = "rate_limit_exceeded"
	CodeInsufficientQuota = "insufficient_quota"
	CodeLimitsUnavailable = "limits_unavailable"
)

// meter is the limits and usage state of one call.
type meter struct {
	tokenUUID, username string
	lim                 limits.Limits // effective limits; zero for JWT callers
	now                 time.Time     // the admission time: the windows and the usage day
	adm                 usage.Admission
	headers             bool // the answer carries this gateway's x-ratelimit-* headers
	record              bool // Record after the call
	modelCall           bool // tokens are read from the answer

	strip  bool // the gateway asked for the usage chunk: the caller must not see it
	tokens *tokenCounts
	noUse  string // why the answer's tokens could not be read, for the log
}

// tokenCounts are the tokens an upstream answer reports.
type tokenCounts struct{ prompt, completion int64 }

// limited returns the effective limits of the principal's calls: an API
// token's own, its groups' and the default (limits.Policy.Resolve); a JWT
// caller has none of its own (only GLOBAL_LIMITS apply to it).
func (h *Handler) limited(p auth.Principal) (lim limits.Limits, token bool) {
	token = p.AuthType == auth.AuthAPIToken && p.TokenUUID != ""
	if token {
		lim = h.cfg.Limits.Resolve(p.Limits, p.Groups)
	}
	return lim, token
}

// admit applies the limits to a call that passed authentication and the
// model permission check, before the upstream is called. An API token's
// call is admitted against its effective limits (Admit), then every call
// against GLOBAL_LIMITS (AdmitGlobal); a global refusal takes the token's
// count back (Unadmit). A refusal is a 429 with Retry-After; a usage
// store that fails is a 503 unless LimitsFailOpen. modelCall marks the
// calls whose usage is recorded. It reports whether the call may go on;
// if not, the answer has been written.
func (h *Handler) admit(c *call, r *http.Request, modelCall bool) bool {
	p := *c.principal
	lim, token := h.limited(p)
	global := h.cfg.Limits.Global != (limits.Global{})
	// Counted under the token's usage key: a rotation keeps counting
	// where the old token was, so it cannot start a limit afresh.
	key := p.UsageKey
	if key == "" {
		key = p.TokenUUID
	}
	m := &meter{tokenUUID: key, username: p.Username, lim: lim, now: time.Now(), modelCall: modelCall}
	m.record = token && modelCall && h.cfg.Usage != nil && (h.cfg.UsageTracking || !lim.IsZero())
	c.meter = m
	if lim.IsZero() && !global {
		return true
	}
	if h.cfg.Usage == nil {
		// Limits apply but nothing can count them: as if the store
		// were down, so that a limit is never silently ignored.
		return h.limitsDown(c, r, "no usage store is configured", errors.New("serve: Config.Usage is nil"))
	}
	ctx := r.Context()
	counted := false
	if !lim.IsZero() {
		adm, err := h.cfg.Usage.Admit(ctx, usage.Admit{TokenUUID: m.tokenUUID, Username: p.Username, Limits: lim, Now: m.now})
		switch {
		case err != nil:
			if !h.limitsDown(c, r, "admit", err) {
				return false
			}
		case !adm.Allowed:
			m.adm, m.headers = adm, true
			h.refuse(c, m, adm.Refused, false)
			return false
		default:
			m.adm, m.headers, counted = adm, true, adm.Counted
		}
	}
	if global {
		g, err := h.cfg.Usage.AdmitGlobal(ctx, m.now, h.cfg.Limits.Global)
		switch {
		case err != nil:
			if !h.limitsDown(c, r, "admit global", err) {
				h.unadmit(c, r, counted)
				return false
			}
		case !g.Allowed:
			h.unadmit(c, r, counted)
			h.refuse(c, m, g.Refused, true)
			return false
		}
	}
	if m.headers {
		rateHeaders(c.w.Header(), m)
	}
	return true
}

// unadmit takes back the token's count of a call that a later check
// refused, and the count in its headers with it.
func (h *Handler) unadmit(c *call, r *http.Request, counted bool) {
	if !counted {
		return
	}
	m := c.meter
	if err := h.cfg.Usage.Unadmit(context.WithoutCancel(r.Context()), m.tokenUUID, m.now); err != nil {
		h.cfg.Logger.LogAttrs(r.Context(), slog.LevelWarn, "serve: usage: taking back a refused call's count failed",
			slog.String("requestId", c.id), slog.String("tokenUUID", m.tokenUUID), slog.String("error", err.Error()))
		return
	}
	m.adm.Counted = false
	m.adm.RequestsMinute = max(0, m.adm.RequestsMinute-1)
	m.adm.RequestsHour = max(0, m.adm.RequestsHour-1)
	m.adm.RequestsDay = max(0, m.adm.RequestsDay-1)
}

// limitsDown handles a usage store that cannot answer: the call is
// refused with 503 limits_unavailable, or, with LimitsFailOpen, let
// through with a warning that names the token by its tokenUUID (never the
// token). It reports whether the call may go on.
func (h *Handler) limitsDown(c *call, r *http.Request, op string, err error) bool {
	if h.cfg.LimitsFailOpen {
		attrs := []slog.Attr{slog.String("requestId", c.id), slog.String("username", c.principal.Username), slog.String("op", op), slog.String("error", err.Error())}
		if c.meter.tokenUUID != "" {
			attrs = append(attrs, slog.String("tokenUUID", c.meter.tokenUUID))
		}
		h.cfg.Logger.LogAttrs(r.Context(), slog.LevelWarn, "serve: usage limits unavailable; call let through unchecked (LIMITS_FAIL_OPEN)", attrs...)
		return true
	}
	h.writeError(c, apierr.Wrap(apierr.Unavailable, err, "Usage limits cannot be checked right now (the usage store is unavailable), so the call was not made; retry later").WithCode(CodeLimitsUnavailable))
	return false
}

// limitError is a call refused by a limit: 429.
type limitError struct {
	refused string // the limit's field name, as usage.Admission.Refused
	global  bool
	limit   string // the limit's value, as written in the message
	reset   time.Duration
}

func (e *limitError) Error() string {
	return e.message()
}

// quota reports whether the refusing limit is a token or money quota
// (insufficient_quota) rather than a request rate (rate_limit_exceeded).
func (e *limitError) quota() bool {
	switch e.refused {
	case "tokensPerDay", "tokensPerMonth", "budgetPerMonth":
		return !e.global
	}
	return false
}

func (e *limitError) code() string {
	if e.quota() {
		return CodeInsufficientQuota
	}
	return CodeRateLimitExceeded
}

// typ is OpenAI's error type for the refusal: "requests" or "tokens" for
// rate limits, "insufficient_quota" for quotas.
func (e *limitError) typ() string {
	if e.quota() {
		return CodeInsufficientQuota
	}
	return "requests"
}

func (e *limitError) message() string {
	what := map[string]string{
		"requestsPerMinute": "requests per minute",
		"requestsPerHour":   "requests per hour",
		"requestsPerDay":    "requests per day",
		"tokensPerDay":      "tokens per day",
		"tokensPerMonth":    "tokens per month",
		"budgetPerMonth":    "budget per month",
	}[e.refused]
	if what == "" {
		what = "usage limit"
	}
	whose := "this API token's"
	if e.global {
		whose = "the gateway's global (all callers together)"
	}
	if e.refused == "budgetPerMonth" {
		return fmt.Sprintf("You exceeded your current quota: %s budget of %s per month is used up; it resets in %s", whose, e.limit, formatReset(e.reset))
	}
	if e.quota() {
		return fmt.Sprintf("You exceeded your current quota: %s limit of %s %s is used up; it resets in %s", whose, e.limit, what, formatReset(e.reset))
	}
	return fmt.Sprintf("Rate limit reached: %s limit of %s %s; retry in %s", whose, e.limit, what, formatReset(e.reset))
}

// refuse answers a call a limit refused: 429, Retry-After until the
// refusing window ends, and the token's x-ratelimit-* headers.
func (h *Handler) refuse(c *call, m *meter, refused string, global bool) {
	w := limits.WindowsAt(m.now)
	end := w.MinuteEnd
	lim := m.lim
	if global {
		lim = h.cfg.Limits.Global.AsLimits()
	}
	e := &limitError{refused: refused, global: global}
	switch refused {
	case "requestsPerMinute":
		e.limit = count(lim.RequestsPerMinute)
	case "requestsPerHour":
		end, e.limit = w.HourEnd, count(lim.RequestsPerHour)
	case "requestsPerDay":
		end, e.limit = w.DayEnd, count(lim.RequestsPerDay)
	case "tokensPerDay":
		end, e.limit = w.DayEnd, count(lim.TokensPerDay)
	case "tokensPerMonth":
		end, e.limit = w.MonthEnd, count(lim.TokensPerMonth)
	case "budgetPerMonth":
		end = w.MonthEnd
		if lim.BudgetPerMonth != nil {
			e.limit = strconv.FormatFloat(*lim.BudgetPerMonth, 'f', -1, 64)
		}
	}
	if e.limit == "" {
		e.limit = "?"
	}
	e.reset = end.Sub(m.now)
	hdr := c.w.Header()
	hdr.Set("Retry-After", strconv.FormatInt(int64(ceilSecond(e.reset)/time.Second), 10))
	if m.headers {
		rateHeaders(hdr, m)
	}
	h.writeError(c, e)
}

func count(v *int64) string {
	if v == nil {
		return ""
	}
	return strconv.FormatInt(*v, 10)
}

// rateHeaders sets OpenAI's x-ratelimit-* headers from the token's
// admission: the requests of the smallest window with a request limit
// (minute, else hour, else day) and, with tokensPerDay or tokensPerMonth,
// the tokens of that window (day first). remaining never goes below 0;
// reset is the time until the window ends, rounded up to whole seconds.
func rateHeaders(hdr http.Header, m *meter) {
	l, a, w := m.lim, m.adm, limits.WindowsAt(m.now)
	set := func(kind string, limit *int64, used int64, end time.Time) {
		hdr.Set("X-Ratelimit-Limit-"+kind, strconv.FormatInt(*limit, 10))
		hdr.Set("X-Ratelimit-Remaining-"+kind, strconv.FormatInt(max(0, *limit-used), 10))
		hdr.Set("X-Ratelimit-Reset-"+kind, formatReset(end.Sub(m.now)))
	}
	switch {
	case l.RequestsPerMinute != nil:
		set("Requests", l.RequestsPerMinute, a.RequestsMinute, w.MinuteEnd)
	case l.RequestsPerHour != nil:
		set("Requests", l.RequestsPerHour, a.RequestsHour, w.HourEnd)
	case l.RequestsPerDay != nil:
		set("Requests", l.RequestsPerDay, a.RequestsDay, w.DayEnd)
	}
	switch {
	case l.TokensPerDay != nil:
		set("Tokens", l.TokensPerDay, a.TokensDay, w.DayEnd)
	case l.TokensPerMonth != nil:
		set("Tokens", l.TokensPerMonth, a.TokensMonth, w.MonthEnd)
	}
}

// ceilSecond rounds d up to whole seconds, at least one.
func ceilSecond(d time.Duration) time.Duration {
	d = (d + time.Second - 1).Truncate(time.Second)
	return max(d, time.Second)
}

// formatReset formats a time to reset as OpenAI does: a Go duration in
// whole seconds ("12s", "6m0s", "23h59m59s").
func formatReset(d time.Duration) string { return ceilSecond(d).String() }

// isRateHeader reports an X-Ratelimit-* header (canonical form).
func isRateHeader(k string) bool { return strings.HasPrefix(k, "X-Ratelimit-") }

// dropUpstreamRateHeaders removes the upstream's x-ratelimit-* headers
// from hdr when the answer carries this gateway's: the caller's SDK must
// see one set, the one its token is held to.
func dropUpstreamRateHeaders(c *call, hdr http.Header) {
	if c.meter == nil || !c.meter.headers {
		return
	}
	for k := range hdr {
		if isRateHeader(k) {
			delete(hdr, k)
		}
	}
}

// record writes the usage of a finished call (see the package
// documentation for what counts). A failing write cannot fail the answer,
// which has been sent: it is logged.
func (h *Handler) record(r *http.Request, c *call) {
	m := c.meter
	if m == nil || !m.record {
		return
	}
	var u usage.Usage
	if !m.adm.Counted {
		u.Requests = 1
	}
	if c.status >= 400 || c.midStream {
		u.Errors = 1
	}
	if t := m.tokens; t != nil {
		u.PromptTokens, u.CompletionTokens = t.prompt, t.completion
		u.CostNanos, _ = h.cfg.Prices.Cost(c.model, t.prompt, t.completion)
	} else if m.noUse != "" && c.status < 400 && !c.midStream {
		h.cfg.Logger.LogAttrs(r.Context(), slog.LevelWarn, "serve: usage: the call is counted without tokens",
			slog.String("requestId", c.id), slog.String("tokenUUID", m.tokenUUID), slog.String("reason", m.noUse))
	}
	write := func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), recordTimeout)
		defer cancel()
		if err := h.cfg.Usage.Record(ctx, m.tokenUUID, m.username, m.now, u); err != nil {
			h.cfg.Logger.LogAttrs(ctx, slog.LevelError, "serve: usage: recording a call failed",
				slog.String("requestId", c.id), slog.String("tokenUUID", m.tokenUUID), slog.String("error", err.Error()))
		}
	}
	if !h.cfg.Stream {
		// A Lambda is frozen once it has answered: a write left running
		// would be lost or land an invocation later. It is made first.
		write()
		return
	}
	// In streaming mode the answer ends when the handler returns (the
	// last bytes and the end of a chunked body are written then): the
	// write runs beside it, so the caller never waits for it, and a
	// graceful shutdown waits for it (WaitRecords). At most
	// maxBackgroundRecords run so; beyond that the call waits for its own
	// write, so that a usage table slower than the calls slows the calls
	// down instead of piling up writes without bound (and starving the
	// token reads that every call needs).
	select {
	case h.recordSlots <- struct{}{}:
		h.records.Go(func() {
			defer func() { <-h.recordSlots }()
			write()
		})
	default:
		write()
	}
}

// maxBackgroundRecords bounds the usage writes running beside answers.
const maxBackgroundRecords = 64

// CloseIdleConnections closes the handler's idle connections to the
// upstream. An upstream call may dial a connection that another one's
// freed connection makes unneeded; the upstream's server counts such a
// connection, which never carried a request, as busy for several seconds
// when it shuts down gracefully, so whoever stops both (the local stack)
// closes these first.
func (h *Handler) CloseIdleConnections() { h.cfg.Client.CloseIdleConnections() }

// WaitRecords waits until every usage write still running after its
// answer has finished, or ctx ends (then it returns ctx's error). A
// container calls it after it stopped taking calls, so that no call's
// usage is lost to a shutdown.
func (h *Handler) WaitRecords(ctx context.Context) error {
	done := make(chan struct{})
	go func() { h.records.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
