package albevent

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
)

func TestToHTTPRequest(t *testing.T) {
	tests := []struct {
		name      string
		event     events.ALBTargetGroupRequest
		wantPath  string
		wantQuery map[string][]string
		wantHdr   map[string][]string
		wantHost  string
		wantBody  string
		wantAddr  string
	}{
		{
			name: "single-value, encoded query",
			event: events.ALBTargetGroupRequest{
				HTTPMethod:            "GET",
				Path:                  "/v2/serve/models",
				QueryStringParameters: map[string]string{"q": "a%20b%26c", "plus": "x+y", "k%3D": "v"},
				Headers:               map[string]string{"host": "alb.example", "authorization": "Bearer t", "x-forwarded-for": "1.2.3.4, 10.0.0.1"},
			},
			wantPath:  "/v2/serve/models",
			wantQuery: map[string][]string{"q": {"a b&c"}, "plus": {"x y"}, "k=": {"v"}},
			wantHdr:   map[string][]string{"Authorization": {"Bearer t"}},
			wantHost:  "alb.example",
			wantAddr:  "10.0.0.1",
		},
		{
			name: "multi-value, repeated query and headers",
			event: events.ALBTargetGroupRequest{
				HTTPMethod:                      "POST",
				Path:                            "/v2/serve/chat/completions",
				MultiValueQueryStringParameters: map[string][]string{"a": {"1", "2"}},
				MultiValueHeaders:               map[string][]string{"host": {"alb.example"}, "x-multi": {"one", "two"}, "content-type": {"application/json"}},
				Body:                            `{"model":"m"}`,
			},
			wantPath:  "/v2/serve/chat/completions",
			wantQuery: map[string][]string{"a": {"1", "2"}},
			wantHdr:   map[string][]string{"X-Multi": {"one", "two"}, "Content-Type": {"application/json"}},
			wantHost:  "alb.example",
			wantBody:  `{"model":"m"}`,
		},
		{
			name: "base64 body",
			event: events.ALBTargetGroupRequest{
				HTTPMethod:      "POST",
				Path:            "/upload",
				Headers:         map[string]string{"content-type": "application/octet-stream"},
				Body:            base64.StdEncoding.EncodeToString([]byte{0, 1, 2, 0xff}),
				IsBase64Encoded: true,
			},
			wantPath: "/upload",
			wantBody: string([]byte{0, 1, 2, 0xff}),
		},
		{
			name:     "encoded path",
			event:    events.ALBTargetGroupRequest{HTTPMethod: "GET", Path: "/v2/serve/models/org%2Fmodel%20x"},
			wantPath: "/v2/serve/models/org/model x",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			type ctxKey struct{}
			ctx := context.WithValue(context.Background(), ctxKey{}, "v")
			r, err := ToHTTPRequest(ctx, tt.event)
			if err != nil {
				t.Fatalf("ToHTTPRequest: %v", err)
			}
			if r.Context().Value(ctxKey{}) != "v" {
				t.Error("request does not carry the context")
			}
			if r.Method != tt.event.HTTPMethod || r.URL.Path != tt.wantPath {
				t.Errorf("got %s %s, want %s %s", r.Method, r.URL.Path, tt.event.HTTPMethod, tt.wantPath)
			}
			for k, want := range tt.wantQuery {
				if got := r.URL.Query()[k]; !slices.Equal(got, want) {
					t.Errorf("query %q = %q, want %q", k, got, want)
				}
			}
			for k, want := range tt.wantHdr {
				if got := r.Header.Values(k); !slices.Equal(got, want) {
					t.Errorf("header %q = %q, want %q", k, got, want)
				}
			}
			if r.Host != tt.wantHost || r.Header.Get("Host") != "" {
				t.Errorf("host = %q (header %q), want %q only in r.Host", r.Host, r.Header.Get("Host"), tt.wantHost)
			}
			if r.RemoteAddr != tt.wantAddr {
				t.Errorf("RemoteAddr = %q, want %q", r.RemoteAddr, tt.wantAddr)
			}
			body, _ := io.ReadAll(r.Body)
			if string(body) != tt.wantBody || r.ContentLength != int64(len(tt.wantBody)) {
				t.Errorf("body = %q (length %d), want %q", body, r.ContentLength, tt.wantBody)
			}
		})
	}
}

