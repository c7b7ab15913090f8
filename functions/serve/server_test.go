package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/llmgw/apitokens/pkg/config"
)

// startServer runs the container server on a loopback port in front of
// up; cancel stands for SIGTERM. done yields run's result.
func startServer(t *testing.T, drain string, up http.HandlerFunc) (base string, cancel func(), done <-chan error) {
	t.Helper()
	upSrv := httptest.NewServer(up)
	t.Cleanup(upSrv.Close)
	env := map[string]string{
		config.EnvServeUpstreamURL:  upSrv.URL + "/v1",
		config.EnvServeDrainSeconds: drain,
	}
	cfg, err := config.Load(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	srv, err := newServer(cfg, fixtureAuth, upstreamKeyValue, nil, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	errc, finished := make(chan error, 1), make(chan struct{})
	go func() { errc <- srv.run(ctx, ln); close(finished) }()
	t.Cleanup(func() {
		stop()
		select {
		case <-finished:
		case <-time.After(10 * time.Second):
		}
	})
	return "http://" + ln.Addr().String(), stop, errc
}

func postStream(t *testing.T, base string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest("POST", base+"/v2/serve/chat/completions",
		strings.NewReader(`{"model":"local-echo","stream":true,"messages":[{"role":"user","content":"hi"}]}`))
	req.Header.Set("Authorization", "Bearer user-token")
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// TestContainerDrainsStreamsOnShutdown: after the signal, a stream in
// flight still completes, the server then stops (run returns nil) and
// accepts no new connections.
func TestContainerDrainsStreamsOnShutdown(t *testing.T) {
	release := make(chan struct{})
	base, sigterm, done := startServer(t, "10", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, "data: {\"n\":1}\n\n")
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
			return
		}
		fmt.Fprint(w, "data: {\"n\":2}\n\ndata: [DONE]\n\n")
	})
	resp, err := http.Get(base + HealthPath)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("health: %v, %v", resp, err)
	}
	resp.Body.Close()

	st := postStream(t, base)
	br := bufio.NewReader(st.Body)
	if line, err := br.ReadString('\n'); err != nil || line != "data: {\"n\":1}\n" {
		t.Fatalf("first line %q, %v", line, err)
	}
	sigterm()
	select {
	case err := <-done:
		t.Fatalf("run returned (%v) with a stream in flight", err)
	case <-time.After(200 * time.Millisecond):
	}
	close(release)
	rest, _ := io.ReadAll(br)
	if !strings.HasSuffix(string(rest), "data: [DONE]\n\n") {
		t.Fatalf("the stream in flight was cut: %q", rest)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run = %v, want nil after a clean drain", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the server did not stop after its last stream")
	}
	if _, err := http.Get(base + HealthPath); err == nil {
		t.Fatal("the stopped server still accepts connections")
	}
}

// TestContainerDrainTimeoutCutsStuckStreams: a stream that does not end
// within SERVE_DRAIN_SECONDS does not keep the process alive.
func TestContainerDrainTimeoutCutsStuckStreams(t *testing.T) {
	base, sigterm, done := startServer(t, "1", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, "data: {\"n\":1}\n\n")
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	})
	st := postStream(t, base)
	if line, err := bufio.NewReader(st.Body).ReadString('\n'); err != nil || !strings.HasPrefix(line, "data: ") {
		t.Fatalf("first line %q, %v", line, err)
	}
	sigterm()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run = %v", err)
		}
	case <-time.After(8 * time.Second):
		t.Fatal("a stuck stream kept the server past its drain time")
	}
}
