package albevent

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
)

// Handler adapts h to the ALB's Lambda target interface, for lambda.Start.
// The answer uses the header mode of the request (the ALB rejects a
// single-value answer to a multi-value target group and vice versa). It
// never returns an error, because the ALB turns a function error into an
// opaque 502: an unusable event is answered 400, and an answer larger than
// MaxResponseBytes is replaced by a 502 that says so rather than cut.
//
// The handler's output is buffered: an ALB cannot stream a Lambda
// response, so flushes are accepted and ignored.
func Handler(h http.Handler) func(context.Context, events.ALBTargetGroupRequest) (events.ALBTargetGroupResponse, error) {
	return func(ctx context.Context, e events.ALBTargetGroupRequest) (events.ALBTargetGroupResponse, error) {
		multi := MultiValue(e)
		r, err := ToHTTPRequest(ctx, e)
		if err != nil {
			return textResponse(http.StatusBadRequest, "malformed load balancer event", multi), nil
		}
		w := &recorder{header: http.Header{}}
		h.ServeHTTP(w, r)
		if w.overflow {
			return textResponse(http.StatusBadGateway, tooLargeMessage, multi), nil
		}
		resp := NewResponse(w.code(), w.header, w.body.Bytes(), multi)
		if encodedSize(resp) > MaxResponseBytes {
			return textResponse(http.StatusBadGateway, tooLargeMessage, multi), nil
		}
		return resp, nil
	}
}

const tooLargeMessage = "response exceeds the 1 MB ALB limit"

// hopByHop are headers that describe one connection, not the message; the
// ALB sets its own (and Content-Length) on the client connection.
var hopByHop = []string{
	"Connection", "Keep-Alive", "Proxy-Connection", "Proxy-Authenticate",
	"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade",
	"Content-Length",
}

// NewResponse builds the ALB target answer for a status, headers and body.
// In single-value mode repeated headers are joined with ", " (Set-Cookie,
// which cannot be joined, keeps its last value). The body is sent as text
// when it is valid UTF-8 of a textual content type and its JSON-escaped form
// is not longer than base64; otherwise it is base64-encoded, which the ALB
// decodes before answering the client.
func NewResponse(status int, h http.Header, body []byte, multiValue bool) events.ALBTargetGroupResponse {
	if status == 0 {
		status = http.StatusOK
	}
	resp := events.ALBTargetGroupResponse{
		StatusCode:        status,
		StatusDescription: strconv.Itoa(status) + " " + http.StatusText(status),
	}
	if multiValue {
		resp.MultiValueHeaders = map[string][]string{}
	} else {
		resp.Headers = map[string]string{}
	}
	for k, vs := range h {
		k = http.CanonicalHeaderKey(k)
		if len(vs) == 0 || isHopByHop(k) {
			continue
		}
		switch {
		case multiValue:
			resp.MultiValueHeaders[k] = append([]string(nil), vs...)
		case k == "Set-Cookie":
			resp.Headers[k] = vs[len(vs)-1]
		default:
			resp.Headers[k] = strings.Join(vs, ", ")
		}
	}
	resp.Body, resp.IsBase64Encoded = encodeBody(h.Get("Content-Type"), body)
	return resp
}

func isHopByHop(canonical string) bool {
	for _, k := range hopByHop {
		if k == canonical {
			return true
		}
	}
	return false
}

// ResponseSize returns the size of the response JSON the ALB would receive
// for this answer, taking the larger (multi-value) header mode, so that a
// handler can refuse an answer that would not fit in MaxResponseBytes before
// it writes it. Headers set later by the adapter are not counted: it sets
// none.
func ResponseSize(status int, h http.Header, body []byte) int {
	return encodedSize(NewResponse(status, h, body, true))
}

// encodedSize is the size of resp as the Lambda runtime sends it, or an
// upper bound of it: HTML escaping is on here and off by default in the
// runtime, and it only makes the JSON longer.
func encodedSize(resp events.ALBTargetGroupResponse) int {
	var buf bytes.Buffer
	if err := json.NewEncoder(&buf).Encode(resp); err != nil {
		return MaxResponseBytes + 1 // cannot happen for these types; refuse rather than guess
	}
	return buf.Len()
}

