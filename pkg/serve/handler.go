package serve

import (
	"sync"

	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/llmgw/apitokens/pkg/albevent"
	"github.com/llmgw/apitokens/pkg/apierr"
	"github.com/llmgw/apitokens/pkg/auth"
	"github.com/llmgw/apitokens/pkg/routes"
)

// deadlineReserve is kept free before the request context's deadline (the
// Lambda's) so that a slow upstream is answered with a 504 rather than the
// function being killed.
const deadlineReserve = 500 * time.Millisecond

// Endpoints forwarded with a model check of the request body.
var modelEndpoints = map[string]bool{
	"chat/completions": true,
	"completions":      true,
	"embeddings":       true,
}

// forwardedRequestHeaders are the only caller headers the upstream sees;
// see the package documentation for why this is an allow-list.
var forwardedRequestHeaders = []string{"Content-Type", "Accept", "User-Agent", "OpenAI-Beta", "X-Amzn-Trace-Id"}

// Handler serves /v2/serve/*. Create it with New.
type Handler struct {
	cfg   Config
	perms permissions
	authn auth.Authenticator

	// records are the usage writes still running after their answers (in
	// streaming mode, where the process outlives the call): see
	// WaitRecords. recordSlots bounds how many run at once.
	records     sync.WaitGroup
	recordSlots chan struct{}
}

var _ http.Handler = (*Handler)(nil)

// New returns the serve handler. authn decides every call; it is the same
// decision core the API Gateway authorizer uses.
func New(cfg Config, authn auth.Authenticator) (*Handler, error) {
	if authn == nil {
		return nil, errors.New("serve: an Authenticator is required")
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	perms, err := newPermissions(cfg.ModelPermissions, cfg.ModelPermissionsDefault)
	if err != nil {
		return nil, err
	}
	return &Handler{cfg: cfg, perms: perms, authn: authn, recordSlots: make(chan struct{}, maxBackgroundRecords)}, nil
}

// call is the state of one request, for its answer and its log line.
type call struct {
	w              http.ResponseWriter
	id             string
	start          time.Time
	principal      *auth.Principal
	model          string
	stream         bool
	status         int
	bytes          int
	err            error
	upstreamStatus int
	upstreamTime   time.Duration
	midStream      bool   // err happened after the answer had begun
	meter          *meter // limits and usage; nil before admission
}

// ServeHTTP authenticates the call, then routes it. Authentication comes
// first for every path, so that every call is authorized and an
// unauthenticated caller cannot even learn which paths exist.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c := &call{w: w, start: time.Now()}
	if h.cfg.RequestID != nil {
		c.id = h.cfg.RequestID(r)
	}
	if c.id == "" {
		c.id = randomID()
	}
	w.Header().Set("X-Request-Id", c.id)
	// Completions are private to the caller: no shared cache may keep them.
	w.Header().Set("Cache-Control", "no-store")
	defer h.log(r, c)

	p, err := h.authn.Authenticate(r.Context(), r.Header)
	if err != nil {
		h.writeError(c, err)
		return
	}
	c.principal = &p
	h.route(c, r)
}

func (h *Handler) route(c *call, r *http.Request) {
	rest, ok := strings.CutPrefix(r.URL.Path, routes.ServePathPrefix)
	if !ok || !isClean(r.URL.Path) {
		h.writeError(c, notFound(r))
		return
	}
	rest = strings.TrimSuffix(rest, "/")
	switch {
	case rest == "models":
		if h.method(c, r, http.MethodGet) {
			h.listModels(c, r)
		}
	case strings.HasPrefix(rest, "models/"):
		if h.method(c, r, http.MethodGet) {
			h.getModel(c, r, strings.TrimPrefix(rest, "models/"))
		}
	case modelEndpoints[rest]:
		if h.method(c, r, http.MethodPost) {
			h.infer(c, r, rest)
		}
	default:
		h.writeError(c, notFound(r))
	}
}

