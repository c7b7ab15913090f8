package serve_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/llmgw/apitokens/pkg/serve"
)

// streamEnv starts up as the upstream (answering under /v1) and a serve
// handler in streaming mode in front of it; it returns the handler's URL.
func streamEnv(t *testing.T, timeout time.Duration, up http.HandlerFunc) string {
	t.Helper()
	upSrv := httptest.NewServer(up)
	t.Cleanup(upSrv.Close)
	h, err := serve.New(serve.Config{
		UpstreamURL: upSrv.URL + "/v1",
		UpstreamKey: upstreamKey,
		Timeout:     timeout,
		Stream:      true,
		Logger:      slog.New(slog.DiscardHandler),
	}, stubAuth(nil))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

// openStream posts a streamed chat and returns the answer, whose body the
// caller reads; ctx bounds it.
func openStream(t *testing.T, ctx context.Context, base string) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, "POST", base+"/v2/serve/chat/completions", strings.NewReader(chatBody("local-echo", "hi", true)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+userToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("status %d, Content-Type %q: %s", resp.StatusCode, resp.Header.Get("Content-Type"), b)
	}
	return resp
}

// events reads server-sent events ("data: ..." lines) until the body ends.
func events(t *testing.T, body io.Reader) []string {
	t.Helper()
	var out []string
	sc := bufio.NewScanner(body)
	sc.Buffer(make([]byte, 1<<20), 8<<20)
	for sc.Scan() {
		if d, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
			out = append(out, d)
		}
	}
	return out
}

func sseStart(w http.ResponseWriter) *http.ResponseController {
	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(http.StatusOK)
	return http.NewResponseController(w)
}

func sendEvent(w http.ResponseWriter, rc *http.ResponseController, data string) {
	fmt.Fprintf(w, "data: %s\n\n", data)
	_ = rc.Flush()
}

// wantInBandError checks that evs ends with an OpenAI-shaped error event
// with code, and has no [DONE].
func wantInBandError(t *testing.T, evs []string, code string) {
	t.Helper()
	if len(evs) == 0 {
		t.Fatal("no events")
	}
	for _, e := range evs {
		if e == "[DONE]" {
			t.Fatalf("a failed stream ended with [DONE]: %q", evs)
		}
	}
	var er serve.ErrorResponse
	if err := json.Unmarshal([]byte(evs[len(evs)-1]), &er); err != nil || er.Error.Code != code || er.Error.Message == "" || er.Error.Type == "" {
		t.Fatalf("last event %q is not an error with code %q (%v)", evs[len(evs)-1], code, err)
	}
}

