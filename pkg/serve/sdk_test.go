package serve_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/llmgw/apitokens/pkg/albevent"
	"github.com/llmgw/apitokens/pkg/local/devupstream"
)

// albGateway serves h the way the ALB does: real HTTP is turned into an ALB
// target event, the Lambda-side adapter runs the handler, and its answer is
// turned back into HTTP.
func albGateway(t *testing.T, h http.Handler, multiValue bool) *httptest.Server {
	t.Helper()
	target := albevent.Handler(h)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e, err := albevent.FromHTTPRequest(r, multiValue)
		if errors.Is(err, albevent.ErrRequestTooLarge) {
			http.Error(w, "413 Request Entity Too Large", http.StatusRequestEntityTooLarge)
			return
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		resp, err := target(r.Context(), e)
		if err != nil {
			http.Error(w, "502 Bad Gateway", http.StatusBadGateway)
			return
		}
		albevent.WriteResponse(w, resp)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// sdkClient is an OpenAI SDK client of the gateway, with no retries (so
// that failures show at once) and nothing taken from the environment.
func sdkClient(baseURL string, opts ...option.RequestOption) openai.Client {
	return openai.NewClient(append([]option.RequestOption{
		option.WithBaseURL(baseURL + "/v2/serve/"),
		option.WithAPIKey(""),
		option.WithMaxRetries(0),
		option.WithRequestTimeout(20 * time.Second),
	}, opts...)...)
}

func TestOpenAISDKThroughTheALB(t *testing.T) {
	for _, multi := range []bool{false, true} {
		name := "single-value headers"
		if multi {
			name = "multi-value headers"
		}
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, nil)
			gw := albGateway(t, e.h, multi)
			ctx := context.Background()
			clients := map[string]openai.Client{
				"Authorization": sdkClient(gw.URL, option.WithAPIKey(userToken)),
				"Api-Key":       sdkClient(gw.URL, option.WithHeader("Api-Key", userToken)),
			}
			for how, client := range clients {
				t.Run(how, func(t *testing.T) {
					page, err := client.Models.List(ctx)
					if err != nil {
						t.Fatalf("list models: %v", err)
					}
					var ids []string
					for _, m := range page.Data {
						ids = append(ids, m.ID)
					}
					if !slices.Equal(ids, []string{devupstream.ModelEcho}) {
						t.Errorf("models = %v, want only %s", ids, devupstream.ModelEcho)
					}

					chat, err := client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
						Model:    devupstream.ModelEcho,
						Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hello, gateway")},
					})
					if err != nil {
						t.Fatalf("chat completion: %v", err)
					}
					if len(chat.Choices) != 1 || chat.Choices[0].Message.Content != "hello, gateway" {
						t.Errorf("chat answer = %+v", chat.Choices)
					}

					stream := client.Chat.Completions.NewStreaming(ctx, openai.ChatCompletionNewParams{
						Model:    devupstream.ModelEcho,
						Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("streamed words arrive whole")},
					})
					var acc openai.ChatCompletionAccumulator
					chunks := 0
					for stream.Next() {
						acc.AddChunk(stream.Current())
						chunks++
					}
					if err := stream.Err(); err != nil {
						t.Fatalf("stream: %v", err)
					}
					if chunks < 3 || len(acc.Choices) != 1 || acc.Choices[0].Message.Content != "streamed words arrive whole" {
						t.Errorf("stream: %d chunks, accumulated %+v", chunks, acc.Choices)
					}

					emb, err := client.Embeddings.New(ctx, openai.EmbeddingNewParams{
						Model: devupstream.ModelEcho,
						Input: openai.EmbeddingNewParamsInputUnion{OfArrayOfStrings: []string{"a", "b"}},
					})
					if err != nil {
						t.Fatalf("embeddings: %v", err)
					}
					if len(emb.Data) != 2 || len(emb.Data[0].Embedding) == 0 {
						t.Errorf("embeddings = %+v", emb.Data)
					}

					_, err = client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
						Model:    devupstream.ModelRestricted,
						Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("let me in")},
					})
					var apiErr *openai.Error
					if !errors.As(err, &apiErr) {
						t.Fatalf("restricted model: err = %v, want *openai.Error", err)
					}
					if apiErr.StatusCode != http.StatusForbidden || apiErr.Code != "model_not_allowed" || apiErr.Type != "permission_error" ||
						!strings.Contains(apiErr.Message, devupstream.ModelRestricted) {
						t.Errorf("restricted model: %d %q %q %q", apiErr.StatusCode, apiErr.Type, apiErr.Code, apiErr.Message)
					}
				})
			}

			// The upstream saw its own key on every call, never the caller's.
			for _, rec := range e.up.Requests() {
				if rec.Authorization != "Bearer "+upstreamKey || rec.APIKey != "" {
					t.Errorf("upstream saw %+v", rec)
				}
			}

			admin := sdkClient(gw.URL, option.WithAPIKey(adminToken))
			chat, err := admin.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
				Model:    devupstream.ModelRestricted,
				Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("admin here")},
			})
			if err != nil || chat.Choices[0].Message.Content != "admin here" {
				t.Fatalf("admin on the restricted model: %v", err)
			}

			bad := sdkClient(gw.URL, option.WithAPIKey("not-a-token"))
			_, err = bad.Models.List(ctx)
			var apiErr *openai.Error
			if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusUnauthorized || apiErr.Code != "invalid_api_key" {
				t.Fatalf("bad key: err = %v, want a 401 *openai.Error with code invalid_api_key", err)
			}
		})
	}
}

func TestOpenAISDKSeesOversizedAnswersAsBadGateway(t *testing.T) {
	e := newEnv(t, nil)
	e.up.SetKnobs(devupstream.Knobs{PadBytes: 1_200_000})
	gw := albGateway(t, e.h, true)
	client := sdkClient(gw.URL, option.WithAPIKey(userToken))
	_, err := client.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{
		Model:    devupstream.ModelEcho,
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("big")},
	})
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusBadGateway || !strings.Contains(apiErr.Message, "1 MB ALB limit") {
		t.Fatalf("err = %v, want a 502 naming the 1 MB ALB limit", err)
	}
}
