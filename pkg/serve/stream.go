package serve

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"sync"
)

// streamBufSize is the most one read from the upstream relays at once.
const streamBufSize = 32 << 10

// streamBufs keeps relay buffers between calls: a fresh 32 KiB per call
// was a visible share of the allocation (and GC) cost under load.
var streamBufs = sync.Pool{New: func() any { b := make([]byte, streamBufSize); return &b }}

// relayStream forwards one call in streaming mode: the answer goes to the
// caller as the upstream sends it, with no size limit. Status and headers
// wait for the first bytes of the body, so an upstream that fails or
// stalls before it sends anything is still answered with an ordinary
// OpenAI-shaped error (502, 504). An event stream (text/event-stream) is
// flushed after every read. When the upstream fails after the answer has
// begun, an event stream ends with an in-band error event
//
//	data: {"error":{"message":...,"type":...,"param":null,"code":...}}
//
// and without "data: [DONE]", which SDKs report as an error; any other
// answer is cut off (the connection is aborted, so the body is visibly
// incomplete rather than a shorter answer that looks whole). A caller that
// goes away cancels the upstream request at once.
func (h *Handler) relayStream(c *call, r *http.Request, method, endpoint string, body []byte, stream bool) {
	u, err := h.send(c, r, method, endpoint, body)
	if err != nil {
		h.writeError(c, err)
		return
	}
	defer u.done()
	hdr := relayedHeaders(u.resp.Header)
	dropUpstreamRateHeaders(c, hdr)
	if stream && u.resp.StatusCode == http.StatusOK && hdr.Get("Content-Type") == "" {
		hdr.Set("Content-Type", "text/event-stream")
	}
	mt, _, _ := mime.ParseMediaType(hdr.Get("Content-Type"))
	sse := mt == "text/event-stream"

	bp := streamBufs.Get().(*[]byte)
	defer streamBufs.Put(bp)
	buf := *bp
	n, err := io.ReadAtLeast(u.resp.Body, buf, 1)
	if err != nil && !errors.Is(err, io.EOF) {
		h.writeError(c, u.failed(err))
		return
	}
	wh := c.w.Header()
	for k, vs := range hdr {
		wh[k] = vs
	}
	if sse {
		// Proxies that buffer by default (nginx) pass events on at once.
		wh.Set("X-Accel-Buffering", "no")
	}
	c.status = u.resp.StatusCode
	c.w.WriteHeader(c.status)
	rc := http.NewResponseController(c.w)
	mu := newStreamMeter(c.meter, sse)
	var tail [2]byte // the last two bytes written, to end a cut event
	write := func(b []byte) bool {
		if len(b) == 0 {
			return true
		}
		if _, werr := c.w.Write(b); werr != nil {
			return false // the caller is gone; done cancels the upstream call
		}
		c.bytes += len(b)
		if len(b) >= 2 {
			copy(tail[:], b[len(b)-2:])
		} else {
			tail[0], tail[1] = tail[1], b[0]
		}
		if sse {
			_ = rc.Flush()
		}
		return true
	}
	for n > 0 {
		if !write(mu.feed(buf[:n])) {
			return
		}
		if err != nil {
			break
		}
		n, err = u.resp.Body.Read(buf)
	}
	clean := err == nil || errors.Is(err, io.EOF)
	if !write(mu.end(clean)) {
		return
	}
	if clean {
		// No flush of its own: net/http sends what is left when the
		// handler returns, with a Content-Length when the whole answer
		// is still in its buffer (one write, no chunked encoding).
		return
	}
	if r.Context().Err() != nil {
		return // the caller went away: nobody to tell
	}
	c.err, c.midStream = u.failed(err), true
	if !sse {
		// No way to say so in-band: abort the connection so that the
		// caller sees a cut body, not a complete-looking short one.
		panic(http.ErrAbortHandler)
	}
	var ev bytes.Buffer
	if tail != [2]byte{'\n', '\n'} {
		ev.WriteString("\n\n")
	}
	ev.WriteString("data: ")
	enc := json.NewEncoder(&ev)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(ErrorResponse{Error: errorDetail(c.err)}) // strings only: cannot fail
	ev.Truncate(ev.Len() - 1)
	ev.WriteString("\n\n")
	_, _ = c.w.Write(ev.Bytes())
	_ = rc.Flush()
}

// streamMeter reads the usage of an answer relayed as it arrives: an
// event stream through sseUsage (which also strips the usage chunk the
// gateway asked for), any other answer from a copy of up to
// maxUsageScanBytes parsed at its end. A nil meter, or a call whose usage
// is not recorded, passes the bytes through untouched.
type streamMeter struct {
	m    *meter
	sse  *sseUsage
	body []byte
	over bool
}

func newStreamMeter(m *meter, sse bool) *streamMeter {
	if m == nil || !m.record || !m.modelCall {
		return &streamMeter{}
	}
	s := &streamMeter{m: m}
	if sse {
		s.sse = &sseUsage{strip: m.strip}
	}
	return s
}

// feed returns the bytes of p to send on now.
func (s *streamMeter) feed(p []byte) []byte {
	switch {
	case s.m == nil:
	case s.sse != nil:
		return s.sse.feed(p)
	case s.over:
	case len(s.body)+len(p) > maxUsageScanBytes:
		s.body, s.over = nil, true
	default:
		s.body = append(s.body, p...)
	}
	return p
}

// end returns what was held back, and takes the usage read into the meter;
// complete is whether the answer arrived whole.
func (s *streamMeter) end(complete bool) []byte {
	if s.m == nil {
		return nil
	}
	if s.sse != nil {
		rest := s.sse.end()
		if s.sse.found {
			s.m.tokens = &s.sse.tokens
		} else {
			s.m.noUse = "the event stream has no usage"
		}
		return rest
	}
	switch {
	case !complete:
	case s.over:
		s.m.noUse = fmt.Sprintf("the answer is larger than %d bytes, the most read for its usage", maxUsageScanBytes)
	default:
		if t, ok := parseUsage(s.body); ok {
			s.m.tokens = &t
		} else {
			s.m.noUse = "the answer has no usage"
		}
	}
	return nil
}