func TestToHTTPRequestRefusesUnusableEvents(t *testing.T) {
	tests := map[string]events.ALBTargetGroupRequest{
		"no method":   {Path: "/"},
		"bad base64":  {HTTPMethod: "POST", Path: "/", Body: "%%%", IsBase64Encoded: true},
		"not a path":  {HTTPMethod: "GET", Path: "models"},
		"broken path": {HTTPMethod: "GET", Path: "/a%zz"},
	}
	for name, e := range tests {
		t.Run(name, func(t *testing.T) {
			if _, err := ToHTTPRequest(context.Background(), e); err == nil {
				t.Fatal("want an error")
			}
			resp, err := Handler(http.NotFoundHandler())(context.Background(), e)
			if err != nil || resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("Handler = %d, %v; want 400, nil", resp.StatusCode, err)
			}
		})
	}
}

// echo answers with what it received, and with headers that test the
// answer's header modes.
var echo = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	w.Header().Add("Set-Cookie", "a=1")
	w.Header().Add("Set-Cookie", "b=2")
	w.Header().Add("X-Multi", "one")
	w.Header().Add("X-Multi", "two")
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Connection", "close") // hop-by-hop: never relayed
	w.WriteHeader(http.StatusTeapot)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"method": r.Method, "path": r.URL.Path, "query": r.URL.Query(),
		"header": r.Header, "host": r.Host, "body": body,
	})
})

func TestHandlerAnswersInTheRequestMode(t *testing.T) {
	for _, multi := range []bool{false, true} {
		t.Run(mode(multi), func(t *testing.T) {
			e := events.ALBTargetGroupRequest{HTTPMethod: "GET", Path: "/"}
			if multi {
				e.MultiValueHeaders = map[string][]string{}
			} else {
				e.Headers = map[string]string{}
			}
			resp, err := Handler(echo)(context.Background(), e)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != http.StatusTeapot || resp.StatusDescription != "418 I'm a teapot" {
				t.Errorf("status = %d %q", resp.StatusCode, resp.StatusDescription)
			}
			if multi {
				if resp.Headers != nil || !slices.Equal(resp.MultiValueHeaders["X-Multi"], []string{"one", "two"}) ||
					len(resp.MultiValueHeaders["Set-Cookie"]) != 2 {
					t.Errorf("multi-value answer: headers %v, multiValueHeaders %v", resp.Headers, resp.MultiValueHeaders)
				}
				if _, ok := resp.MultiValueHeaders["Connection"]; ok {
					t.Error("hop-by-hop Connection header relayed")
				}
			} else {
				if resp.MultiValueHeaders != nil || resp.Headers["X-Multi"] != "one, two" || resp.Headers["Set-Cookie"] != "b=2" {
					t.Errorf("single-value answer: headers %v, multiValueHeaders %v", resp.Headers, resp.MultiValueHeaders)
				}
				if _, ok := resp.Headers["Connection"]; ok {
					t.Error("hop-by-hop Connection header relayed")
				}
			}
			if resp.IsBase64Encoded || !strings.HasPrefix(resp.Body, `{"body":`) {
				t.Errorf("JSON answer should be sent as text, got base64=%v %q", resp.IsBase64Encoded, resp.Body)
			}
		})
	}
}

func TestNewResponseBodyEncoding(t *testing.T) {
	quotes := strings.Repeat(`"`, 300) // escapes to twice its size: base64 is shorter
	tests := []struct {
		name        string
		contentType string
		body        []byte
		wantBase64  bool
	}{
		{"empty", "application/json", nil, false},
		{"json", "application/json", []byte(`{"a":"é"}`), false},
		{"event stream", "text/event-stream", []byte("data: {}\n\ndata: [DONE]\n\n"), false},
		{"binary", "application/octet-stream", []byte{0, 0xff}, true},
		{"no content type", "", []byte("hello"), true},
		{"text that is not UTF-8", "text/plain", []byte{0xff, 0xfe}, true},
		{"text that escapes badly", "text/plain", []byte(quotes), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			if tt.contentType != "" {
				h.Set("Content-Type", tt.contentType)
			}
			resp := NewResponse(200, h, tt.body, false)
			if resp.IsBase64Encoded != tt.wantBase64 {
				t.Fatalf("isBase64Encoded = %v, want %v", resp.IsBase64Encoded, tt.wantBase64)
			}
			got, err := responseBody(resp)
			if err != nil || !bytes.Equal(got, tt.body) {
				t.Errorf("body round trip = %q, %v; want %q", got, err, tt.body)
			}
		})
	}
}

