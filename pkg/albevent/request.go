package albevent

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"

	"github.com/llmgw/apitokens/pkg/auth"
)

// Limits of the ALB's Lambda integration. AWS documents both as "1 MB"
// without saying which megabyte; 10^6 is the smaller, so it is the one that
// is certain to fit.
const (
	// MaxRequestBodyBytes is the largest request body (decoded) an ALB
	// passes to a Lambda target.
	MaxRequestBodyBytes = 1_000_000
	// MaxResponseBytes is the largest response JSON (the whole encoded
	// events.ALBTargetGroupResponse, body and headers included) a Lambda
	// target may return to an ALB.
	MaxResponseBytes = 1_000_000
)

// LocalTargetGroupARN is the target group ARN FromHTTPRequest puts in the
// events of the local gateway.
const LocalTargetGroupARN = "arn:aws:elasticloadbalancing:local:000000000000:targetgroup/serve/0000000000000000"

// ErrRequestTooLarge is returned by FromHTTPRequest for a body over
// MaxRequestBodyBytes; the ALB answers such requests itself with 413.
var ErrRequestTooLarge = errors.New("albevent: request body exceeds the 1 MB ALB limit")

// MultiValue reports whether e was sent by a target group with multi-value
// headers enabled. Such events carry multiValueHeaders (and
// multiValueQueryStringParameters) instead of the single-value maps, even
// when they are empty.
func MultiValue(e events.ALBTargetGroupRequest) bool {
	return e.MultiValueHeaders != nil || e.MultiValueQueryStringParameters != nil
}

// ToHTTPRequest turns an ALB target event into a server-side *http.Request
// carrying ctx. Query parameters are joined back as received (the ALB does
// not decode them), so r.URL.Query() decodes them exactly once; their order
// is lost because the event holds them in a map. The "host" header becomes
// r.Host, and the last address of X-Forwarded-For (the one the ALB saw)
// becomes r.RemoteAddr. A base64 body is decoded.
func ToHTTPRequest(ctx context.Context, e events.ALBTargetGroupRequest) (*http.Request, error) {
	if e.HTTPMethod == "" {
		return nil, errors.New("albevent: event has no httpMethod")
	}
	path := e.Path
	if path == "" {
		path = "/"
	}
	if !strings.HasPrefix(path, "/") {
		return nil, fmt.Errorf("albevent: path %q does not start with /", path)
	}
	uri := path
	if q := rawQuery(e); q != "" {
		uri += "?" + q
	}
	u, err := url.ParseRequestURI(uri)
	if err != nil {
		return nil, fmt.Errorf("albevent: unusable path or query: %w", err)
	}
	body, err := decodeBody(e.Body, e.IsBase64Encoded)
	if err != nil {
		return nil, err
	}

	// One merge rule for every event: a target group in multi-value mode
	// sends multiValueHeaders (every value of a repeated header), one in
	// single-value mode only headers.
	h := auth.EventHeaders(e.Headers, e.MultiValueHeaders)
	host := h.Get("Host")
	h.Del("Host") // as net/http's server does: the host lives in r.Host

	r := &http.Request{
		Method:        e.HTTPMethod,
		URL:           u,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        h,
		Body:          http.NoBody,
		ContentLength: int64(len(body)),
		Host:          host,
		RequestURI:    uri,
		RemoteAddr:    remoteAddr(h),
	}
	if len(body) > 0 {
		r.Body = io.NopCloser(bytes.NewReader(body))
	}
	return r.WithContext(ctx), nil
}

