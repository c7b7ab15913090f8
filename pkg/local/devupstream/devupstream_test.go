package devupstream_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/llmgw/apitokens/pkg/local/devupstream"
)

const key = "dev-upstream-key"

func start(t *testing.T, opts devupstream.Options) (*devupstream.Server, *httptest.Server) {
	t.Helper()
	s := devupstream.New(opts)
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return s, srv
}

func do(t *testing.T, method, url, body string, header ...string) (int, http.Header, []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, method, url, strings.NewReader(body))
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

// TestOpenAISDK drives the server with the OpenAI Go SDK: if the SDK can
// use it, so can the serve function's callers.
func TestOpenAISDK(t *testing.T) {
	_, srv := start(t, devupstream.Options{APIKey: key})
	client := openai.NewClient(option.WithBaseURL(srv.URL+devupstream.BasePath), option.WithAPIKey(key), option.WithMaxRetries(0))
	ctx := context.Background()

	page, err := client.Models.List(ctx)
	if err != nil || len(page.Data) != 2 || page.Data[0].ID != devupstream.ModelEcho || page.Data[1].ID != devupstream.ModelRestricted {
		t.Fatalf("models = %+v, %v", page, err)
	}
	m, err := client.Models.Get(ctx, devupstream.ModelRestricted)
	if err != nil || m.ID != devupstream.ModelRestricted {
		t.Fatalf("model = %+v, %v", m, err)
	}

	parts := []openai.ChatCompletionContentPartUnionParam{openai.TextContentPart("from "), openai.TextContentPart("parts")}
	chat, err := client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
		Model: devupstream.ModelEcho,
		Messages: []openai.ChatCompletionMessageParamUnion{
			openai.SystemMessage("ignored"), openai.UserMessage("first"), openai.AssistantMessage("ignored"), openai.UserMessage(parts),
		},
	})
	if err != nil || chat.Choices[0].Message.Content != "from parts" || chat.Object != "chat.completion" {
		t.Fatalf("chat = %+v, %v", chat, err)
	}

	stream := client.Chat.Completions.NewStreaming(ctx, openai.ChatCompletionNewParams{
		Model:         devupstream.ModelRestricted,
		Messages:      []openai.ChatCompletionMessageParamUnion{openai.UserMessage("a streamed echo")},
		StreamOptions: openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)},
	})
	var acc openai.ChatCompletionAccumulator
	for stream.Next() {
		acc.AddChunk(stream.Current())
	}
	if err := stream.Err(); err != nil || acc.Choices[0].Message.Content != "a streamed echo" || acc.Usage.CompletionTokens != 3 {
		t.Fatalf("stream = %+v (usage %+v), %v", acc.Choices, acc.Usage, err)
	}

	cmpl, err := client.Completions.New(ctx, openai.CompletionNewParams{
		Model:  devupstream.ModelEcho,
		Prompt: openai.CompletionNewParamsPromptUnion{OfArrayOfStrings: []string{"one", "two"}},
	})
	if err != nil || len(cmpl.Choices) != 2 || cmpl.Choices[1].Text != "two" {
		t.Fatalf("completions = %+v, %v", cmpl, err)
	}

	for _, format := range []openai.EmbeddingNewParamsEncodingFormat{openai.EmbeddingNewParamsEncodingFormatFloat, openai.EmbeddingNewParamsEncodingFormatBase64} {
		emb, err := client.Embeddings.New(ctx, openai.EmbeddingNewParams{
			Model:          devupstream.ModelEcho,
			Input:          openai.EmbeddingNewParamsInputUnion{OfString: openai.String("same text")},
			EncodingFormat: format,
		})
		if err != nil || len(emb.Data) != 1 || len(emb.Data[0].Embedding) != 8 {
			t.Fatalf("embeddings (%s) = %+v, %v", format, emb, err)
		}
		var norm float64
		for _, v := range emb.Data[0].Embedding {
			norm += v * v
		}
		if math.Abs(norm-1) > 1e-3 {
			t.Errorf("embedding (%s) is not a unit vector: %v", format, emb.Data[0].Embedding)
		}
	}

	_, err = client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
		Model:    "gpt-unknown",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("x")},
	})
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 404 || apiErr.Code != "model_not_found" {
		t.Fatalf("unknown model: %v", err)
	}
}