func encodeBody(contentType string, body []byte) (string, bool) {
	if len(body) == 0 {
		return "", false
	}
	if textual(contentType) && utf8.Valid(body) && jsonStringLen(body) <= base64.StdEncoding.EncodedLen(len(body))+2 {
		return string(body), false
	}
	return base64.StdEncoding.EncodeToString(body), true
}

// textual reports whether a body of this content type is text, worth
// keeping readable in the event.
func textual(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	if strings.HasPrefix(mt, "text/") || strings.HasSuffix(mt, "+json") || strings.HasSuffix(mt, "+xml") {
		return true
	}
	switch mt {
	case "application/json", "application/javascript", "application/xml",
		"application/x-ndjson", "application/x-www-form-urlencoded":
		return true
	}
	return false
}

// jsonStringLen is the length of s encoded as a JSON string by
// encoding/json with HTML escaping, quotes included. It never undercounts:
// \b and \f are counted as \u0008 and \u000c, as older Go versions write
// them.
func jsonStringLen(s []byte) int {
	n := 2
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\' || c == '\n' || c == '\r' || c == '\t':
				n += 2
			case c < 0x20 || c == '<' || c == '>' || c == '&':
				n += 6
			default:
				n++
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			n += 6 // written as \ufffd
		case r == '\u2028' || r == '\u2029':
			n += 6
		default:
			n += size
		}
		i += size
	}
	return n
}

func textResponse(status int, msg string, multiValue bool) events.ALBTargetGroupResponse {
	h := http.Header{}
	h.Set("Content-Type", "text/plain; charset=utf-8")
	return NewResponse(status, h, []byte(msg+"\n"), multiValue)
}

// recorder buffers a handler's answer, up to what could still fit in an
// ALB response, so that a runaway handler cannot exhaust the function's
// memory.
type recorder struct {
	header   http.Header
	status   int
	body     bytes.Buffer
	overflow bool
}

var errOverflow = errors.New("albevent: response exceeds the 1 MB ALB limit")

func (w *recorder) Header() http.Header { return w.header }

func (w *recorder) WriteHeader(code int) {
	if w.status != 0 || code < 200 { // informational answers cannot be relayed
		return
	}
	w.status = code
}

func (w *recorder) Write(p []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	if w.overflow || w.body.Len()+len(p) > MaxResponseBytes {
		w.overflow = true
		return 0, errOverflow
	}
	return w.body.Write(p)
}

// Flush is accepted so that handlers which flush (server-sent events) work;
// the whole answer is sent at the end either way.
func (w *recorder) Flush() {}

func (w *recorder) code() int {
	if w.status == 0 {
		return http.StatusOK
	}
	return w.status
}

// WriteResponse writes an ALB target answer to w as the ALB would: the
// multi-value headers if the answer has them, the single-value ones
// otherwise. An answer the ALB could not use (over MaxResponseBytes of JSON,
// an invalid status or base64 body) becomes a 502, as on an ALB.
func WriteResponse(w http.ResponseWriter, resp events.ALBTargetGroupResponse) {
	body, err := responseBody(resp)
	if err != nil {
		http.Error(w, "502 Bad Gateway: "+err.Error(), http.StatusBadGateway)
		return
	}
	h := w.Header()
	if resp.MultiValueHeaders != nil {
		for k, vs := range resp.MultiValueHeaders {
			for _, v := range vs {
				h.Add(k, v)
			}
		}
	} else {
		for k, v := range resp.Headers {
			h.Set(k, v)
		}
	}
	for _, k := range hopByHop {
		h.Del(k)
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(body) // the client is gone if this fails; nothing to tell it
}

func responseBody(resp events.ALBTargetGroupResponse) ([]byte, error) {
	if resp.StatusCode < 100 || resp.StatusCode > 599 {
		return nil, fmt.Errorf("the Lambda target returned the invalid status code %d", resp.StatusCode)
	}
	if encodedSize(resp) > MaxResponseBytes {
		return nil, errors.New("the Lambda target's " + tooLargeMessage)
	}
	if !resp.IsBase64Encoded {
		return []byte(resp.Body), nil
	}
	b, err := base64.StdEncoding.DecodeString(resp.Body)
	if err != nil {
		return nil, errors.New("the Lambda target returned an invalid base64 body")
	}
	return b, nil
}