// isClean reports whether p has no empty, "." or ".." segments (a single
// trailing slash aside). An upstream that normalizes paths would otherwise
// turn an allowed path such as /v2/serve/models/../key/generate into one
// that is not.
func isClean(p string) bool {
	trimmed := p
	if len(trimmed) > 1 {
		trimmed = strings.TrimSuffix(trimmed, "/")
	}
	return path.Clean(trimmed) == trimmed
}

func notFound(r *http.Request) error {
	return apierr.New(apierr.NotFound, "Invalid URL (%s %s)", r.Method, truncate(r.URL.Path, 200)).WithCode("unknown_url")
}

func (h *Handler) method(c *call, r *http.Request, want string) bool {
	if r.Method == want {
		return true
	}
	c.w.Header().Set("Allow", want)
	h.writeError(c, apierr.New(apierr.MethodNotAllowed, "%s is not allowed on %s; use %s", r.Method, truncate(r.URL.Path, 200), want).WithCode("method_not_allowed"))
	return false
}

// listModels answers the upstream's model list without the models the
// caller may not use, by the same rule as calls (so neither a prefixed id
// nor, under MODEL_PERMISSIONS_DEFAULT=deny, an unlisted one shows) and
// without ids no call could name (wildcard routes, comma lists): what a
// caller cannot use, it does not see.
func (h *Handler) listModels(c *call, r *http.Request) {
	if !h.admit(c, r, false) {
		return
	}
	ans, err := h.exchange(c, r, http.MethodGet, "models", nil)
	if err != nil {
		h.writeError(c, err)
		return
	}
	if ans.status != http.StatusOK {
		h.relay(c, ans)
		return
	}
	var list struct {
		Data []json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(ans.body, &list); err != nil {
		h.writeError(c, apierr.Wrap(apierr.BadGateway, err, "the model upstream returned an unreadable model list").WithCode("upstream_bad_response"))
		return
	}
	visible := make([]json.RawMessage, 0, len(list.Data))
	for _, m := range list.Data {
		var model struct {
			ID string `json:"id"`
		}
		if json.Unmarshal(m, &model) == nil && model.ID != "" && h.perms.allows(*c.principal, model.ID) {
			visible = append(visible, m)
		}
	}
	body, err := json.Marshal(map[string]any{"object": "list", "data": visible})
	if err != nil {
		h.writeError(c, apierr.Wrap(apierr.Internal, err, "encoding the model list"))
		return
	}
	hdr := http.Header{}
	hdr.Set("Content-Type", "application/json")
	h.writeBody(c, http.StatusOK, hdr, body)
}

// getModel answers one model. A model the caller may not use is reported
// as missing, as in the list.
func (h *Handler) getModel(c *call, r *http.Request, id string) {
	c.model = id
	if !h.perms.allows(*c.principal, id) {
		h.writeError(c, apierr.New(apierr.NotFound, "The model '%s' does not exist or you do not have access to it", truncate(id, 200)).WithCode("model_not_found"))
		return
	}
	if !h.admit(c, r, false) {
		return
	}
	h.forward(c, r, http.MethodGet, "models/"+id, nil, false)
}

// infer forwards a model call once the caller may use its model, the body
// cannot make the upstream serve another one (see readModelRequest) and
// the limits admit it. The body is forwarded unchanged, but for one
// addition to a streamed call whose usage is recorded (see
// usageStreamBody).
func (h *Handler) infer(c *call, r *http.Request, endpoint string) {
	body, err := h.readBody(r)
	if err != nil {
		h.writeError(c, err)
		return
	}
	routingAllowed := h.perms.isAdmin(*c.principal)
	req, err := readModelRequest(body, routingAllowed)
	c.model, c.stream = req.model, req.stream
	if err != nil {
		h.writeError(c, err)
		return
	}
	if !h.perms.allows(*c.principal, req.model) {
		h.writeError(c, withParam(req.modelKey, apierr.New(apierr.Forbidden, "You are not allowed to use the model '%s'", truncate(req.model, 200)).WithCode("model_not_allowed")))
		return
	}
	if !h.admit(c, r, true) {
		return
	}
	defer h.record(r, c)
	if c.meter.record && req.stream && endpoint != "embeddings" {
		body = h.usageStreamBody(c, r, body, req, routingAllowed)
	}
	h.forward(c, r, http.MethodPost, endpoint, body, req.stream)
}

// usageStreamBody returns the body to forward for a streamed call whose
// usage is recorded: with stream_options.include_usage added if the
// caller did not ask for it (askForUsage), and the relay told to take the
// usage-only chunk out again, so that the caller receives what it would
// without metering. The rewritten body is checked again as the caller's
// was and must come out with the same model and stream: otherwise the
// caller's body goes as it came, and the call is counted without tokens.
func (h *Handler) usageStreamBody(c *call, r *http.Request, body []byte, req modelRequest, routingAllowed bool) []byte {
	out, rewritten, asked := askForUsage(body)
	if asked || !rewritten {
		if !asked {
			c.meter.noUse = "the streamed body's stream_options could not be amended unambiguously"
		}
		return body
	}
	again, err := readModelRequest(out, routingAllowed)
	if err != nil || again.model != req.model || again.stream != req.stream || again.modelKey != req.modelKey {
		h.cfg.Logger.LogAttrs(r.Context(), slog.LevelWarn, "serve: usage: asking the upstream for usage would change the call; forwarded as sent",
			slog.String("requestId", c.id), slog.String("tokenUUID", c.meter.tokenUUID))
		c.meter.noUse = "the body could not be amended"
		return body
	}
	c.meter.strip = true
	return out
}

// forward relays the upstream's answer to a call: read whole and written
// at once in Lambda mode, as it arrives in streaming mode (see relayStream).
func (h *Handler) forward(c *call, r *http.Request, method, endpoint string, body []byte, stream bool) {
	if h.cfg.Stream {
		h.relayStream(c, r, method, endpoint, body, stream)
		return
	}
	ans, err := h.exchange(c, r, method, endpoint, body)
	if err != nil {
		h.writeError(c, err)
		return
	}
	if stream && ans.status == http.StatusOK && ans.header.Get("Content-Type") == "" {
		ans.header.Set("Content-Type", "text/event-stream")
	}
	h.meterAnswer(c, ans)
	h.relay(c, ans)
}

func (h *Handler) readBody(r *http.Request) ([]byte, error) {
	max := h.cfg.MaxRequestBytes
	why := "the ALB's limit for Lambda targets"
	if h.cfg.Stream {
		why = "the serve path's limit"
	}
	tooLarge := apierr.New(apierr.TooLarge, "request body is larger than %d bytes (%s)", max, why).WithCode("request_too_large")
	if r.ContentLength > int64(max) {
		return nil, tooLarge
	}
	if r.Body == nil { // only for requests built by hand: servers always set one
		return nil, nil
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, int64(max)+1))
	if err != nil {
		return nil, apierr.Wrap(apierr.Invalid, err, "the request body could not be read").WithCode("invalid_body")
	}
	if len(body) > max {
		return nil, tooLarge
	}
	return body, nil
}

