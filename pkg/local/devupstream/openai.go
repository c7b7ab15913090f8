package devupstream

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"strings"
)

// maxBody bounds what the server reads of a request.
const maxBody = 16 << 20

var models = []string{ModelEcho, ModelRestricted}

func knownModel(id string) bool { return id == ModelEcho || id == ModelRestricted }

type modelObject struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Created int64  `json:"created"`
	OwnedBy string `json:"owned_by"`
}

func (s *Server) modelObject(id string) modelObject {
	return modelObject{ID: id, Object: "model", Created: s.opts.Now().Unix(), OwnedBy: "devupstream"}
}

func (s *Server) models(w http.ResponseWriter, _ *http.Request) {
	data := make([]modelObject, 0, len(models))
	for _, id := range models {
		data = append(data, s.modelObject(id))
	}
	writeJSON(w, http.StatusOK, map[string]any{"object": "list", "data": data})
}

func (s *Server) model(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if !knownModel(id) {
		modelNotFound(w, id)
		return
	}
	writeJSON(w, http.StatusOK, s.modelObject(id))
}

func modelNotFound(w http.ResponseWriter, id string) {
	writeError(w, http.StatusNotFound, "invalid_request_error", "model_not_found", fmt.Sprintf("The model '%s' does not exist", id))
}

type chatRequest struct {
	Model    string `json:"model"`
	Messages []struct {
		Role    string          `json:"role"`
		Content json.RawMessage `json:"content"`
	} `json:"messages"`
	Stream        bool `json:"stream"`
	StreamOptions struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
}

// lastUserText is the text of the last user message; content may be a
// string or a list of parts, of which the text parts are joined.
func (c chatRequest) lastUserText() (string, bool) {
	for i := len(c.Messages) - 1; i >= 0; i-- {
		m := c.Messages[i]
		if m.Role != "user" {
			continue
		}
		var s string
		if json.Unmarshal(m.Content, &s) == nil {
			return s, true
		}
		var parts []struct {
			Type string `json:"type"`
			Text string `json:"text"`
		}
		if json.Unmarshal(m.Content, &parts) == nil {
			var b strings.Builder
			for _, p := range parts {
				if p.Type == "text" {
					b.WriteString(p.Text)
				}
			}
			return b.String(), true
		}
		return "", false
	}
	return "", false
}

type usage struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
	TotalTokens      int `json:"total_tokens"`
}

func countUsage(prompt, completion string) usage {
	p, c := len(strings.Fields(prompt)), len(strings.Fields(completion))
	return usage{PromptTokens: p, CompletionTokens: c, TotalTokens: p + c}
}

func (s *Server) newID(prefix string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ids++
	return fmt.Sprintf("%s-local-%d", prefix, s.ids)
}

func (s *Server) chat(w http.ResponseWriter, r *http.Request) {
	var req chatRequest
	if !decode(w, r, &req) {
		return
	}
	if !knownModel(req.Model) {
		modelNotFound(w, req.Model)
		return
	}
	prompt, ok := req.lastUserText()
	if !ok {
		writeError(w, http.StatusBadRequest, "invalid_request_error", "no_user_message", "messages must contain a user message with text content")
		return
	}
	answer := prompt + strings.Repeat("x", s.Knobs().PadBytes)
	id, created := s.newID("chatcmpl"), s.opts.Now().Unix()
	u := countUsage(prompt, answer)

	if !req.Stream {
		writeJSON(w, http.StatusOK, map[string]any{
			"id": id, "object": "chat.completion", "created": created, "model": req.Model,
			"choices": []any{map[string]any{
				"index":         0,
				"message":       map[string]any{"role": "assistant", "content": answer, "refusal": nil},
				"logprobs":      nil,
				"finish_reason": "stop",
			}},
			"usage": u,
		})
		return
	}

	chunk := func(delta map[string]any, finish any) map[string]any {
		return map[string]any{
			"id": id, "object": "chat.completion.chunk", "created": created, "model": req.Model,
			"choices": []any{map[string]any{"index": 0, "delta": delta, "logprobs": nil, "finish_reason": finish}},
		}
	}
	if p, ok, err := parsePace(prompt, r.Header); err != nil {
		writeError(w, http.StatusBadRequest, "invalid_request_error", "invalid_pace", "pacing: "+err.Error())
		return
	} else if ok {
		var final map[string]any // the usage chunk, when asked for
		if req.StreamOptions.IncludeUsage {
			final = map[string]any{
				"id": id, "object": "chat.completion.chunk", "created": created, "model": req.Model,
				"choices": []any{}, "usage": countUsage(prompt, p.Text()),
			}
		}
		s.paced(w, r, p, chunk, requestSeq(r), final)
		return
	}
	sse := newSSE(w)
	sse.send(chunk(map[string]any{"role": "assistant", "content": ""}, nil))
	for _, piece := range pieces(answer) {
		sse.send(chunk(map[string]any{"content": piece}, nil))
	}
	sse.send(chunk(map[string]any{}, "stop"))
	if req.StreamOptions.IncludeUsage {
		sse.send(map[string]any{
			"id": id, "object": "chat.completion.chunk", "created": created, "model": req.Model,
			"choices": []any{}, "usage": u,
		})
	}
	sse.done()
}

