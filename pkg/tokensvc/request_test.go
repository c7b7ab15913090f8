package tokensvc_test

import (
	"context"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/llmgw/apitokens/pkg/apierr"
	"github.com/llmgw/apitokens/pkg/auth"
	"github.com/llmgw/apitokens/pkg/tokensvc"
)

const day = 24 * time.Hour

func TestParseExpiresIn(t *testing.T) {
	ok := []struct {
		in   string
		want time.Duration
	}{
		{"90d", 90 * day},
		{"12h", 12 * time.Hour},
		{"30m", 30 * time.Minute},
		{"2w", 14 * day},
		{"1y", 365 * day},
		{"1h30m", 90 * time.Minute},
		{"1d12h", 36 * time.Hour},
		{"2w3d", 17 * day},
		{"1w1d1h1m1s", 8*day + time.Hour + time.Minute + time.Second},
		{"3600s", time.Hour},
		{"1h0m", time.Hour},
		{"  90d\t", 90 * day},
		{"90D", 90 * day},
		{"1H30M", 90 * time.Minute},
		{"365d", 365 * day},
		{"52w1d", 365 * day},
		{"000001d", day},
	}
	for _, tc := range ok {
		t.Run(tc.in, func(t *testing.T) {
			got, err := tokensvc.ParseExpiresIn(tc.in, 365)
			if err != nil || got != tc.want {
				t.Fatalf("ParseExpiresIn(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
			}
		})
	}

	refused := []struct {
		in, why string // why: a substring of the message
	}{
		{"", "empty"},
		{"   ", "empty"},
		{"d", "whole number"},
		{"12", "without a unit"},
		{"-1d", "whole number"},
		{"+1d", "whole number"},
		{"1.5d", "whole numbers"},
		{"0d", "greater than zero"},
		{"0h0m", "greater than zero"},
		{"1y1y", "repeats a unit"},
		{"1h1d", "smaller one first"},
		{"30m2h", "smaller one first"},
		{"1d 12h", "whole number"},
		{"90 d", "unknown unit"},
		{"ninety days", "whole number"},
		{"90days", "unknown unit"},
		{"1mo", "unknown unit"},
		{"90x", "unknown unit"},
		{"366d", "maximum token lifetime of 365 days"},
		{"1y1s", "maximum token lifetime"},
		{"53w", "maximum token lifetime"},
		{"999999y", "maximum token lifetime"},
		{"213504d", "maximum token lifetime"},        // would overflow time.Duration in days
		{"9999999999999999999m", "at most 6 digits"}, // overflows int64
		{"1000000s", "at most 6 digits"},
		{"999999y999999w999999d999999h999999m999999s", "maximum token lifetime"},
	}
	for _, tc := range refused {
		t.Run("refused "+tc.in, func(t *testing.T) {
			got, err := tokensvc.ParseExpiresIn(tc.in, 365)
			if err == nil || apierr.KindOf(err) != apierr.Invalid {
				t.Fatalf("ParseExpiresIn(%q) = %v, %v; want an Invalid refusal", tc.in, got, err)
			}
			if msg := apierr.Message(err); !strings.Contains(msg, tc.why) {
				t.Errorf("message %q does not say %q", msg, tc.why)
			}
		})
	}

	// Whatever maxDays is, no input overflows time.Duration (about 292
	// years) into a short or negative lifetime.
	for _, in := range []string{"999999y", "293y", "106752d", "999999y999999w999999d999999h999999m999999s"} {
		if d, err := tokensvc.ParseExpiresIn(in, math.MaxInt); err == nil && d <= 0 {
			t.Errorf("ParseExpiresIn(%q, MaxInt) = %v: overflowed", in, d)
		}
	}

	// A refusal of the form lists the accepted forms.
	_, err := tokensvc.ParseExpiresIn("ninety days", 365)
	for _, form := range []string{`"90d"`, `"1h30m"`, "y = 365 days", "m = minutes", "largest unit first"} {
		if !strings.Contains(apierr.Message(err), form) {
			t.Errorf("message %q does not list %s", apierr.Message(err), form)
		}
	}
}

// FuzzParseExpiresIn: any input is refused or is a positive lifetime of
// at most maxDays, never an overflow into a short or negative one.
func FuzzParseExpiresIn(f *testing.F) {
	for _, s := range []string{"90d", "1h30m", "2w3d", "1y", "3600s", "213504d", "999999y", "9999999999999999999m",
		"1y1y", "0d", "-1d", "1.5d", "", "d", "12", "999999y999999w999999d999999h999999m999999s", " 1D "} {
		f.Add(s, 365)
	}
	f.Add("999999y", math.MaxInt)
	f.Add("106752d", 1<<40)
	f.Fuzz(func(t *testing.T, s string, maxDays int) {
		d, err := tokensvc.ParseExpiresIn(s, maxDays)
		if err != nil {
			if d != 0 || apierr.KindOf(err) != apierr.Invalid {
				t.Fatalf("ParseExpiresIn(%q, %d) = %v, %v; want 0 and an Invalid refusal", s, maxDays, d, err)
			}
			return
		}
		if d <= 0 || d%time.Second != 0 || int64(d/day) > int64(maxDays) || int64(d/day) == int64(maxDays) && d%day != 0 {
			t.Fatalf("ParseExpiresIn(%q, %d) = %v: not a positive whole-second lifetime within %d days", s, maxDays, d, maxDays)
		}
	})
}

func TestExpiryMessagesSayWhatToSend(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	ctx := context.Background()
	admin := auth.Principal{Username: "root", Groups: []string{"admins"}, AuthType: auth.AuthJWT, IsAdmin: true, IsAPIUser: true}
	byToken := tokenCaller("alice", now.Add(day).Unix(), false, "api")
	cases := []struct {
		name   string
		caller auth.Principal
		req    tokensvc.CreateRequest
		want   []string
	}{
		{"a duration sent as tokenExpiration", admin, tokensvc.CreateRequest{Name: ptr("x"), TokenExpiration: ptr(int64(3600))},
			[]string{"in the future", "Unix time in seconds", "expiresIn"}},
		{"milliseconds sent as tokenExpiration", admin, tokensvc.CreateRequest{Name: ptr("x"), TokenExpiration: ptr(now.Add(day).Unix() * 1000)},
			[]string{"maximum token lifetime", "milliseconds"}},
		{"expiresIn past the creating token", byToken, tokensvc.CreateRequest{Name: ptr("x"), ExpiresIn: ptr("2d")},
			[]string{"expiresIn is after the expiry", "cannot outlive"}},
		{"tokenExpiration past the creating token", byToken, tokensvc.CreateRequest{Name: ptr("x"), TokenExpiration: ptr(now.Add(2 * day).Unix())},
			[]string{"tokenExpiration is after the expiry", "cannot outlive"}},
		{"expiresIn malformed", admin, tokensvc.CreateRequest{Name: ptr("x"), ExpiresIn: ptr("1.5d")},
			[]string{"whole numbers", `"1d12h"`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := newService(now).Create(ctx, tc.caller, "bob", tc.req)
			if tc.caller.AuthType == auth.AuthAPIToken {
				_, err = newService(now).Create(ctx, tc.caller, "", tc.req)
			}
			if apierr.KindOf(err) != apierr.Invalid {
				t.Fatalf("err = %v, want Invalid", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(apierr.Message(err), w) {
					t.Errorf("message %q does not say %q", apierr.Message(err), w)
				}
			}
		})
	}
}

func TestGroupRefusalsSayWhatToDo(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	outsider := auth.Principal{Username: "eve", Groups: []string{"guests"}, AuthType: auth.AuthJWT}
	_, err := newService(now).Create(context.Background(), outsider, "", tokensvc.CreateRequest{Name: ptr("x")})
	if apierr.KindOf(err) != apierr.Forbidden || !strings.Contains(apierr.Message(err), "ask an admin") {
		t.Fatalf("create: err = %v, want Forbidden saying to ask an admin", err)
	}
	_, err = newService(now).List(context.Background(), outsider, tokensvc.ListRequest{})
	if apierr.KindOf(err) != apierr.Forbidden || !strings.Contains(apierr.Message(err), "ask an admin") {
		t.Fatalf("list: err = %v, want Forbidden saying to ask an admin", err)
	}
}
