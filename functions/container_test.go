package functions_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/llmgw/apitokens/pkg/config"
	"github.com/llmgw/apitokens/pkg/local/devupstream"
	"github.com/llmgw/apitokens/pkg/local/lambdaemu"
)

// lockedBuffer collects a child's stdout and stderr, written from the
// exec package's copying goroutines and read by the test.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// container is a serve bootstrap running as an HTTP server.
type container struct {
	cmd    *exec.Cmd
	base   string
	out    *lockedBuffer
	exited chan struct{} // closed when the process has been waited for
	err    error         // cmd.Wait's result, set before exited closes
	exitAt time.Time
}

// freePort asks the kernel for a loopback port that is free now. The child
// binds it right after; startContainer retries when another process won.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// startContainer starts bin outside Lambda (no AWS_LAMBDA_RUNTIME_API)
// with env plus the container settings, and waits until its health path
// answers 200. The process is killed at cleanup if it is still running.
func startContainer(t *testing.T, bin string, env map[string]string, drainSeconds int) *container {
	t.Helper()
	for attempt := 1; ; attempt++ {
		port := freePort(t)
		c := &container{out: &lockedBuffer{}, exited: make(chan struct{}), base: "http://127.0.0.1:" + strconv.Itoa(port)}
		c.cmd = exec.Command(bin)
		c.cmd.Env = []string{
			config.EnvServeMode + "=" + config.ServeModeContainer,
			config.EnvPort + "=" + strconv.Itoa(port),
			config.EnvServeDrainSeconds + "=" + strconv.Itoa(drainSeconds),
			"AWS_REGION=us-east-1", "AWS_EC2_METADATA_DISABLED=true",
		}
		for k, v := range env {
			c.cmd.Env = append(c.cmd.Env, k+"="+v)
		}
		c.cmd.Stdout, c.cmd.Stderr = c.out, c.out
		if err := c.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go func() { c.err = c.cmd.Wait(); c.exitAt = time.Now(); close(c.exited) }()
		t.Cleanup(func() {
			_ = c.cmd.Process.Kill()
			<-c.exited
			if t.Failed() {
				t.Logf("serve container output:\n%s", c.out.String())
			}
		})
		if c.waitHealthy(t, 30*time.Second) {
			return c
		}
		if attempt < 3 && strings.Contains(c.out.String(), "address already in use") {
			continue
		}
		t.Fatalf("the container did not become healthy on port %d; output:\n%s", port, c.out.String())
	}
}

// waitHealthy polls the health path until it answers 200, the process
// exits or d passes.
func (c *container) waitHealthy(t *testing.T, d time.Duration) bool {
	t.Helper()
	deadline := time.Now().Add(d)
	client := &http.Client{Timeout: time.Second}
	for time.Now().Before(deadline) {
		select {
		case <-c.exited:
			return false
		default:
		}
		if resp, err := client.Get(c.base + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return true
			}
		}
		time.Sleep(25 * time.Millisecond)
	}
	return false
}

// sseStream reads a chat completion stream event by event.
type sseStream struct {
	resp *http.Response
	br   *bufio.Reader
}

// nextContent returns the content of the next event that carries some,
// done when [DONE] came instead, or the read error (a cut stream).
func (s *sseStream) nextContent() (content string, done bool, err error) {
	for {
		line, err := s.br.ReadString('\n')
		if err != nil {
			return "", false, err
		}
		data, ok := strings.CutPrefix(strings.TrimRight(line, "\r\n"), "data: ")
		if !ok {
			continue
		}
		if data == "[DONE]" {
			return "", true, nil
		}
		var ev struct {
			Choices []struct {
				Delta struct {
					Content string `json:"content"`
				} `json:"delta"`
			} `json:"choices"`
		}
		if err := json.Unmarshal([]byte(data), &ev); err != nil {
			return "", false, fmt.Errorf("event %q: %w", data, err)
		}
		for _, ch := range ev.Choices {
			if ch.Delta.Content != "" {
				return ch.Delta.Content, false, nil
			}
		}
	}
}

// stream starts a paced chat stream (events content events, ms apart)
// through the container, on a connection of its own.
func (c *container) stream(t *testing.T, token string, events, ms int) *sseStream {
	t.Helper()
	body := fmt.Sprintf(`{"model":%q,"stream":true,"messages":[{"role":"user","content":"pace:%dx%d"}]}`, devupstream.ModelEcho, events, ms)
	req, err := http.NewRequest("POST", c.base+"/v2/serve/chat/completions", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("stream answered %d: %s", resp.StatusCode, b)
	}
	return &sseStream{resp: resp, br: bufio.NewReader(resp.Body)}
}