func TestJSONStringLenNeverUndercounts(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := []string{"a", "é", "\"", "\\", "\n", "\t", "\x00", "\x1f", "<", ">", "&", "\u2028", "\xff", "€", "😀"}
	for i := 0; i < 2000; i++ {
		var b strings.Builder
		for j := rng.IntN(40); j > 0; j-- {
			b.WriteString(alphabet[rng.IntN(len(alphabet))])
		}
		s := b.String()
		enc, _ := json.Marshal(s)
		if got := jsonStringLen([]byte(s)); got != len(enc) {
			t.Fatalf("jsonStringLen(%q) = %d, encoding/json writes %d bytes", s, got, len(enc))
		}
	}
}

func TestResponseSizeIsAnUpperBound(t *testing.T) {
	h := http.Header{"Content-Type": {"application/json"}, "X-Multi": {"a", "b"}}
	body := []byte(`{"text":"<b>\"quoted\"</b>"}`)
	size := ResponseSize(200, h, body)
	for _, multi := range []bool{false, true} {
		resp := NewResponse(200, h, body, multi)
		b, _ := json.Marshal(resp) // what the Lambda runtime sends
		if len(b) > size {
			t.Errorf("%s: encoded response is %d bytes, ResponseSize said %d", mode(multi), len(b), size)
		}
	}
}

func TestHandlerRefusesOversizedAnswers(t *testing.T) {
	tests := map[string]http.HandlerFunc{
		// Under the limit as bytes, over it once JSON-escaped or base64-encoded.
		"encoding over the limit": func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			_, _ = w.Write(bytes.Repeat([]byte(`"`), MaxResponseBytes-10))
		},
		// More than the limit written: the handler is stopped.
		"body over the limit": func(w http.ResponseWriter, _ *http.Request) {
			for i := 0; i < 3; i++ {
				if _, err := w.Write(make([]byte, MaxResponseBytes/2)); err != nil {
					return
				}
			}
		},
	}
	for name, h := range tests {
		t.Run(name, func(t *testing.T) {
			resp, err := Handler(h)(context.Background(), events.ALBTargetGroupRequest{HTTPMethod: "GET", Path: "/"})
			if err != nil || resp.StatusCode != http.StatusBadGateway || !strings.Contains(resp.Body, "1 MB ALB limit") {
				t.Fatalf("got %d %q, %v; want a 502 naming the 1 MB ALB limit", resp.StatusCode, resp.Body, err)
			}
		})
	}
}

// gateway does what the ALB does, through the local-gateway conversions.
func gateway(t *testing.T, h http.Handler, multi bool) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e, err := FromHTTPRequest(r, multi)
		if errors.Is(err, ErrRequestTooLarge) {
			http.Error(w, "413 Request Entity Too Large", http.StatusRequestEntityTooLarge)
			return
		}
		if err != nil {
			t.Errorf("FromHTTPRequest: %v", err)
			return
		}
		resp, err := Handler(h)(r.Context(), e)
		if err != nil {
			t.Errorf("handler error: %v", err)
		}
		WriteResponse(w, resp)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestRoundTripOverHTTP(t *testing.T) {
	binary := []byte{0x00, 0x01, 0xfe, 0xff, '"'}
	for _, multi := range []bool{false, true} {
		t.Run(mode(multi), func(t *testing.T) {
			srv := gateway(t, echo, multi)
			req, _ := http.NewRequest("POST", srv.URL+"/v2/serve/x%20y?a=1&a=2&s=%C3%A9+%26&flag", bytes.NewReader(binary))
			req.Header.Set("Content-Type", "application/octet-stream")
			req.Header.Add("X-Rep", "first")
			req.Header.Add("X-Rep", "second")
			req.Header.Set("X-Forwarded-For", "203.0.113.9")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var got struct {
				Method, Path, Host string
				Query              map[string][]string
				Header             http.Header
				Body               []byte
			}
			if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != http.StatusTeapot {
				t.Errorf("status = %d, want 418", resp.StatusCode)
			}
			if got.Method != "POST" || got.Path != "/v2/serve/x y" || !bytes.Equal(got.Body, binary) {
				t.Errorf("got %s %q body %v", got.Method, got.Path, got.Body)
			}
			if got.Query["s"][0] != "é &" || got.Query["flag"][0] != "" {
				t.Errorf("query decoded wrongly: %v", got.Query)
			}
			wantA, wantRep := []string{"2"}, []string{"second"}
			if multi {
				wantA, wantRep = []string{"1", "2"}, []string{"first", "second"}
			}
			if !slices.Equal(got.Query["a"], wantA) || !slices.Equal(got.Header["X-Rep"], wantRep) {
				t.Errorf("repeated values: query a=%v header X-Rep=%v; want %v and %v", got.Query["a"], got.Header["X-Rep"], wantA, wantRep)
			}
			if xff := got.Header.Get("X-Forwarded-For"); !strings.HasPrefix(xff, "203.0.113.9, 127.0.0.1") {
				t.Errorf("X-Forwarded-For = %q, want the client's list with the peer appended", xff)
			}
			if got.Header.Get("X-Forwarded-Proto") != "http" || got.Header.Get("X-Amzn-Trace-Id") == "" {
				t.Errorf("ALB headers missing: %v", got.Header)
			}
			if got.Host != strings.TrimPrefix(srv.URL, "http://") {
				t.Errorf("host = %q", got.Host)
			}
			if cookies := resp.Header.Values("Set-Cookie"); (multi && len(cookies) != 2) || (!multi && len(cookies) != 1) {
				t.Errorf("Set-Cookie = %q", cookies)
			}
		})
	}
}