// TestStreamIsFlushedPerEvent: the upstream sends its second event only
// after the client has received the first, so a buffering relay deadlocks
// (and fails on the context's bound) while a streaming one completes.
func TestStreamIsFlushedPerEvent(t *testing.T) {
	seen := make(chan struct{})
	base := streamEnv(t, 5*time.Second, func(w http.ResponseWriter, r *http.Request) {
		rc := sseStart(w)
		sendEvent(w, rc, `{"n":1}`)
		select {
		case <-seen:
		case <-r.Context().Done():
			return
		}
		sendEvent(w, rc, `{"n":2}`)
		sendEvent(w, rc, "[DONE]")
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp := openStream(t, ctx, base)
	br := bufio.NewReader(resp.Body)
	line, err := br.ReadString('\n')
	if err != nil || line != "data: {\"n\":1}\n" {
		t.Fatalf("first line %q, %v: the first event was not relayed before the upstream finished", line, err)
	}
	close(seen)
	if evs := events(t, br); strings.Join(evs, "|") != `{"n":2}|[DONE]` {
		t.Fatalf("rest of the stream = %q", evs)
	}
}

// TestStreamIdleTimeoutIsResetPerChunk: a 1 s generation with an event
// every 50 ms completes under a 200 ms timeout.
func TestStreamIdleTimeoutIsResetPerChunk(t *testing.T) {
	base := streamEnv(t, 200*time.Millisecond, func(w http.ResponseWriter, r *http.Request) {
		rc := sseStart(w)
		for i := 0; i < 20; i++ {
			sendEvent(w, rc, fmt.Sprintf(`{"n":%d}`, i))
			time.Sleep(50 * time.Millisecond)
		}
		sendEvent(w, rc, "[DONE]")
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	evs := events(t, openStream(t, ctx, base).Body)
	if len(evs) != 21 || evs[20] != "[DONE]" {
		t.Fatalf("got %d events, last %q: the stream was cut", len(evs), evs[len(evs)-1])
	}
}

// TestStreamIdleTimeoutFires: an upstream that stalls after one event is
// given up after the idle timeout, with an in-band error, and its request
// is canceled.
func TestStreamIdleTimeoutFires(t *testing.T) {
	upDone := make(chan struct{})
	base := streamEnv(t, 200*time.Millisecond, func(w http.ResponseWriter, r *http.Request) {
		rc := sseStart(w)
		sendEvent(w, rc, `{"n":1}`)
		select {
		case <-r.Context().Done():
			close(upDone)
		case <-time.After(10 * time.Second):
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	evs := events(t, openStream(t, ctx, base).Body)
	if evs[0] != `{"n":1}` {
		t.Fatalf("events = %q", evs)
	}
	wantInBandError(t, evs, "upstream_timeout")
	select {
	case <-upDone:
	case <-time.After(5 * time.Second):
		t.Fatal("the stalled upstream request was not canceled")
	}
}

// TestClientCancelCancelsUpstream: a caller that goes away mid-stream ends
// the upstream request at once.
func TestClientCancelCancelsUpstream(t *testing.T) {
	upDone := make(chan struct{})
	base := streamEnv(t, 30*time.Second, func(w http.ResponseWriter, r *http.Request) {
		rc := sseStart(w)
		sendEvent(w, rc, `{"n":1}`)
		select {
		case <-r.Context().Done():
			close(upDone)
		case <-time.After(20 * time.Second):
		}
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	resp := openStream(t, ctx, base)
	if line, err := bufio.NewReader(resp.Body).ReadString('\n'); err != nil || !strings.HasPrefix(line, "data: ") {
		t.Fatalf("first line %q, %v", line, err)
	}
	cancel()
	select {
	case <-upDone:
	case <-time.After(5 * time.Second):
		t.Fatal("the upstream request outlived the caller's")
	}
}

// TestStreamErrorMidStream: an upstream connection that breaks after two
// events ends the stream with an in-band error, never with [DONE].
func TestStreamErrorMidStream(t *testing.T) {
	base := streamEnv(t, 5*time.Second, func(w http.ResponseWriter, r *http.Request) {
		rc := sseStart(w)
		sendEvent(w, rc, `{"n":1}`)
		fmt.Fprint(w, `data: {"n":2, "cut`) // half an event, then the connection breaks
		_ = rc.Flush()
		conn, _, err := rc.Hijack()
		if err == nil {
			conn.Close()
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	evs := events(t, openStream(t, ctx, base).Body)
	if evs[0] != `{"n":1}` {
		t.Fatalf("events = %q", evs)
	}
	wantInBandError(t, evs, "upstream_unavailable")
}

// TestLargeStreamArrivesWhole: 5 MB of events, five times the Lambda
// limit, arrive byte for byte; and the upstream sees its own key only.
func TestLargeStreamArrivesWhole(t *testing.T) {
	const size = 5_000_000
	var sent strings.Builder
	authz := make(chan string, 1)
	base := streamEnv(t, 5*time.Second, func(w http.ResponseWriter, r *http.Request) {
		authz <- r.Header.Get("Authorization") + "|" + r.Header.Get("Api-Key")
		rc := sseStart(w)
		piece := strings.Repeat("y", 4000)
		for i := 0; sent.Len() < size; i++ {
			ev := fmt.Sprintf("data: {\"n\":%d,\"t\":%q}\n\n", i, piece)
			sent.WriteString(ev)
			fmt.Fprint(w, ev)
		}
		sent.WriteString("data: [DONE]\n\n")
		sendEvent(w, rc, "[DONE]")
	})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	got, err := io.ReadAll(openStream(t, ctx, base).Body)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != sent.Len() || string(got) != sent.String() {
		t.Fatalf("received %d bytes, sent %d", len(got), sent.Len())
	}
	if a := <-authz; a != "Bearer "+upstreamKey+"|" || strings.Contains(a, userToken) {
		t.Fatalf("upstream saw credentials %q", a)
	}
}

// TestStreamingModeHasNoResponseLimit: a 3 MB JSON answer passes in
// streaming mode, where Lambda mode refuses it (see
// TestLargeUpstreamAnswersAreRefusedNotTruncated).
func TestStreamingModeHasNoResponseLimit(t *testing.T) {
	body := `{"id":"x","object":"chat.completion","pad":"` + strings.Repeat("z", 3<<20) + `"}`
	base := streamEnv(t, 5*time.Second, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, body)
	})
	req, _ := http.NewRequest("POST", base+"/v2/serve/chat/completions", strings.NewReader(chatBody("local-echo", "hi", false)))
	req.Header.Set("Authorization", "Bearer "+userToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || string(got) != body {
		t.Fatalf("status %d, %d bytes of %d", resp.StatusCode, len(got), len(body))
	}
}