// answer is an upstream response, read whole.
type answer struct {
	status int
	header http.Header // only what may be relayed
	body   []byte
}

// errIdleTimeout is the cause of an upstream call canceled in streaming
// mode because the upstream sent nothing for the timeout.
var errIdleTimeout = errors.New("the model upstream sent nothing within the idle timeout")

// upstreamCall is an upstream answer whose body is still to be read.
type upstreamCall struct {
	resp    *http.Response // Body already counts as activity for the idle timeout
	ctx     context.Context
	parent  context.Context
	timeout time.Duration
	done    func() // closes the body and releases the context
}

// failed classifies an error of reading the body.
func (u *upstreamCall) failed(err error) error { return upstreamError(u.ctx, u.parent, u.timeout, err) }

// send makes one upstream call with the upstream's key. In Lambda mode the
// timeout bounds the whole exchange, reading the answer included; in
// streaming mode it is an idle timeout, restarted by every read that
// returns data, so a long generation is not cut off while it produces.
// Either way the call ends as soon as the caller's request does.
func (h *Handler) send(c *call, r *http.Request, method, endpoint string, body []byte) (*upstreamCall, error) {
	timeout := h.cfg.Timeout
	if dl, ok := r.Context().Deadline(); ok {
		if left := time.Until(dl) - deadlineReserve; left < timeout {
			timeout = max(left, time.Millisecond)
		}
	}
	var (
		ctx    context.Context
		cancel func()
		idle   *time.Timer
	)
	if h.cfg.Stream {
		cctx, ccancel := context.WithCancelCause(r.Context())
		idle = time.AfterFunc(timeout, func() { ccancel(errIdleTimeout) })
		ctx, cancel = cctx, func() { idle.Stop(); ccancel(nil) }
	} else {
		ctx, cancel = context.WithTimeout(r.Context(), timeout)
	}

	var rb io.Reader = http.NoBody
	if body != nil {
		rb = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, h.cfg.UpstreamURL+"/"+escapePath(endpoint), rb)
	if err != nil {
		cancel()
		return nil, apierr.Wrap(apierr.Internal, err, "building the upstream request")
	}
	for _, k := range forwardedRequestHeaders {
		if vs := r.Header.Values(k); len(vs) > 0 {
			req.Header[k] = vs
		}
	}
	if h.cfg.UpstreamKey != "" {
		req.Header.Set("Authorization", "Bearer "+h.cfg.UpstreamKey)
	}
	req.Header.Set("X-Request-Id", c.id)

	start := time.Now()
	resp, err := h.cfg.Client.Do(req)
	if err != nil {
		c.upstreamTime = time.Since(start)
		cancel()
		return nil, upstreamError(ctx, r.Context(), timeout, err)
	}
	c.upstreamStatus = resp.StatusCode
	u := &upstreamCall{resp: resp, ctx: ctx, parent: r.Context(), timeout: timeout, done: func() {
		resp.Body.Close()
		cancel()
		c.upstreamTime = time.Since(start)
	}}
	if idle != nil {
		idle.Reset(timeout)
		resp.Body = &idleBody{ReadCloser: resp.Body, timer: idle, timeout: timeout}
	}
	switch s := resp.StatusCode; {
	case s == http.StatusUnauthorized || s == http.StatusForbidden:
		u.done()
		// The upstream refused the gateway's key, not the caller's: a 401
		// would make the caller's SDK report their own key as invalid.
		return nil, apierr.New(apierr.BadGateway, "the model upstream refused the gateway's credentials").WithCode("upstream_auth_failed")
	case s >= 300 && s < 400:
		u.done()
		return nil, apierr.New(apierr.BadGateway, "the model upstream answered with a redirect").WithCode("upstream_bad_response")
	}
	return u, nil
}