// rawQuery rebuilds a query string from the event's parameters, in key
// order so that the result is deterministic.
func rawQuery(e events.ALBTargetGroupRequest) string {
	var parts []string
	if MultiValue(e) {
		for _, k := range sortedKeys(e.MultiValueQueryStringParameters) {
			for _, v := range e.MultiValueQueryStringParameters[k] {
				parts = append(parts, k+"="+v)
			}
		}
	} else {
		for _, k := range sortedKeys(e.QueryStringParameters) {
			parts = append(parts, k+"="+e.QueryStringParameters[k])
		}
	}
	return strings.Join(parts, "&")
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func remoteAddr(h http.Header) string {
	xff := h.Values("X-Forwarded-For")
	if len(xff) == 0 {
		return ""
	}
	all := strings.Split(xff[len(xff)-1], ",")
	return strings.TrimSpace(all[len(all)-1])
}

func decodeBody(body string, isBase64 bool) ([]byte, error) {
	if !isBase64 {
		return []byte(body), nil
	}
	b, err := base64.StdEncoding.DecodeString(body)
	if err != nil {
		return nil, fmt.Errorf("albevent: body is not valid base64: %w", err)
	}
	return b, nil
}

// FromHTTPRequest builds the event an ALB would send a Lambda target for r,
// in single- or multi-value mode. It is for the local gateway: header names
// are lower-cased; in single-value mode the last of repeated headers and
// query parameters wins, as on an ALB; query keys and values stay
// URL-encoded; X-Forwarded-For/-Proto/-Port and X-Amzn-Trace-Id are added
// as the ALB adds them; the body is sent as text for the content types the
// ALB sends as text (text/*, application/json, application/javascript,
// application/xml) and base64-encoded otherwise. A body over
// MaxRequestBodyBytes is refused with ErrRequestTooLarge.
func FromHTTPRequest(r *http.Request, multiValue bool) (events.ALBTargetGroupRequest, error) {
	var body []byte
	if r.Body != nil {
		var err error
		body, err = io.ReadAll(io.LimitReader(r.Body, MaxRequestBodyBytes+1))
		if err != nil {
			return events.ALBTargetGroupRequest{}, fmt.Errorf("albevent: reading request body: %w", err)
		}
		if len(body) > MaxRequestBodyBytes {
			return events.ALBTargetGroupRequest{}, ErrRequestTooLarge
		}
	}

	h := map[string][]string{}
	for k, vs := range r.Header {
		h[strings.ToLower(k)] = slices.Clone(vs)
	}
	if r.Host != "" {
		h["host"] = []string{r.Host}
	}
	if ip := remoteIP(r.RemoteAddr); ip != "" {
		// The ALB appends the address it saw to any X-Forwarded-For it got.
		if prev := h["x-forwarded-for"]; len(prev) > 0 {
			h["x-forwarded-for"] = []string{strings.Join(prev, ", ") + ", " + ip}
		} else {
			h["x-forwarded-for"] = []string{ip}
		}
	}
	proto := "http"
	if r.TLS != nil {
		proto = "https"
	}
	h["x-forwarded-proto"] = []string{proto}
	if port := localPort(r); port != "" {
		h["x-forwarded-port"] = []string{port}
	}
	if len(h["x-amzn-trace-id"]) == 0 {
		h["x-amzn-trace-id"] = []string{newTraceID(time.Now())}
	}

	q := map[string][]string{}
	for _, pair := range strings.Split(r.URL.RawQuery, "&") {
		if pair == "" {
			continue
		}
		k, v, _ := strings.Cut(pair, "=")
		q[k] = append(q[k], v)
	}

	e := events.ALBTargetGroupRequest{
		HTTPMethod: r.Method,
		Path:       r.URL.EscapedPath(),
		RequestContext: events.ALBTargetGroupRequestContext{
			ELB: events.ELBContext{TargetGroupArn: LocalTargetGroupARN},
		},
	}
	if e.Path == "" {
		e.Path = "/"
	}
	if multiValue {
		e.MultiValueHeaders = h
		e.MultiValueQueryStringParameters = q
	} else {
		e.Headers = lastValues(h)
		e.QueryStringParameters = lastValues(q)
	}
	if len(body) > 0 {
		if sentAsText(r.Header.Get("Content-Type")) && utf8.Valid(body) {
			e.Body = string(body)
		} else {
			e.Body = base64.StdEncoding.EncodeToString(body)
			e.IsBase64Encoded = true
		}
	}
	return e, nil
}

func lastValues(m map[string][]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, vs := range m {
		if len(vs) > 0 {
			out[k] = vs[len(vs)-1]
		}
	}
	return out
}

func remoteIP(addr string) string {
	if host, _, err := net.SplitHostPort(addr); err == nil {
		return host
	}
	return addr
}

func localPort(r *http.Request) string {
	if a, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		if _, port, err := net.SplitHostPort(a.String()); err == nil {
			return port
		}
	}
	if _, port, err := net.SplitHostPort(r.Host); err == nil {
		return port
	}
	return ""
}

// newTraceID returns an X-Amzn-Trace-Id root in the ALB's format.
func newTraceID(now time.Time) string {
	var b [12]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	return fmt.Sprintf("Root=1-%08x-%s", now.Unix(), hex.EncodeToString(b[:]))
}

// sentAsText reports whether the ALB passes a request body of this content
// type as text rather than base64.
func sentAsText(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	switch mt {
	case "application/json", "application/javascript", "application/xml":
		return true
	}
	return strings.HasPrefix(mt, "text/")
}