type completionRequest struct {
	Model         string          `json:"model"`
	Prompt        json.RawMessage `json:"prompt"`
	Stream        bool            `json:"stream"`
	StreamOptions struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
}

func (s *Server) completions(w http.ResponseWriter, r *http.Request) {
	var req completionRequest
	if !decode(w, r, &req) {
		return
	}
	if !knownModel(req.Model) {
		modelNotFound(w, req.Model)
		return
	}
	prompts, ok := texts(req.Prompt)
	if !ok {
		writeError(w, http.StatusBadRequest, "invalid_request_error", "invalid_prompt", "prompt must be a string or a list of strings")
		return
	}
	pad := strings.Repeat("x", s.Knobs().PadBytes)
	id, created := s.newID("cmpl"), s.opts.Now().Unix()

	if !req.Stream {
		choices := make([]any, 0, len(prompts))
		var u usage
		for i, p := range prompts {
			choices = append(choices, map[string]any{"index": i, "text": p + pad, "logprobs": nil, "finish_reason": "stop"})
			pu := countUsage(p, p+pad)
			u.PromptTokens += pu.PromptTokens
			u.CompletionTokens += pu.CompletionTokens
			u.TotalTokens += pu.TotalTokens
		}
		writeJSON(w, http.StatusOK, map[string]any{
			"id": id, "object": "text_completion", "created": created, "model": req.Model,
			"choices": choices, "usage": u,
		})
		return
	}

	sse := newSSE(w)
	var total usage
	for i, p := range prompts {
		pu := countUsage(p, p+pad)
		total.PromptTokens += pu.PromptTokens
		total.CompletionTokens += pu.CompletionTokens
		total.TotalTokens += pu.TotalTokens
		for _, piece := range pieces(p + pad) {
			sse.send(map[string]any{
				"id": id, "object": "text_completion", "created": created, "model": req.Model,
				"choices": []any{map[string]any{"index": i, "text": piece, "logprobs": nil, "finish_reason": nil}},
			})
		}
		sse.send(map[string]any{
			"id": id, "object": "text_completion", "created": created, "model": req.Model,
			"choices": []any{map[string]any{"index": i, "text": "", "logprobs": nil, "finish_reason": "stop"}},
		})
	}
	if req.StreamOptions.IncludeUsage {
		sse.send(map[string]any{
			"id": id, "object": "text_completion", "created": created, "model": req.Model,
			"choices": []any{}, "usage": total,
		})
	}
	sse.done()
}

type embeddingRequest struct {
	Model          string          `json:"model"`
	Input          json.RawMessage `json:"input"`
	EncodingFormat string          `json:"encoding_format"`
}

// embeddingDims is the size of the development embeddings.
const embeddingDims = 8

func (s *Server) embeddings(w http.ResponseWriter, r *http.Request) {
	var req embeddingRequest
	if !decode(w, r, &req) {
		return
	}
	if !knownModel(req.Model) {
		modelNotFound(w, req.Model)
		return
	}
	inputs, ok := embeddingInputs(req.Input)
	if !ok {
		writeError(w, http.StatusBadRequest, "invalid_request_error", "invalid_input", "input must be a string, a list of strings or token lists")
		return
	}
	data := make([]any, 0, len(inputs))
	tokens := 0
	for i, in := range inputs {
		vec := embed(req.Model, in)
		var e any = vec
		if req.EncodingFormat == "base64" {
			buf := make([]byte, 4*len(vec))
			for j, f := range vec {
				binary.LittleEndian.PutUint32(buf[4*j:], math.Float32bits(f))
			}
			e = base64.StdEncoding.EncodeToString(buf)
		}
		data = append(data, map[string]any{"object": "embedding", "index": i, "embedding": e})
		tokens += len(strings.Fields(in))
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"object": "list", "data": data, "model": req.Model,
		"usage": map[string]int{"prompt_tokens": tokens, "total_tokens": tokens},
	})
}