// idleBody restarts the idle timer whenever the upstream sends data.
type idleBody struct {
	io.ReadCloser
	timer   *time.Timer
	timeout time.Duration
}

func (b *idleBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if n > 0 {
		b.timer.Reset(b.timeout)
	}
	return n, err
}

// exchange makes one upstream call and reads the answer whole: within the
// ALB's limit in Lambda mode, without a size limit in streaming mode.
func (h *Handler) exchange(c *call, r *http.Request, method, endpoint string, body []byte) (*answer, error) {
	u, err := h.send(c, r, method, endpoint, body)
	if err != nil {
		return nil, err
	}
	defer u.done()
	var b []byte
	if h.cfg.Stream {
		b, err = io.ReadAll(u.resp.Body)
	} else {
		limit := h.cfg.MaxResponseBytes
		b, err = io.ReadAll(io.LimitReader(u.resp.Body, int64(limit)+1))
		// The ALB encoding is never shorter than the body itself.
		if err == nil && len(b) > limit {
			return nil, errResponseTooLarge
		}
	}
	if err != nil {
		return nil, u.failed(err)
	}
	return &answer{status: u.resp.StatusCode, header: relayedHeaders(u.resp.Header), body: b}, nil
}

var errResponseTooLarge = apierr.New(apierr.BadGateway, "upstream response exceeds the 1 MB ALB limit").WithCode("upstream_response_too_large")

