package apigw_test

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/llmgw/apitokens/pkg/apigw"
	"github.com/llmgw/apitokens/pkg/auth"
)

// Answers are JSON for API clients: <, > and & appear as written, not as
// \u003c, \u003e and \u0026, and the body ends where the JSON ends.
func TestJSONWritesAngleBracketsAndAmpersandsAsTheyAre(t *testing.T) {
	r := apigw.JSON(400, map[string]string{"message": "send <token> & retry"})
	if r.Body != `{"message":"send <token> & retry"}` {
		t.Fatalf("body = %q", r.Body)
	}

	_, err := auth.Credential(http.Header{})
	r = apigw.Error(context.Background(), slog.New(slog.DiscardHandler), err)
	if r.StatusCode != http.StatusUnauthorized || !strings.Contains(r.Body, "Bearer <token>") || strings.Contains(r.Body, `\u003c`) {
		t.Fatalf("no-credential answer %d %q, want 401 showing Bearer <token> literally", r.StatusCode, r.Body)
	}
	if strings.HasSuffix(r.Body, "\n") {
		t.Fatalf("body ends with a newline: %q", r.Body)
	}
}

func TestJSONUnencodableBodyIsAnInternalError(t *testing.T) {
	r := apigw.JSON(200, map[string]any{"f": func() {}})
	if r.StatusCode != 500 || r.Body != `{"message":"Internal server error"}` {
		t.Fatalf("answer %d %q, want the fixed 500 body", r.StatusCode, r.Body)
	}
}