// embed derives a deterministic unit vector from model and text, so that
// tests can compare embeddings across calls.
func embed(model, text string) []float32 {
	sum := sha256.Sum256([]byte(model + "\x00" + text))
	vec := make([]float32, embeddingDims)
	var norm float64
	for i := range vec {
		v := float64(int16(binary.BigEndian.Uint16(sum[2*i:]))) / math.MaxInt16
		vec[i] = float32(v)
		norm += v * v
	}
	norm = math.Sqrt(norm)
	for i := range vec {
		if norm > 0 {
			vec[i] = float32(float64(vec[i]) / norm)
		}
	}
	return vec
}

// texts accepts a string or a list of strings.
func texts(raw json.RawMessage) ([]string, bool) {
	var one string
	if json.Unmarshal(raw, &one) == nil {
		return []string{one}, true
	}
	var many []string
	if json.Unmarshal(raw, &many) == nil && len(many) > 0 {
		return many, true
	}
	return nil, false
}

// embeddingInputs accepts what the embeddings API accepts: a string, a list
// of strings, a token list or a list of token lists. Token lists are
// embedded by their JSON text.
func embeddingInputs(raw json.RawMessage) ([]string, bool) {
	if in, ok := texts(raw); ok {
		return in, true
	}
	var tokens []int
	if json.Unmarshal(raw, &tokens) == nil && len(tokens) > 0 {
		return []string{string(raw)}, true
	}
	var lists [][]int
	if json.Unmarshal(raw, &lists) == nil && len(lists) > 0 {
		out := make([]string, len(lists))
		for i, l := range lists {
			b, _ := json.Marshal(l)
			out[i] = string(b)
		}
		return out, true
	}
	return nil, false
}

// pieces splits text into streamed deltas: words with their trailing
// space, long runs cut into 4 KiB pieces. Joined, they are text again.
func pieces(text string) []string {
	var out []string
	for _, word := range strings.SplitAfter(text, " ") {
		for len(word) > 4096 {
			out = append(out, word[:4096])
			word = word[4096:]
		}
		if word != "" {
			out = append(out, word)
		}
	}
	return out
}

// sse writes server-sent events as OpenAI does: "data: <json>\n\n" per
// chunk, then "data: [DONE]\n\n".
type sse struct {
	w http.ResponseWriter
	f http.Flusher
}

func newSSE(w http.ResponseWriter) *sse {
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	f, _ := w.(http.Flusher)
	return &sse{w: w, f: f}
}

func (s *sse) send(v any) {
	b, _ := json.Marshal(v) // maps of plain values always marshal
	s.write("data: " + string(b) + "\n\n")
}

func (s *sse) done() { s.write("data: [DONE]\n\n") }

func (s *sse) write(line string) {
	_, _ = io.WriteString(s.w, line) // a vanished client is not the server's problem
	if s.f != nil {
		s.f.Flush()
	}
}

// peekBody reads r's body and puts it back, so that recording the request
// leaves it intact for the handler.
func peekBody(r *http.Request) ([]byte, error) {
	if r.Body == nil {
		return nil, nil
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	_ = r.Body.Close()
	r.Body = io.NopCloser(bytes.NewReader(b))
	return b, err
}

func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	b, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil || len(b) > maxBody {
		writeError(w, http.StatusBadRequest, "invalid_request_error", "invalid_body", "the request body could not be read")
		return false
	}
	if err := json.Unmarshal(b, v); err != nil {
		writeError(w, http.StatusBadRequest, "invalid_request_error", "invalid_json", "We could not parse the JSON body of your request: "+err.Error())
		return false
	}
	return true
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":{"message":"encoding failed","type":"api_error","param":null,"code":null}}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func writeError(w http.ResponseWriter, status int, typ, code, msg string) {
	writeJSON(w, status, map[string]any{"error": map[string]any{"message": msg, "type": typ, "param": nil, "code": code}})
}
