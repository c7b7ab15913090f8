package serve

import (
	"bytes"
	"encoding/json"
	"mime"
	"net/http"

	"github.com/llmgw/apitokens/pkg/limits"
)

// maxUsageScanBytes bounds what is kept of an answer to read its usage
// when it is relayed as it arrives (container mode): a non-streamed answer
// up to this size is parsed at its end, a larger one is counted without
// tokens (and logged). Embedding batches are the large ones.
const maxUsageScanBytes = 8 << 20

// maxEventBytes bounds one server-sent event held back to decide whether
// it is the usage chunk; a larger event is passed on (and not parsed).
const maxEventBytes = 1 << 20

// answerUsage is the "usage" of an OpenAI answer or stream chunk. Token
// counts outside 0..limits.MaxCount are clamped: an upstream cannot make a
// counter overflow.
type answerUsage struct {
	Usage *struct {
		PromptTokens     *int64 `json:"prompt_tokens"`
		CompletionTokens *int64 `json:"completion_tokens"`
	} `json:"usage"`
	Choices json.RawMessage `json:"choices"`
}

func (a answerUsage) counts() (tokenCounts, bool) {
	if a.Usage == nil {
		return tokenCounts{}, false
	}
	clamp := func(v *int64) int64 {
		if v == nil {
			return 0
		}
		return min(max(*v, 0), limits.MaxCount)
	}
	return tokenCounts{prompt: clamp(a.Usage.PromptTokens), completion: clamp(a.Usage.CompletionTokens)}, true
}

// parseUsage reads the "usage" object of a JSON answer.
func parseUsage(body []byte) (tokenCounts, bool) {
	if !bytes.Contains(body, []byte(`"usage"`)) {
		return tokenCounts{}, false
	}
	var a answerUsage
	if json.Unmarshal(body, &a) != nil {
		return tokenCounts{}, false
	}
	return a.counts()
}

// usageOnlyChunk reports whether an event's data is the chunk an upstream
// sends for stream_options.include_usage: "usage" set and "choices" an
// empty list. That chunk exists only because it was asked for.
func usageOnlyChunk(a answerUsage) bool {
	if a.Usage == nil {
		return false
	}
	var choices []json.RawMessage
	return json.Unmarshal(a.Choices, &choices) == nil && choices != nil && len(choices) == 0
}

// sseUsage reads the usage of an event stream as it passes and, with
// strip, takes the usage-only chunk out of it. Without strip the stream
// passes byte for byte; with it, each event is held until its blank line
// and then passed on whole (or dropped). The usage is that of the last
// event that carries one (upstreams that report usage on every chunk
// report running totals).
type sseUsage struct {
	strip bool

	event    []byte // the current event's bytes (strip only)
	passing  bool   // the current event was too large to hold: passed on as it comes
	line     []byte // the current line, up to maxEventBytes
	lineLong bool
	data     []byte // the current event's data, up to maxEventBytes
	dataLong bool

	tokens tokenCounts
	found  bool
}

// feed takes the next bytes of the stream and returns those to send on.
func (s *sseUsage) feed(p []byte) []byte {
	var out []byte
	if !s.strip {
		out = p
	}
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		part := p
		if i >= 0 {
			part = p[:i+1]
		}
		p = p[len(part):]
		if s.strip {
			if s.passing {
				out = append(out, part...)
			} else {
				s.event = append(s.event, part...)
				if len(s.event) > maxEventBytes {
					out = append(out, s.event...)
					s.event, s.passing = s.event[:0], true
				}
			}
		}
		if len(s.line)+len(part) > maxEventBytes {
			s.lineLong = true
		} else if !s.lineLong {
			s.line = append(s.line, part...)
		}
		if i < 0 {
			break
		}
		if s.endLine() {
			out = s.endEvent(out)
		}
	}
	return out
}

// endLine handles a complete line; it reports a blank line (the end of
// an event).
func (s *sseUsage) endLine() bool {
	line, long := bytes.TrimRight(s.line, "\r\n"), s.lineLong
	s.line, s.lineLong = s.line[:0], false
	if long {
		s.dataLong = true
		return false
	}
	if len(line) == 0 {
		return true
	}
	if v, ok := bytes.CutPrefix(line, []byte("data:")); ok {
		v = bytes.TrimPrefix(v, []byte(" "))
		if len(s.data) > 0 {
			s.data = append(s.data, '\n')
		}
		if len(s.data)+len(v) > maxEventBytes {
			s.dataLong = true
		} else {
			s.data = append(s.data, v...)
		}
	}
	return false
}

// endEvent reads a complete event and, unless it is to be stripped,
// appends it to out.
func (s *sseUsage) endEvent(out []byte) []byte {
	drop := false
	if !s.dataLong && bytes.Contains(s.data, []byte(`"usage"`)) {
		var a answerUsage
		if json.Unmarshal(s.data, &a) == nil {
			if t, ok := a.counts(); ok {
				s.tokens, s.found = t, true
			}
			drop = s.strip && !s.passing && usageOnlyChunk(a)
		}
	}
	if s.strip && !s.passing && !drop {
		out = append(out, s.event...)
	}
	s.event, s.passing = s.event[:0], false
	s.data, s.dataLong = s.data[:0], false
	return out
}