func TestRequiresItsKeyAndRecordsWhatItSaw(t *testing.T) {
	s, srv := start(t, devupstream.Options{APIKey: key})
	status, _, body := do(t, "GET", srv.URL+"/v1/models", "", "Authorization", "Bearer caller-token", "Api-Key", "caller-token")
	if status != http.StatusUnauthorized || !strings.Contains(string(body), `"code":"invalid_api_key"`) {
		t.Fatalf("wrong key: %d %s", status, body)
	}
	status, _, _ = do(t, "POST", srv.URL+"/v1/chat/completions?x=1", `{"model":"local-echo","stream":true,"messages":[{"role":"user","content":"hi"}]}`,
		"Authorization", "Bearer "+key, "Content-Type", "application/json")
	if status != http.StatusOK {
		t.Fatalf("right key: %d", status)
	}
	recs := s.Requests()
	if len(recs) != 2 || s.Count() != 2 {
		t.Fatalf("records = %+v, count %d", recs, s.Count())
	}
	if r := recs[0]; r.Authorization != "Bearer caller-token" || r.APIKey != "caller-token" || r.Status != 401 || r.Seq != 1 {
		t.Errorf("first record = %+v", r)
	}
	if r := recs[1]; r.Authorization != "Bearer "+key || r.Model != "local-echo" || !r.Stream || r.Status != 200 || r.RawQuery != "x=1" || r.Path != "/v1/chat/completions" {
		t.Errorf("second record = %+v", r)
	}

	// The same, over the control endpoint, for tests in another process.
	status, _, body = do(t, "GET", srv.URL+"/_dev/requests", "")
	var got struct {
		Count    int                  `json:"count"`
		Requests []devupstream.Record `json:"requests"`
	}
	if status != 200 || json.Unmarshal(body, &got) != nil || got.Count != 2 || got.Requests[1].Authorization != "Bearer "+key {
		t.Fatalf("GET /_dev/requests = %d %s", status, body)
	}
	if status, _, _ = do(t, "POST", srv.URL+"/_dev/reset", ""); status != http.StatusNoContent || s.Count() != 0 || len(s.Requests()) != 0 {
		t.Fatalf("reset: %d, count %d", status, s.Count())
	}
}

func TestKnobs(t *testing.T) {
	s, srv := start(t, devupstream.Options{})
	auth := []string{"Content-Type", "application/json"}
	chat := `{"model":"local-echo","messages":[{"role":"user","content":"hi"}]}`

	if status, _, body := do(t, "PUT", srv.URL+"/_dev/knobs", `{"failStatus":503}`, auth...); status != 200 {
		t.Fatalf("set knobs: %d %s", status, body)
	}
	if status, _, body := do(t, "POST", srv.URL+"/v1/chat/completions", chat, auth...); status != 503 || !strings.Contains(string(body), `"error"`) {
		t.Fatalf("failStatus: %d %s", status, body)
	}

	if status, _, body := do(t, "PUT", srv.URL+"/_dev/knobs", `{"delay":"300ms","padBytes":5}`, auth...); status != 200 || !strings.Contains(string(body), `"delay":"300ms"`) {
		t.Fatalf("set knobs: %d %s", status, body)
	}
	began := time.Now()
	status, _, body := do(t, "POST", srv.URL+"/v1/chat/completions", chat, auth...)
	if status != 200 || time.Since(began) < 300*time.Millisecond || !strings.Contains(string(body), `"content":"hixxxxx"`) {
		t.Fatalf("delay and pad: %d after %s: %s", status, time.Since(began), body)
	}

	// A client that gives up is not kept waiting for the delay.
	s.SetKnobs(devupstream.Knobs{Delay: time.Minute})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/v1/models", nil)
	if _, err := http.DefaultClient.Do(req); err == nil {
		t.Fatal("want a timeout")
	}

	for _, bad := range []string{`{"delay":"soon"}`, `{"failStatus":200}`, `{"padBytes":-1}`, `not json`} {
		if status, _, _ := do(t, "PUT", srv.URL+"/_dev/knobs", bad, auth...); status != 400 {
			t.Errorf("PUT knobs %s: %d, want 400", bad, status)
		}
	}
}

func TestUnknownPathsAndBadRequests(t *testing.T) {
	_, srv := start(t, devupstream.Options{})
	tests := []struct {
		method, path, body string
		want               int
	}{
		{"GET", "/v1/files", "", 404},
		{"GET", "/v1/models/nope", "", 404},
		{"POST", "/v1/chat/completions", "{", 400},
		{"POST", "/v1/chat/completions", `{"model":"local-echo","messages":[{"role":"system","content":"x"}]}`, 400},
		{"POST", "/v1/completions", `{"model":"local-echo","prompt":42}`, 400},
		{"POST", "/v1/embeddings", `{"model":"local-echo","input":{}}`, 400},
		{"POST", "/v1/embeddings", `{"model":"local-echo","input":[[1,2],[3]]}`, 200},
		{"POST", "/v1/completions", `{"model":"local-echo","prompt":"a b","stream":true}`, 200},
	}
	for _, tt := range tests {
		status, _, body := do(t, tt.method, srv.URL+tt.path, tt.body)
		if status != tt.want {
			t.Errorf("%s %s %s: %d, want %d: %s", tt.method, tt.path, tt.body, status, tt.want, body)
		}
	}
}
