package lambdaemu

import (
	"strings"
	"sync"
	"testing"
)

func TestTailBuffer(t *testing.T) {
	long := strings.Repeat("a", tailSize-3) + "\nlast line\n"
	tests := []struct {
		name   string
		writes []string
		want   string
	}{
		{name: "empty", writes: nil, want: ""},
		{name: "short output is kept whole", writes: []string{"one\n", "two\n"}, want: "one\ntwo"},
		{name: "cut output starts at a line", writes: []string{"first\n", long}, want: "last line"},
		{name: "one huge write keeps its end", writes: []string{strings.Repeat("b", 3*tailSize) + "\nend"}, want: "end"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var tb tailBuffer
			for _, w := range tt.writes {
				if n, err := tb.Write([]byte(w)); n != len(w) || err != nil {
					t.Fatalf("Write = %d, %v; want %d, nil", n, err, len(w))
				}
			}
			if got := tb.String(); got != tt.want {
				t.Errorf("String() = %.60q...; want %q", got, tt.want)
			}
			if len(tb.buf) > tailSize {
				t.Errorf("kept %d bytes; want at most %d", len(tb.buf), tailSize)
			}
		})
	}
}

// TestStreamWriterSerializesCallerWriter runs under -race: two streams
// writing into one plain strings.Builder must not race.
func TestStreamWriterSerializesCallerWriter(t *testing.T) {
	var mu sync.Mutex
	var sb strings.Builder
	tail := &tailBuffer{}
	out := &streamWriter{mu: &mu, w: &sb, tail: tail}
	errw := &streamWriter{mu: &mu, w: &sb, tail: tail}
	var wg sync.WaitGroup
	for _, w := range []*streamWriter{out, errw} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 100 {
				_, _ = w.Write([]byte("line\n"))
			}
		}()
	}
	wg.Wait()
	if got, want := strings.Count(sb.String(), "line\n"), 200; got != want {
		t.Errorf("caller writer got %d lines; want %d", got, want)
	}
}

func TestParseFunctionError(t *testing.T) {
	tests := []struct {
		name, body, header string
		want               InvokeError
	}{
		{name: "aws-lambda-go document", body: `{"errorMessage":"m","errorType":"T"}`, want: InvokeError{Message: "m", Type: "T"}},
		{name: "type from header", body: `{"errorMessage":"m"}`, header: "H", want: InvokeError{Message: "m", Type: "H"}},
		{name: "not JSON is kept as message", body: "oops", header: "H", want: InvokeError{Message: "oops", Type: "H"}},
		{name: "nothing known", body: "", want: InvokeError{Type: "Unhandled"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := parseFunctionError([]byte(tt.body), tt.header)
			if got.Message != tt.want.Message || got.Type != tt.want.Type {
				t.Errorf("parseFunctionError(%q, %q) = %+v; want %+v", tt.body, tt.header, *got, tt.want)
			}
		})
	}
}
