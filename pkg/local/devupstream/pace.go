package devupstream

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Pacing of streamed chat answers, for tests of streaming relays. A
// streamed chat call ("stream": true) whose last user message contains
// one or more of these words is answered by a paced stream instead of
// the echo:
//
//	pace:<events>x<ms>  <events> content events, <ms> milliseconds apart
//	                    (pace:10x200: ten events over about two seconds)
//	fail:<n>            after <n> content events the connection is closed
//	                    abruptly: no finish chunk, no [DONE]
//	bytes:<n>           the contents of all events add up to <n> bytes
//	                    (bytes:5000000 for a 5 MB answer)
//
// The words are looked for in the message because the serve function
// forwards only a few request headers and refuses body fields that route
// (pkg/serve/body.go); a message reaches the upstream as it was sent.
// Called directly, the same settings can be given as the request headers
// X-Dev-Stream-Events, X-Dev-Stream-Interval-Ms, X-Dev-Stream-Fail-After
// and X-Dev-Stream-Bytes, which take precedence. The content of event i
// (from 0) is "e<i> " padded with "x" to its share of bytes; the
// record of the request says how many events went out (Record.Events),
// when the last one did (Record.LastEvent) and whether the caller went
// away first (Record.Canceled).
type Pace struct {
	Events    int
	Interval  time.Duration
	FailAfter int // 0: never
	Bytes     int // 0: no padding
}

// maxPaceEvents and maxPaceBytes bound what one request can ask for.
const (
	maxPaceEvents = 100_000
	maxPaceBytes  = 64 << 20
)

// parsePace reads the pacing words of text and the X-Dev-Stream-* headers
// of h; ok is false when neither asks for pacing.
func parsePace(text string, h http.Header) (p Pace, ok bool, err error) {
	set := func(name, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return fmt.Errorf("%s: %q is not a whole number >= 0", name, v)
		}
		switch name {
		case "events":
			p.Events = n
		case "interval":
			p.Interval = time.Duration(n) * time.Millisecond
		case "fail":
			p.FailAfter = n
		case "bytes":
			p.Bytes = n
		}
		ok = true
		return nil
	}
	for _, f := range strings.Fields(text) {
		k, v, found := strings.Cut(f, ":")
		if !found {
			continue
		}
		switch k {
		case "pace":
			ev, ms, found := strings.Cut(v, "x")
			if !found {
				return p, false, fmt.Errorf("pace: %q is not <events>x<ms>", v)
			}
			if err := set("events", ev); err != nil {
				return p, false, err
			}
			if err := set("interval", ms); err != nil {
				return p, false, err
			}
		case "fail", "bytes":
			if err := set(k, v); err != nil {
				return p, false, err
			}
		}
	}
	for name, hdr := range map[string]string{"events": "X-Dev-Stream-Events", "interval": "X-Dev-Stream-Interval-Ms", "fail": "X-Dev-Stream-Fail-After", "bytes": "X-Dev-Stream-Bytes"} {
		if v := h.Get(hdr); v != "" {
			if err := set(name, v); err != nil {
				return p, false, err
			}
		}
	}
	if !ok {
		return p, false, nil
	}
	if p.Events == 0 {
		p.Events = 1
	}
	if p.Events > maxPaceEvents || p.Bytes > maxPaceBytes {
		return p, false, fmt.Errorf("at most %d events and %d bytes", maxPaceEvents, maxPaceBytes)
	}
	return p, true, nil
}

// content is the text of event i.
func (p Pace) content(i int) string {
	s := "e" + strconv.Itoa(i) + " "
	if p.Bytes > 0 {
		share := p.Bytes / p.Events
		if i == p.Events-1 {
			share = p.Bytes - share*(p.Events-1)
		}
		if pad := share - len(s); pad > 0 {
			s += strings.Repeat("x", pad)
		}
	}
	return s
}

// Text is the whole answer of a paced stream that does not fail.
func (p Pace) Text() string {
	var b strings.Builder
	for i := 0; i < p.Events; i++ {
		b.WriteString(p.content(i))
	}
	return b.String()
}

// paced writes a paced stream, ending with final (the usage chunk) when it
// is not nil. It returns early, with canceled, when the caller goes away.
func (s *Server) paced(w http.ResponseWriter, r *http.Request, p Pace, chunk func(delta map[string]any, finish any) map[string]any, seq int, final map[string]any) {
	out := newSSE(w)
	out.send(chunk(map[string]any{"role": "assistant", "content": ""}, nil))
	var t *time.Timer
	for i := 0; i < p.Events; i++ {
		if i > 0 && p.Interval > 0 {
			if t == nil {
				t = time.NewTimer(p.Interval)
			} else {
				t.Reset(p.Interval)
			}
			select {
			case <-t.C:
			case <-r.Context().Done():
				return
			}
		}
		if r.Context().Err() != nil {
			return
		}
		out.send(chunk(map[string]any{"content": p.content(i)}, nil))
		s.noteEvent(seq)
		if p.FailAfter > 0 && i+1 == p.FailAfter {
			rc := http.NewResponseController(w)
			if conn, _, err := rc.Hijack(); err == nil {
				_ = conn.Close()
			}
			panic(http.ErrAbortHandler) // if the writer cannot be hijacked
		}
	}
	out.send(chunk(map[string]any{}, "stop"))
	if final != nil {
		out.send(final)
	}
	out.done()
}