func TestFromHTTPRequestRefusesLargeBodies(t *testing.T) {
	r := httptest.NewRequest("POST", "/", bytes.NewReader(make([]byte, MaxRequestBodyBytes+1)))
	if _, err := FromHTTPRequest(r, false); !errors.Is(err, ErrRequestTooLarge) {
		t.Fatalf("err = %v, want ErrRequestTooLarge", err)
	}
	r = httptest.NewRequest("POST", "/", bytes.NewReader(make([]byte, MaxRequestBodyBytes)))
	if _, err := FromHTTPRequest(r, false); err != nil {
		t.Fatalf("a body of exactly the limit: %v", err)
	}
}

func TestWriteResponseRefusesWhatAnALBWould(t *testing.T) {
	tests := map[string]events.ALBTargetGroupResponse{
		"no status":      {Body: "x"},
		"invalid base64": {StatusCode: 200, Body: "%%", IsBase64Encoded: true},
		"too large":      {StatusCode: 200, Body: strings.Repeat("x", MaxResponseBytes)},
	}
	for name, resp := range tests {
		t.Run(name, func(t *testing.T) {
			w := httptest.NewRecorder()
			WriteResponse(w, resp)
			if w.Code != http.StatusBadGateway {
				t.Fatalf("status = %d, want 502", w.Code)
			}
		})
	}
}

// TestFixtures converts the serve function's fixture events to requests
// and back, in their own header mode, and checks nothing is lost (the
// X-Forwarded-* headers are the gateway's own and are rewritten).
func TestFixtures(t *testing.T) {
	files, err := filepath.Glob("../../functions/serve/testdata/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var e events.ALBTargetGroupRequest
			if err := json.Unmarshal(raw, &e); err != nil {
				t.Fatal(err)
			}
			r, err := ToHTTPRequest(context.Background(), e)
			if err != nil {
				t.Fatal(err)
			}
			wantBody, _ := decodeBody(e.Body, e.IsBase64Encoded)
			back, err := FromHTTPRequest(r, MultiValue(e))
			if err != nil {
				t.Fatal(err)
			}
			gotBody, _ := decodeBody(back.Body, back.IsBase64Encoded)
			if back.HTTPMethod != e.HTTPMethod || back.Path != e.Path || !bytes.Equal(gotBody, wantBody) {
				t.Errorf("round trip changed the request: %s %s %q -> %s %s %q", e.HTTPMethod, e.Path, wantBody, back.HTTPMethod, back.Path, gotBody)
			}
			if MultiValue(e) {
				for k, vs := range e.MultiValueQueryStringParameters {
					if !slices.Equal(back.MultiValueQueryStringParameters[k], vs) {
						t.Errorf("query %q: %q -> %q", k, vs, back.MultiValueQueryStringParameters[k])
					}
				}
				for k, vs := range e.MultiValueHeaders {
					if !strings.HasPrefix(k, "x-forwarded-") && !slices.Equal(back.MultiValueHeaders[k], vs) {
						t.Errorf("header %q: %q -> %q", k, vs, back.MultiValueHeaders[k])
					}
				}
			} else {
				for k, v := range e.QueryStringParameters {
					if back.QueryStringParameters[k] != v {
						t.Errorf("query %q: %q -> %q", k, v, back.QueryStringParameters[k])
					}
				}
				for k, v := range e.Headers {
					if !strings.HasPrefix(k, "x-forwarded-") && back.Headers[k] != v {
						t.Errorf("header %q: %q -> %q", k, v, back.Headers[k])
					}
				}
			}
		})
	}
}

func mode(multi bool) string {
	if multi {
		return "multi-value"
	}
	return "single-value"
}