// escapePath escapes each segment of a clean, decoded path.
func escapePath(p string) string {
	segs := strings.Split(p, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return strings.Join(segs, "/")
}

// relayedHeaders keeps the upstream headers a caller has use for. Others
// (cookies, spend and routing details of a LiteLLM, internal URLs) stay
// behind.
func relayedHeaders(up http.Header) http.Header {
	out := http.Header{}
	for k, vs := range up {
		switch {
		case k == "Content-Type", k == "Retry-After", strings.HasPrefix(k, "X-Ratelimit-"):
			out[k] = vs
		}
	}
	return out
}

// upstreamError classifies a failed exchange: the timeout is 504, anything
// else (refused connection, reset, DNS) is 502.
func upstreamError(ctx, parent context.Context, timeout time.Duration, err error) error {
	if parent.Err() != nil {
		return apierr.Wrap(apierr.BadGateway, err, "the request was canceled before the model upstream answered").WithCode("request_canceled")
	}
	if errors.Is(context.Cause(ctx), errIdleTimeout) {
		return apierr.Wrap(apierr.GatewayTimeout, err, "the model upstream sent nothing for %s", timeout.Round(time.Millisecond)).WithCode("upstream_timeout")
	}
	var ne net.Error
	if errors.Is(ctx.Err(), context.DeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		return apierr.Wrap(apierr.GatewayTimeout, err, "the model upstream did not answer within %s", timeout.Round(time.Millisecond)).WithCode("upstream_timeout")
	}
	return apierr.Wrap(apierr.BadGateway, err, "the model upstream could not be reached").WithCode("upstream_unavailable")
}

func (h *Handler) relay(c *call, ans *answer) {
	h.writeBody(c, ans.status, ans.header, ans.body)
}

// writeBody writes a successful (or relayed) answer, unless its ALB
// encoding would be over the limit: then the caller gets a 502 that says
// so, never a truncated body.
func (h *Handler) writeBody(c *call, status int, hdr http.Header, body []byte) {
	dropUpstreamRateHeaders(c, hdr)
	wh := c.w.Header()
	for k, vs := range hdr {
		wh[k] = vs
	}
	if !h.cfg.Stream && albevent.ResponseSize(status, wh, body) > h.cfg.MaxResponseBytes {
		for k := range hdr {
			wh.Del(k)
		}
		h.writeError(c, errResponseTooLarge)
		return
	}
	c.status, c.bytes = status, len(body)
	c.w.WriteHeader(status)
	_, _ = c.w.Write(body) // a vanished caller cannot be told
}

// log writes the one line of a request. It never includes a credential or
// the upstream key: headers are not logged at all.
func (h *Handler) log(r *http.Request, c *call) {
	attrs := []slog.Attr{
		slog.String("requestId", c.id),
		slog.String("method", r.Method),
		slog.String("path", truncate(r.URL.Path, 200)),
		slog.Int("status", c.status),
		slog.Int64("durationMs", time.Since(c.start).Milliseconds()),
	}
	if t := r.Header.Get("X-Amzn-Trace-Id"); t != "" {
		attrs = append(attrs, slog.String("traceId", truncate(t, 200)))
	}
	if p := c.principal; p != nil {
		attrs = append(attrs, slog.String("username", p.Username), slog.String("authType", string(p.AuthType)))
		if p.TokenUUID != "" {
			attrs = append(attrs, slog.String("tokenUUID", p.TokenUUID))
		}
	}
	if c.model != "" {
		attrs = append(attrs, slog.String("model", truncate(c.model, 200)), slog.Bool("stream", c.stream))
	}
	if c.upstreamStatus != 0 || c.upstreamTime != 0 {
		attrs = append(attrs, slog.Int("upstreamStatus", c.upstreamStatus), slog.Int64("upstreamMs", c.upstreamTime.Milliseconds()))
	}
	level, msg := slog.LevelInfo, "serve request"
	if c.err != nil {
		attrs = append(attrs, slog.String("reason", reasonOf(c.err)))
		if c.status >= 500 || c.midStream {
			level, msg = slog.LevelError, "serve request failed"
			attrs = append(attrs, slog.String("error", c.err.Error()))
		} else {
			msg = "serve request refused"
		}
	} else {
		attrs = append(attrs, slog.Int("bytes", c.bytes))
	}
	h.cfg.Logger.LogAttrs(r.Context(), level, msg, attrs...)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
