package localstack_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"

	"github.com/llmgw/apitokens/pkg/config"
	"github.com/llmgw/apitokens/pkg/local/devupstream"
)

// forEachServeMode runs f as a subtest per SERVE_MODE: the serve path's
// rules must not depend on how it is deployed.
func forEachServeMode(t *testing.T, f func(t *testing.T, mode string)) {
	for _, mode := range []string{config.ServeModeLambda, config.ServeModeContainer} {
		t.Run(mode, func(t *testing.T) { f(t, mode) })
	}
}

// arrivals streams msg and returns the content of each chunk with its
// arrival time.
func arrivals(ctx context.Context, c openai.Client, msg string) (texts []string, times []time.Time, err error) {
	st := c.Chat.Completions.NewStreaming(ctx, openai.ChatCompletionNewParams{
		Model:    devupstream.ModelEcho,
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage(msg)},
	})
	defer st.Close()
	for st.Next() {
		for _, ch := range st.Current().Choices {
			if ch.Delta.Content != "" {
				texts = append(texts, ch.Delta.Content)
				times = append(times, time.Now())
			}
		}
	}
	return texts, times, st.Err()
}

func lastRecord(t *testing.T, up *devupstream.Server) devupstream.Record {
	t.Helper()
	recs := up.Requests()
	if len(recs) == 0 {
		t.Fatal("the upstream saw no request")
	}
	return recs[len(recs)-1]
}

// TestServeContainerStreams: in container mode a paced answer reaches the
// SDK while the upstream is still producing it; in lambda mode (the
// control, proving the test can tell) it arrives only after the upstream
// sent its last event.
func TestServeContainerStreams(t *testing.T) {
	forEachServeMode(t, func(t *testing.T, mode string) {
		s := startStack(t, map[string]string{"SERVE_MODE": mode})
		c := newClient(t, s)
		tok := c.want(c.do("POST", "/api-tokens/", `{"name":"stream"}`, bearer(c.jwt("alice", "lisa-users", "lisa-api-users"))...), 201).str("token")
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		texts, times, err := arrivals(ctx, sdk(s, tok, false), "pace:10x200")
		if err != nil || strings.Join(texts, "") != (devupstream.Pace{Events: 10}).Text() {
			t.Fatalf("paced stream: %q, %v", texts, err)
		}
		rec := lastRecord(t, s.Upstream)
		if rec.Events != 10 {
			t.Fatalf("upstream record %+v", rec)
		}
		streamed := times[0].Before(rec.LastEvent)
		if want := mode == config.ServeModeContainer; streamed != want {
			t.Fatalf("%s mode: first event at %v, upstream's last at %v: streamed = %v, want %v",
				mode, times[0].Format(time.StampMicro), rec.LastEvent.Format(time.StampMicro), streamed, want)
		}
		for i := 1; i < len(times); i++ {
			if times[i].Before(times[i-1]) {
				t.Fatalf("events out of order at %d", i)
			}
		}
	})
}

// TestServeContainerStreamFailures: a broken upstream stream reaches the
// SDK as an error, never as a complete-looking answer, and a caller that
// leaves stops the upstream's generation.
func TestServeContainerStreamFailures(t *testing.T) {
	s := startStack(t, map[string]string{"SERVE_MODE": config.ServeModeContainer})
	c := newClient(t, s)
	tok := c.want(c.do("POST", "/api-tokens/", `{"name":"fail"}`, bearer(c.jwt("alice", "lisa-users", "lisa-api-users"))...), 201).str("token")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	texts, _, err := arrivals(ctx, sdk(s, tok, false), "pace:10x10 fail:3")
	if err == nil || len(texts) != 3 || !strings.Contains(err.Error(), "upstream_unavailable") {
		t.Fatalf("broken stream: %d chunks, err %v", len(texts), err)
	}

	texts, _, err = arrivals(ctx, sdk(s, tok, false), "pace:50x0 bytes:5000000")
	if err != nil || len(strings.Join(texts, "")) != 5_000_000 {
		t.Fatalf("5 MB stream: %d bytes, %v", len(strings.Join(texts, "")), err)
	}

	cctx, ccancel := context.WithCancel(ctx)
	client := sdk(s, tok, false)
	st := client.Chat.Completions.NewStreaming(cctx, openai.ChatCompletionNewParams{
		Model:    devupstream.ModelEcho,
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("pace:100x100")},
	})
	if !st.Next() {
		t.Fatalf("no first chunk: %v", st.Err())
	}
	ccancel()
	st.Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		rec := lastRecord(t, s.Upstream)
		if rec.Status != 0 {
			if !rec.Canceled || rec.Events >= 100 {
				t.Fatalf("upstream record after the caller left: %+v", rec)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the upstream kept generating after the caller left")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestServeContainerConcurrentStreams: 20 streams with 20 tokens at once
// all complete, each with its own answer.
func TestServeContainerConcurrentStreams(t *testing.T) {
	s := startStack(t, map[string]string{"SERVE_MODE": config.ServeModeContainer})
	c := newClient(t, s)
	admin := c.jwt("admin", "lisa-admins", "lisa-users", "lisa-api-users")
	const n = 20
	toks := make([]string, n)
	for i := range toks {
		toks[i] = c.want(c.do("POST", fmt.Sprintf("/api-tokens/bot-%d", i), `{"name":"c","isSystemToken":true}`, bearer(admin)...), 201).str("token")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range toks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			texts, _, err := arrivals(ctx, sdk(s, toks[i], false), fmt.Sprintf("stream %d pace:10x50", i))
			if err == nil && strings.Join(texts, "") != (devupstream.Pace{Events: 10}).Text() {
				err = fmt.Errorf("answer %q", texts)
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("stream %d: %v", i, err)
		}
	}
	for _, r := range s.Upstream.Requests() {
		for _, tok := range toks {
			if strings.Contains(r.Authorization+r.APIKey, tok) {
				t.Fatal("a caller's token reached the upstream")
			}
		}
	}
}
