package devupstream_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/llmgw/apitokens/pkg/local/devupstream"
)

// pacedChat streams a chat with msg and returns the text, the number of
// content chunks and the stream's error.
func pacedChat(ctx context.Context, base, msg string) (string, int, error) {
	c := openai.NewClient(option.WithBaseURL(base+devupstream.BasePath+"/"), option.WithAPIKey(key), option.WithMaxRetries(0))
	st := c.Chat.Completions.NewStreaming(ctx, openai.ChatCompletionNewParams{
		Model:    devupstream.ModelEcho,
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage(msg)},
	})
	var b strings.Builder
	n := 0
	for st.Next() {
		for _, ch := range st.Current().Choices {
			if ch.Delta.Content != "" {
				n++
				b.WriteString(ch.Delta.Content)
			}
		}
	}
	return b.String(), n, st.Err()
}

func TestPacedStream(t *testing.T) {
	s, srv := start(t, devupstream.Options{APIKey: key})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	start := time.Now()
	text, n, err := pacedChat(ctx, srv.URL, "please pace:5x40")
	if err != nil || n != 5 || text != (devupstream.Pace{Events: 5}).Text() {
		t.Fatalf("paced: %q, %d chunks, %v", text, n, err)
	}
	if d := time.Since(start); d < 4*40*time.Millisecond {
		t.Errorf("5 events 40 ms apart took %v", d)
	}
	rec := s.Requests()[0]
	if rec.Events != 5 || rec.LastEvent.IsZero() || rec.Canceled {
		t.Errorf("record = %+v", rec)
	}

	text, _, err = pacedChat(ctx, srv.URL, "pace:4x0 bytes:100000")
	if err != nil || len(text) != 100000 {
		t.Fatalf("bytes: %d bytes, %v", len(text), err)
	}

	text, n, err = pacedChat(ctx, srv.URL, "pace:10x0 fail:3")
	if err == nil || n != 3 {
		t.Fatalf("fail:3 gave %q, %d chunks, err %v: want an error after 3 events", text, n, err)
	}

	s.Reset()
	cctx, ccancel := context.WithCancel(ctx)
	c := openai.NewClient(option.WithBaseURL(srv.URL+devupstream.BasePath+"/"), option.WithAPIKey(key), option.WithMaxRetries(0))
	st := c.Chat.Completions.NewStreaming(cctx, openai.ChatCompletionNewParams{
		Model:    devupstream.ModelEcho,
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("pace:100x100")},
	})
	for st.Next() && len(st.Current().Choices) > 0 && st.Current().Choices[0].Delta.Content == "" {
	}
	ccancel()
	for st.Next() {
	}
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if recs := s.Requests(); len(recs) == 1 && recs[0].Status != 0 {
			if !recs[0].Canceled || recs[0].Events >= 100 {
				t.Fatalf("record after the client left: %+v", recs[0])
			}
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("the paced stream went on after the client left")
}

func TestPaceErrors(t *testing.T) {
	_, srv := start(t, devupstream.Options{APIKey: key})
	for _, msg := range []string{"pace:ten", "pace:1x-5", "bytes:999999999999"} {
		status, _, body := do(t, "POST", srv.URL+"/v1/chat/completions",
			`{"model":"local-echo","stream":true,"messages":[{"role":"user","content":"`+msg+`"}]}`,
			"Authorization", "Bearer "+key, "Content-Type", "application/json")
		if status != 400 || !strings.Contains(string(body), "invalid_pace") {
			t.Errorf("%s: %d %s", msg, status, body)
		}
	}
}
