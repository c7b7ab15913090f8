package apierr_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/llmgw/apitokens/pkg/apierr"
)

func TestStatusTable(t *testing.T) {
	for _, tc := range []struct {
		kind   apierr.Kind
		status int
	}{
		{apierr.Internal, 500}, {apierr.Invalid, 400}, {apierr.Unauthenticated, 401}, {apierr.Forbidden, 403},
		{apierr.NotFound, 404}, {apierr.Unprocessable, 422}, {apierr.TooLarge, 413}, {apierr.Unavailable, 503},
		{apierr.BadGateway, 502}, {apierr.GatewayTimeout, 504}, {apierr.NotImplemented, 501}, {apierr.MethodNotAllowed, 405}, {apierr.Conflict, 409},
	} {
		err := fmt.Errorf("wrapped: %w", apierr.New(tc.kind, "m"))
		if got := apierr.Status(err); got != tc.status {
			t.Errorf("kind %d: status %d, want %d", tc.kind, got, tc.status)
		}
	}
	if apierr.Status(errors.New("plain")) != 500 {
		t.Error("a plain error must be 500")
	}
}

func TestMessagesHideInternals(t *testing.T) {
	cause := errors.New("dial tcp 10.0.0.1:443: table lisa-LISAApiTokenTable")
	if m := apierr.Message(apierr.Wrap(apierr.Internal, cause, "boom")); m != "Internal server error" {
		t.Errorf("internal message = %q", m)
	}
	if m := apierr.Message(cause); m != "Internal server error" {
		t.Errorf("plain error message = %q", m)
	}
	e := apierr.Wrap(apierr.Unavailable, cause, "token store unavailable")
	if apierr.Message(e) != "token store unavailable" || !errors.Is(e, cause) {
		t.Errorf("message %q, unwraps %v", apierr.Message(e), errors.Is(e, cause))
	}
	if apierr.CodeOf(apierr.New(apierr.Forbidden, "x").WithCode("c")) != "c" || apierr.CodeOf(cause) != "" {
		t.Error("CodeOf")
	}
}