// end returns what is still held at the end of the stream (an event
// without its blank line, which is passed on as it came) and reads it.
func (s *sseUsage) end() []byte {
	if len(s.line) > 0 {
		s.endLine()
	}
	var out []byte
	if s.strip && !s.passing {
		out = append(out, s.event...)
	}
	if len(s.data) > 0 && !s.dataLong {
		var a answerUsage
		if json.Unmarshal(s.data, &a) == nil {
			if t, ok := a.counts(); ok {
				s.tokens, s.found = t, true
			}
		}
	}
	s.event, s.data = s.event[:0], s.data[:0]
	return out
}

// askForUsage returns body with stream_options.include_usage set to true,
// for a streamed call whose usage is recorded. The rewrite is textual: a
// member inserted or a false/null value replaced, every other byte kept,
// so the body means to the upstream what it meant, plus the usage chunk.
// It changes nothing (rewritten false) unless the body is unambiguous: a
// top-level "stream": true written so, and stream_options, if present,
// written exactly so and null or an object whose include_usage, if
// present, is written exactly so, once, as true, false or null. asked
// reports that the caller asked for the usage chunk itself (it is then
// passed on).
func askForUsage(body []byte) (out []byte, rewritten, asked bool) {
	dec := json.NewDecoder(bytes.NewReader(body))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return body, false, false
	}
	open := dec.InputOffset()
	var (
		stream        bool
		opts          json.RawMessage
		optsAt        int64
		optsFound     bool
		optsAmbiguous bool
	)
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return body, false, false
		}
		key, _ := t.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return body, false, false
		}
		switch f := foldKey(key); {
		case key == "stream":
			stream = bytes.Equal(v, []byte("true"))
		case f == foldedStreamOptions:
			if key != "stream_options" || optsFound {
				optsAmbiguous = true
			}
			opts, optsAt, optsFound = v, dec.InputOffset()-int64(len(v)), true
		}
	}
	if !stream || optsAmbiguous {
		return body, false, false
	}
	splice := func(at, end int64, with string) []byte {
		b := make([]byte, 0, len(body)+len(with))
		b = append(b, body[:at]...)
		b = append(b, with...)
		return append(b, body[end:]...)
	}
	if !optsFound {
		// model is required, so the object has another member after this one.
		return splice(open, open, `"stream_options":{"include_usage":true},`), true, false
	}
	if bytes.Equal(opts, []byte("null")) {
		return splice(optsAt, optsAt+int64(len(opts)), `{"include_usage":true}`), true, false
	}
	od := json.NewDecoder(bytes.NewReader(opts))
	if t, err := od.Token(); err != nil || t != json.Delim('{') {
		return body, false, false
	}
	innerOpen := od.InputOffset()
	var (
		inc      json.RawMessage
		incAt    int64
		incFound bool
		members  int
	)
	for od.More() {
		t, err := od.Token()
		if err != nil {
			return body, false, false
		}
		key, _ := t.(string)
		var v json.RawMessage
		if err := od.Decode(&v); err != nil {
			return body, false, false
		}
		members++
		if foldKey(key) == foldedIncludeUsage {
			if key != "include_usage" || incFound {
				return body, false, false
			}
			inc, incAt, incFound = v, od.InputOffset()-int64(len(v)), true
		}
	}
	switch {
	case !incFound:
		with := `"include_usage":true`
		if members > 0 {
			with += ","
		}
		return splice(optsAt+innerOpen, optsAt+innerOpen, with), true, false
	case bytes.Equal(inc, []byte("true")):
		return body, false, true
	case bytes.Equal(inc, []byte("false")), bytes.Equal(inc, []byte("null")):
		at := optsAt + incAt
		return splice(at, at+int64(len(inc)), "true"), true, false
	}
	return body, false, false // a value the upstream would refuse: left to it
}

var (
	foldedStreamOptions = foldKey("stream_options")
	foldedIncludeUsage  = foldKey("include_usage")
)

// meterAnswer reads the usage of an answer read whole (Lambda mode) and,
// when the gateway asked for the usage chunk, takes it out of the event
// stream before the answer is relayed.
func (h *Handler) meterAnswer(c *call, ans *answer) {
	m := c.meter
	if m == nil || !m.record || !m.modelCall {
		return
	}
	if !isEventStream(ans.header) {
		if t, ok := parseUsage(ans.body); ok {
			m.tokens = &t
		} else {
			m.noUse = "the answer has no usage"
		}
		return
	}
	s := &sseUsage{strip: m.strip}
	out := s.feed(ans.body)
	out = append(out, s.end()...)
	if m.strip {
		ans.body = out
	}
	if s.found {
		m.tokens = &s.tokens
	} else {
		m.noUse = "the event stream has no usage"
	}
}

// isEventStream reports a text/event-stream answer.
func isEventStream(hdr http.Header) bool {
	mt, _, _ := mime.ParseMediaType(hdr.Get("Content-Type"))
	return mt == "text/event-stream"
}
