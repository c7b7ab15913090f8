package serve

import (
	"encoding/json"
	"strings"
	"testing"
)

// FormatReset is formatReset, for the external tests.
var FormatReset = formatReset

func TestAskForUsage(t *testing.T) {
	const m = `"model":"x","stream":true`
	tests := []struct {
		in, want       string
		rewrite, asked bool
	}{
		{`{` + m + `}`, `{"stream_options":{"include_usage":true},` + m + `}`, true, false},
		{` { ` + m + ` } `, ` {"stream_options":{"include_usage":true}, ` + m + ` } `, true, false},
		{`{` + m + `,"stream_options":null}`, `{` + m + `,"stream_options":{"include_usage":true}}`, true, false},
		{`{` + m + `,"stream_options": {}}`, `{` + m + `,"stream_options": {"include_usage":true}}`, true, false},
		{`{` + m + `,"stream_options":{ "x" : 1 }}`, `{` + m + `,"stream_options":{"include_usage":true, "x" : 1 }}`, true, false},
		{`{` + m + `,"stream_options":{"include_usage" : false ,"x":1}}`, `{` + m + `,"stream_options":{"include_usage" : true ,"x":1}}`, true, false},
		{`{` + m + `,"stream_options":{"include_usage":null}}`, `{` + m + `,"stream_options":{"include_usage":true}}`, true, false},
		{`{` + m + `,"stream_options":{"include_usage":true}}`, "", false, true},
		// Ambiguous or not ours to fix: left to the upstream as sent.
		{`{` + m + `,"Stream_Options":{}}`, "", false, false},
		{`{` + m + `,"stream_options":{"Include_Usage":false}}`, "", false, false},
		{`{` + m + `,"stream_options":{"include_usage":false,"include_usage":false}}`, "", false, false},
		{`{` + m + `,"stream_options":{"include_usage":"yes"}}`, "", false, false},
		{`{` + m + `,"stream_options":[]}`, "", false, false},
		{`{"model":"x","stream":false}`, "", false, false},
		{`{"model":"x","Stream":true}`, "", false, false},
		{`{"model":"x"}`, "", false, false},
	}
	for _, tt := range tests {
		out, rewritten, asked := askForUsage([]byte(tt.in))
		if rewritten != tt.rewrite || asked != tt.asked {
			t.Errorf("%s: rewritten %v asked %v, want %v %v", tt.in, rewritten, asked, tt.rewrite, tt.asked)
		}
		want := tt.want
		if !tt.rewrite {
			want = tt.in
		}
		if string(out) != want {
			t.Errorf("%s:\n got %s\nwant %s", tt.in, out, want)
		}
		if !tt.rewrite {
			continue
		}
		// The verdict of the model checks is that of the caller's body.
		before, err1 := readModelRequest([]byte(tt.in), false)
		after, err2 := readModelRequest(out, false)
		if err1 != nil || err2 != nil || before != after {
			t.Errorf("%s: verdict changed: %+v %v -> %+v %v", tt.in, before, err1, after, err2)
		}
		var v struct {
			StreamOptions struct {
				IncludeUsage bool `json:"include_usage"`
			} `json:"stream_options"`
		}
		if json.Unmarshal(out, &v) != nil || !v.StreamOptions.IncludeUsage {
			t.Errorf("%s: does not ask for usage", out)
		}
	}
}

func TestSSEUsageSplitsAnywhere(t *testing.T) {
	stream := "data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}],\"usage\":null}\r\n\r\n" +
		": comment\n\n" +
		"event: x\ndata: {\"choices\":[],\n" +
		"data: \"usage\":{\"prompt_tokens\":3,\"completion_tokens\":4}}\n\n" +
		"data: [DONE]\n\n"
	wantStripped := "data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}],\"usage\":null}\r\n\r\n: comment\n\ndata: [DONE]\n\n"
	for _, strip := range []bool{false, true} {
		for size := 1; size <= len(stream); size++ {
			s := &sseUsage{strip: strip}
			var out strings.Builder
			for i := 0; i < len(stream); i += size {
				out.Write(s.feed([]byte(stream[i:min(i+size, len(stream))])))
			}
			out.Write(s.end())
			want := stream
			if strip {
				want = wantStripped
			}
			if out.String() != want || !s.found || s.tokens != (tokenCounts{3, 4}) {
				t.Fatalf("strip %v, reads of %d: found %v %+v\n got %q\nwant %q", strip, size, s.found, s.tokens, out.String(), want)
			}
		}
	}
}

func TestSSEUsageKeepsChunksWithChoices(t *testing.T) {
	// vLLM's continuous usage: usage on every chunk; none of them is the
	// usage-only chunk, and the last total wins.
	stream := "data: {\"choices\":[{\"delta\":{}}],\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":1}}\n\n" +
		"data: {\"choices\":[{\"delta\":{}}],\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":5}}\n\ndata: [DONE]"
	s := &sseUsage{strip: true}
	out := string(s.feed([]byte(stream))) + string(s.end())
	if out != stream || s.tokens != (tokenCounts{1, 5}) {
		t.Errorf("got %q, %+v", out, s.tokens)
	}
}

func TestParseUsageClamps(t *testing.T) {
	got, ok := parseUsage([]byte(`{"usage":{"prompt_tokens":-5,"completion_tokens":99999999999999999}}`))
	if !ok || got.prompt != 0 || got.completion != 1e12 {
		t.Errorf("%+v %v", got, ok)
	}
}