// refusesNewConnections reports whether a fresh connection to the health
// path fails, polling for up to d (the signal arrives asynchronously).
func (c *container) refusesNewConnections(d time.Duration) (bool, string) {
	deadline := time.Now().Add(d)
	last := ""
	for {
		client := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
		resp, err := client.Get(c.base + "/healthz")
		if err != nil {
			return true, err.Error()
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		last = fmt.Sprintf("%d %s", resp.StatusCode, b)
		if time.Now().After(deadline) {
			return false, last
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestContainerSIGTERM sends a real SIGTERM to the real serve bootstrap
// running as a container (SERVE_MODE=container, no Lambda runtime): a
// stream in flight is drained to its end and the process exits 0 once it
// is done, new connections are refused from the signal on, and a stream
// longer than the drain time is cut when the drain time is over.
func TestContainerSIGTERM(t *testing.T) {
	l := newLive(t, map[string]string{config.EnvTokenCacheSeconds: "0"})
	env := l.Env
	token := l.apiToken(t, "stream-user", "sigterm")
	bin := lambdaemu.Build(t, "./serve")

	t.Run("drains", func(t *testing.T) {
		const events, drain = 10, 10
		c := startContainer(t, bin, env, drain)
		st := c.stream(t, token, events, 200)
		want := (devupstream.Pace{Events: events}).Text()
		first, done, err := st.nextContent()
		if err != nil || done {
			t.Fatalf("first event: %q, done %v, %v", first, done, err)
		}
		if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		sigAt := time.Now()

		// From the signal on, the server accepts no new connection; the
		// stream is still in flight (about 1.8 s of it are left).
		if refused, last := c.refusesNewConnections(2 * time.Second); !refused {
			t.Fatalf("a new connection after SIGTERM still got an answer: %s", last)
		}
		refusedAt := time.Since(sigAt)
		select {
		case <-c.exited:
			t.Fatalf("the process exited (%v) with a stream in flight", c.err)
		default:
		}

		text, n := first, 1
		for {
			s, done, err := st.nextContent()
			if err != nil {
				t.Fatalf("the stream was cut after %d events (%q): %v", n, text, err)
			}
			if done {
				break
			}
			text, n = text+s, n+1
		}
		doneAt := time.Since(sigAt)
		if n != events || text != want {
			t.Fatalf("stream: %d events %q, want %d %q", n, text, events, want)
		}
		if rest, _ := io.ReadAll(st.br); len(bytes.TrimSpace(rest)) != 0 {
			t.Errorf("after [DONE]: %q", rest)
		}

		select {
		case <-c.exited:
		case <-time.After(drain*time.Second + 5*time.Second):
			t.Fatal("the process did not exit after its last stream")
		}
		exitAfter := c.exitAt.Sub(sigAt)
		if c.err != nil {
			t.Fatalf("exit: %v, want status 0 after a clean drain", c.err)
		}
		// It stopped because its last call ended, not because the drain
		// time ran out.
		if exitAfter >= drain*time.Second {
			t.Fatalf("the process exited %v after SIGTERM, only when the drain time of %ds was over", exitAfter, drain)
		}
		out := c.out.String()
		for _, msg := range []string{"serve: draining", "serve: stopped"} {
			if !strings.Contains(out, msg) {
				t.Errorf("the output does not log %q", msg)
			}
		}
		if strings.Contains(out, "drain time over") {
			t.Error("the drain reported calls cut")
		}
		if strings.Contains(out, token) {
			t.Error("the container logged the token")
		}
		t.Logf("SIGTERM after the first event: new connections refused after %v, [DONE] after %v, exit 0 after %v",
			refusedAt, doneAt, exitAfter)
	})

	t.Run("drain time over", func(t *testing.T) {
		const events, drain = 20, 1
		c := startContainer(t, bin, env, drain)
		st := c.stream(t, token, events, 200)
		if _, done, err := st.nextContent(); err != nil || done {
			t.Fatalf("first event: done %v, %v", done, err)
		}
		if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		sigAt := time.Now()

		n := 1
		var readErr error
		for {
			_, done, err := st.nextContent()
			if err != nil {
				readErr = err
				break
			}
			if done {
				t.Fatalf("a %d-event stream of 4 s got [DONE] after %v with a drain time of %ds", events, time.Since(sigAt), drain)
			}
			n++
		}
		cutAt := time.Since(sigAt)
		if n >= events {
			t.Fatalf("all %d events arrived although the drain time was over", n)
		}

		select {
		case <-c.exited:
		case <-time.After(drain*time.Second + 5*time.Second):
			t.Fatalf("the process still runs %v after SIGTERM with a drain time of %ds", time.Since(sigAt), drain)
		}
		exitAfter := c.exitAt.Sub(sigAt)
		// run cuts what is left and returns nil: the process exits 0.
		if c.err != nil {
			t.Fatalf("exit: %v, want status 0 after the drain time", c.err)
		}
		if exitAfter < drain*time.Second {
			t.Fatalf("the process exited %v after SIGTERM, before its drain time of %ds", exitAfter, drain)
		}
		if out := c.out.String(); !strings.Contains(out, "drain time over") {
			t.Error("the output does not log that open calls were cut")
		}
		t.Logf("SIGTERM after the first event: stream cut after %v and %d of %d events (%v), exit 0 after %v",
			cutAt, n, events, readErr, exitAfter)
	})
}
