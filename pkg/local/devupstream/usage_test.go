package devupstream_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/llmgw/apitokens/pkg/local/devupstream"
)

// lastEvents returns the data of a stream's events, [DONE] excluded.
func lastEvents(t *testing.T, body []byte) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(string(body), "\n") {
		data, ok := strings.CutPrefix(line, "data: ")
		if !ok || data == "[DONE]" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(data), &m); err != nil {
			t.Fatalf("event %q: %v", data, err)
		}
		out = append(out, m)
	}
	return out
}

// TestStreamsSendUsageWhenAsked: every kind of stream (chat, paced chat,
// completions) ends with OpenAI's usage-only chunk exactly when the request
// asks for it with stream_options.include_usage.
func TestStreamsSendUsageWhenAsked(t *testing.T) {
	_, srv := start(t, devupstream.Options{APIKey: key})
	for _, tc := range []struct{ name, path, body string }{
		{"chat", "/v1/chat/completions", `{"model":"local-echo","stream":true,"messages":[{"role":"user","content":"hello there"}]%s}`},
		{"paced chat", "/v1/chat/completions", `{"model":"local-echo","stream":true,"messages":[{"role":"user","content":"pace:3x1"}]%s}`},
		{"completions", "/v1/completions", `{"model":"local-echo","stream":true,"prompt":"hello there"%s}`},
	} {
		for _, asked := range []bool{false, true} {
			opt := ""
			if asked {
				opt = `,"stream_options":{"include_usage":true}`
			}
			status, _, body := do(t, "POST", srv.URL+tc.path, strings.Replace(tc.body, "%s", opt, 1), "Authorization", "Bearer "+key)
			if status != 200 {
				t.Fatalf("%s: %d %s", tc.name, status, body)
			}
			evs := lastEvents(t, body)
			last := evs[len(evs)-1]
			u, has := last["usage"].(map[string]any)
			if has != asked {
				t.Fatalf("%s, include_usage %v: last event %v", tc.name, asked, last)
			}
			if !asked {
				continue
			}
			if choices, _ := last["choices"].([]any); len(choices) != 0 {
				t.Errorf("%s: the usage chunk has choices: %v", tc.name, last)
			}
			if p, _ := u["prompt_tokens"].(float64); p < 1 {
				t.Errorf("%s: usage %v", tc.name, u)
			}
			if c, _ := u["completion_tokens"].(float64); c < 1 {
				t.Errorf("%s: usage %v", tc.name, u)
			}
		}
	}
}
