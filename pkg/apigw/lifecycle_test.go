package apigw_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/llmgw/apitokens/pkg/auth"
	"github.com/llmgw/apitokens/pkg/secret"
	"github.com/llmgw/apitokens/pkg/store"
	"github.com/llmgw/apitokens/pkg/store/storetest"
)

// runLifecycle is the token lifecycle beyond create and delete: edit,
// disable, rotate, revoke a user's tokens, last use and the audit trail,
// run against each backend.
func runLifecycle(t *testing.T, b backend) {
	newEnvFor := func(t *testing.T) *env {
		st, _ := b.new(t)
		return newEnv(t, st)
	}
	// own creates alice's own token and returns its 201 body.
	own := func(e *env, who auth.Principal) resp {
		e.t.Helper()
		return e.create(who, "", `{"name":"laptop"}`)
	}

	t.Run("owner renames and shortens a token; the change is recorded", func(t *testing.T) {
		e := newEnvFor(t)
		c := own(e, alice)
		id := c.str("tokenUUID")
		e.now = e.now.Add(time.Minute)
		exp := e.now.Add(24 * time.Hour).Unix()
		r := e.do(alice, "PATCH", "/api-tokens/"+id, fmt.Sprintf(`{"name":"  ci  ","tokenExpiration":%d}`, exp))
		e.want(r, 200, "")
		if r.str("name") != "ci" || r.num("tokenExpiration") != exp || r.num("updatedAt") != e.now.Unix() || r.str("status") != "active" {
			t.Fatalf("patched view: %s", r.raw)
		}
		g := e.do(alice, "GET", "/api-tokens/"+id, "")
		if g.str("name") != "ci" || g.num("tokenExpiration") != exp {
			t.Fatalf("get after patch: %s", g.raw)
		}
		evs := tokenEvents(t, e, alice, id)
		if len(evs) != 2 || evs[0]["action"] != "update" || evs[1]["action"] != "create" {
			t.Fatalf("events: %v", evs)
		}
		changes := fmt.Sprint(evs[0]["changes"])
		if !strings.Contains(changes, "field:name new:ci old:laptop") || !strings.Contains(changes, fmt.Sprintf("new:%d", exp)) {
			t.Errorf("update event changes: %s", changes)
		}
		if evs[0]["actor"] != "alice" || evs[0]["authType"] != "jwt" || evs[0]["username"] != "alice" || evs[0]["sourceIp"] != "198.51.100.7" || evs[0]["userAgent"] != "lifecycle-test/1" {
			t.Errorf("update event: %v", evs[0])
		}
		// A patch that changes nothing records nothing.
		e.want(e.do(alice, "PATCH", "/api-tokens/"+id, `{"name":"ci"}`), 200, "")
		if n := len(tokenEvents(t, e, alice, id)); n != 2 {
			t.Errorf("%d events after a patch that changed nothing, want 2", n)
		}
	})

	t.Run("bad patches are refused and change nothing", func(t *testing.T) {
		e := newEnvFor(t)
		id := own(e, alice).str("tokenUUID")
		legacy := "legacy-value-" + strings.Repeat("b", 20)
		if err := putLegacy(t, e.st).PutLegacy(context.Background(), legacy, 0); err != nil {
			t.Fatal(err)
		}
		before := e.snapshot()
		for _, tc := range []struct {
			caller auth.Principal
			path   string
			body   string
			status int
			msg    string
		}{
			{alice, id, `{}`, 400, "nothing to change"},
			{alice, id, ``, 400, "nothing to change"},
			{alice, id, `{"groups":["lisa-admins"]}`, 400, "groups cannot be changed"},
			{alice, id, `{"isSystemToken":true}`, 422, "unknown field"},
			{alice, id, `{"username":"bob"}`, 422, "unknown field"},
			{alice, id, `{"name":""}`, 400, "name"},
			{alice, id, `{"name":"` + strings.Repeat("x", 200) + `"}`, 400, "name"},
			{alice, id, `{"disabled":"yes"}`, 422, "boolean"},
			{alice, id, `{"expiresIn":"2y"}`, 400, "maximum"},
			{alice, id, `{"expiresIn":"1d","tokenExpiration":1900000000}`, 400, "not both"},
			{alice, id, `{"tokenExpiration":1}`, 400, "future"},
			{bob, id, `{"name":"mine"}`, 404, ""},
			{carol, id, `{"name":"x"}`, 403, "API group"},
			{admin, secret.LegacyID(legacy), `{"name":"x"}`, 400, "legacy"},
			{alice, "not-a-uuid", `{"name":"x"}`, 400, "token id"},
		} {
			r := e.do(tc.caller, "PATCH", "/api-tokens/"+tc.path, tc.body)
			if r.status != tc.status || !strings.Contains(r.str("message"), tc.msg) {
				t.Errorf("PATCH %s %s as %s: %d %s; want %d mentioning %q", tc.path, tc.body, tc.caller.Username, r.status, r.raw, tc.status, tc.msg)
			}
		}
		assertUnchanged(t, e, before)
		if n := len(tokenEvents(t, e, alice, id)); n != 1 {
			t.Errorf("%d events after refused patches, want 1 (the create)", n)
		}
	})

	t.Run("disable and enable", func(t *testing.T) {
		e := newEnvFor(t)
		c := own(e, alice)
		id, tok := c.str("tokenUUID"), c.str("token")
		e.want(e.withToken(tok, "GET", "/api-tokens/"+id, ""), 200, "")
		before := e.as(tok)

		// An admin disables it: refused at once, listed as disabled.
		r := e.do(admin, "PATCH", "/api-tokens/"+id, `{"disabled":true}`)
		e.want(r, 200, "")
		if r.body["disabled"] != true || r.str("status") != "disabled" || r.str("disabledBy") != "admin" || r.body["disabledByAdmin"] != true {
			t.Fatalf("disabled view: %s", r.raw)
		}
		if _, err := e.authn.Authenticate(context.Background(), http.Header{"Authorization": {"Bearer " + tok}}); err == nil || !strings.Contains(err.Error(), "disabled") {
			t.Fatalf("a disabled token authenticated: %v", err)
		}
		if !strings.Contains(e.logs.String(), `"reason":"token_disabled"`) {
			t.Error("the refusal of a disabled token is not logged with reason token_disabled")
		}
		// A decision made before the disable, replayed: the function
		// decides again and refuses.
		e.want(e.withStaleDecision(before, tok, "GET", "/api-tokens/"+id, ""), 401, "")
		l := listAll(t, e, alice, "")
		if len(l) != 1 || l[0]["disabled"] != true || l[0]["status"] != "disabled" {
			t.Fatalf("list: %v", l)
		}
		// The owner cannot enable what an admin disabled; an admin can.
		e.want(e.do(alice, "PATCH", "/api-tokens/"+id, `{"disabled":false}`), 403, "admin")
		e.want(e.do(admin, "PATCH", "/api-tokens/"+id, `{"disabled":false}`), 200, "")
		e.want(e.withToken(tok, "GET", "/api-tokens/"+id, ""), 200, "")

		// The owner disables it and enables it again.
		e.want(e.do(alice, "PATCH", "/api-tokens/"+id, `{"disabled":true}`), 200, "")
		r = e.do(alice, "PATCH", "/api-tokens/"+id, `{"disabled":false}`)
		e.want(r, 200, "")
		if r.body["disabled"] != false || r.str("disabledBy") != "" || r.str("status") != "active" {
			t.Fatalf("enabled view: %s", r.raw)
		}
		actions := []string{}
		for _, ev := range tokenEvents(t, e, admin, id) {
			actions = append(actions, ev["action"].(string))
		}
		if got := strings.Join(actions, ","); got != "enable,disable,enable,disable,create" {
			t.Errorf("actions newest first: %s", got)
		}
	})

	t.Run("an owner outside the API group may still disable, not edit", func(t *testing.T) {
		e := newEnvFor(t)
		id := own(e, alice).str("tokenUUID")
		left := principal("alice", "lisa-users") // removed from the API group
		e.want(e.do(left, "PATCH", "/api-tokens/"+id, `{"name":"x"}`), 403, "API group")
		e.want(e.do(left, "PATCH", "/api-tokens/"+id, `{"disabled":true}`), 200, "")
		e.want(e.do(left, "PATCH", "/api-tokens/"+id, `{"disabled":false}`), 403, "API group")
	})

	t.Run("a token cannot move an expiry past its own", func(t *testing.T) {
		e := newEnvFor(t)
		c := e.create(admin, "ci-bot", fmt.Sprintf(`{"name":"ci","groups":["lisa-admins"],"isSystemToken":true,"tokenExpiration":%d}`, e.now.Add(48*time.Hour).Unix()))
		other := e.create(admin, "bob", `{"name":"bob's"}`).str("tokenUUID")
		tok := c.str("token")
		e.want(e.withToken(tok, "PATCH", "/api-tokens/"+other, `{"expiresIn":"30d"}`), 400, "after the expiry of the API token")
		e.want(e.withToken(tok, "PATCH", "/api-tokens/"+other, `{"expiresIn":"1d"}`), 200, "")
		ev := tokenEvents(t, e, admin, other)[0]
		if ev["authType"] != c.str("tokenUUID") || ev["actor"] != "ci-bot" {
			t.Errorf("event of a change made with a token: %v", ev)
		}
	})

	t.Run("no new secret or longer life for groups the caller lacks", func(t *testing.T) {
		e := newEnvFor(t)
		sys := e.create(admin, "alice", `{"name":"deploy","isSystemToken":true,"groups":["lisa-api-users","prod-deployers"]}`)
		id := sys.str("tokenUUID")
		before := e.snapshot()
		e.want(e.do(alice, "POST", "/api-tokens/"+id+"/rotate", ``), 400, "prod-deployers")
		e.want(e.do(alice, "PATCH", "/api-tokens/"+id, `{"expiresIn":"200d"}`), 400, "prod-deployers")
		assertUnchanged(t, e, before)
		// Renaming and disabling grant nothing: the owner may.
		e.want(e.do(alice, "PATCH", "/api-tokens/"+id, `{"name":"deploy (alice)"}`), 200, "")
		e.want(e.do(alice, "PATCH", "/api-tokens/"+id, `{"disabled":true}`), 200, "")
		e.want(e.do(admin, "PATCH", "/api-tokens/"+id, `{"disabled":false}`), 200, "")
		// A token with those groups cannot either, even an admin's.
		adminTok := e.create(admin, "ops", `{"name":"ops","isSystemToken":true,"groups":["lisa-admins"]}`).str("token")
		e.want(e.withToken(adminTok, "POST", "/api-tokens/"+id+"/rotate", ``), 400, "which you do not")
		// An admin, signed in, can.
		e.want(e.do(admin, "POST", "/api-tokens/"+id+"/rotate", ``), 201, "")
	})

	t.Run("rotate with a grace period", func(t *testing.T) {
		e := newEnvFor(t)
		c := own(e, alice)
		oldID, oldTok := c.str("tokenUUID"), c.str("token")
		r := e.do(alice, "POST", "/api-tokens/"+oldID+"/rotate", `{"gracePeriod":"30m"}`)
		e.want(r, 201, "")
		newID, newTok := r.str("tokenUUID"), r.str("token")
		if !secret.WellFormed(newTok) || newID == oldID || r.str("rotatedFrom") != oldID || r.num("previousTokenExpiration") != e.now.Add(30*time.Minute).Unix() {
			t.Fatalf("rotate answer: %s", r.raw)
		}
		if r.str("username") != "alice" || r.str("name") != "laptop" || r.num("tokenExpiration") != c.num("tokenExpiration") || fmt.Sprint(r.body["groups"]) != fmt.Sprint(c.body["groups"]) {
			t.Fatalf("the new token differs from the old: %s vs %s", r.raw, c.raw)
		}
		old := e.do(alice, "GET", "/api-tokens/"+oldID, "")
		if old.str("rotatedTo") != newID || old.str("status") != "rotated" || old.num("tokenExpiration") != e.now.Add(30*time.Minute).Unix() {
			t.Fatalf("old token after rotation: %s", old.raw)
		}
		if g := e.do(alice, "GET", "/api-tokens/"+newID, ""); g.str("rotatedFrom") != oldID {
			t.Fatalf("new token: %s", g.raw)
		}
		// Both work during the grace period; the slot is the new token's.
		e.want(e.withToken(oldTok, "GET", "/api-tokens/"+oldID, ""), 200, "")
		e.want(e.withToken(newTok, "GET", "/api-tokens/"+newID, ""), 200, "")
		e.want(e.do(alice, "POST", "/api-tokens/", `{"name":"another"}`), 400, "already has a token")
		e.want(e.do(alice, "POST", "/api-tokens/"+oldID+"/rotate", ``), 400, "already rotated")
		e.want(e.do(alice, "PATCH", "/api-tokens/"+oldID, `{"expiresIn":"30d"}`), 400, "rotated")
		// After it, only the new one.
		e.now = e.now.Add(31 * time.Minute)
		e.want(e.withToken(oldTok, "GET", "/api-tokens/"+oldID, ""), 401, "")
		e.want(e.withToken(newTok, "GET", "/api-tokens/"+newID, ""), 200, "")
		// Deleting the old token leaves the new one its slot.
		e.want(e.do(alice, "DELETE", "/api-tokens/"+oldID, ""), 200, "")
		e.want(e.do(alice, "POST", "/api-tokens/", `{"name":"another"}`), 400, "already has a token")
		e.want(e.do(alice, "DELETE", "/api-tokens/"+newID, ""), 200, "")
		own(e, alice)

		evs := tokenEvents(t, e, admin, oldID)
		if evs[len(evs)-1]["action"] != "create" || !hasAction(evs, "rotate") {
			t.Errorf("old token's history: %v", evs)
		}
		if nev := tokenEvents(t, e, admin, newID); !hasAction(nev, "create") || !strings.Contains(fmt.Sprint(nev), oldID) {
			t.Errorf("new token's history does not name the old one: %v", nev)
		}
	})

	t.Run("rotate with no grace period", func(t *testing.T) {
		e := newEnvFor(t)
		c := e.create(admin, "ci", `{"name":"ci","isSystemToken":true,"groups":["lisa-api-users"]}`)
		r := e.do(admin, "POST", "/api-tokens/"+c.str("tokenUUID")+"/rotate", `{"gracePeriod":"0s"}`)
		e.want(r, 201, "")
		if r.body["isSystemToken"] != true {
			t.Fatalf("rotating a system token made %s", r.raw)
		}
		e.want(e.withToken(c.str("token"), "GET", "/api-tokens/"+c.str("tokenUUID"), ""), 401, "")
		e.want(e.withToken(r.str("token"), "GET", "/api-tokens/"+r.str("tokenUUID"), ""), 200, "")
	})

	t.Run("what cannot be rotated", func(t *testing.T) {
		e := newEnvFor(t)
		id := own(e, alice).str("tokenUUID")
		legacy := "legacy-value-" + strings.Repeat("c", 20)
		if err := putLegacy(t, e.st).PutLegacy(context.Background(), legacy, 0); err != nil {
			t.Fatal(err)
		}
		before := e.snapshot()
		for _, tc := range []struct {
			caller auth.Principal
			path   string
			body   string
			status int
			msg    string
		}{
			{alice, id, `{"gracePeriod":"8d"}`, 400, "7d"},
			{alice, id, `{"gracePeriod":"1x"}`, 400, "gracePeriod"},
			{alice, id, `{"gracePeriod":""}`, 400, "gracePeriod"},
			{alice, id, `{"gracePeriod":3600}`, 422, "string"},
			{alice, id, `{"grace":"1h"}`, 422, "unknown field"},
			{bob, id, ``, 404, ""},
			{carol, id, ``, 403, "API group"},
			{admin, secret.LegacyID(legacy), ``, 400, "legacy"},
		} {
			r := e.do(tc.caller, "POST", "/api-tokens/"+tc.path+"/rotate", tc.body)
			if r.status != tc.status || !strings.Contains(r.str("message"), tc.msg) {
				t.Errorf("rotate %s %s as %s: %d %s; want %d mentioning %q", tc.path, tc.body, tc.caller.Username, r.status, r.raw, tc.status, tc.msg)
			}
		}
		assertUnchanged(t, e, before)
		e.want(e.do(alice, "PATCH", "/api-tokens/"+id, `{"disabled":true}`), 200, "")
		e.want(e.do(alice, "POST", "/api-tokens/"+id+"/rotate", ``), 400, "disabled")
		e.want(e.do(alice, "PATCH", "/api-tokens/"+id, `{"disabled":false}`), 200, "")
		e.now = e.now.Add(91 * 24 * time.Hour)
		e.want(e.do(alice, "POST", "/api-tokens/"+id+"/rotate", ``), 400, "expired")
	})

	t.Run("concurrent rotations of one token: exactly one wins", func(t *testing.T) {
		e := newEnvFor(t)
		id := own(e, alice).str("tokenUUID")
		const n = 20
		statuses := make([]int, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() { statuses[i] = e.do(alice, "POST", "/api-tokens/"+id+"/rotate", ``).status })
		}
		wg.Wait()
		won := 0
		for _, s := range statuses {
			switch s {
			case 201:
				won++
			case 400, 409:
			default:
				t.Errorf("a concurrent rotation answered %d", s)
			}
		}
		if won != 1 {
			t.Fatalf("%d of %d concurrent rotations succeeded (%v), want 1", won, n, statuses)
		}
		if l := listAll(t, e, alice, ""); len(l) != 2 {
			t.Fatalf("alice holds %d tokens after the rotations, want 2 (old and new)", len(l))
		}
		if c := countAction(tokenEvents(t, e, admin, id), "rotate"); c != 1 {
			t.Errorf("%d rotate events, want 1", c)
		}
	})

	t.Run("concurrent patches: every answered change is recorded once", func(t *testing.T) {
		e := newEnvFor(t)
		id := own(e, alice).str("tokenUUID")
		const n = 20
		statuses := make([]int, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() { statuses[i] = e.do(alice, "PATCH", "/api-tokens/"+id, fmt.Sprintf(`{"name":"n%d"}`, i)).status })
		}
		wg.Wait()
		ok := 0
		for _, s := range statuses {
			switch s {
			case 200:
				ok++
			case 409:
			default:
				t.Errorf("a concurrent patch answered %d", s)
			}
		}
		if got := countAction(tokenEvents(t, e, alice, id), "update"); got != ok {
			t.Fatalf("%d update events for %d answered changes", got, ok)
		}
	})

	t.Run("revoke every token of a user", func(t *testing.T) {
		e := newEnvFor(t)
		mine := own(e, alice)
		sys := e.create(admin, "alice", `{"name":"alice-ci","isSystemToken":true,"groups":["lisa-api-users"]}`)
		bobs := own(e, bob)
		e.want(e.do(alice, "DELETE", "/api-tokens/?username=bob", ""), 403, "admin")
		e.want(e.do(admin, "DELETE", "/api-tokens/", ""), 400, "username")
		e.want(e.do(admin, "DELETE", "/api-tokens/?username=alice&includeSystemTokens=yes", ""), 400, "includeSystemTokens")

		r := e.do(admin, "DELETE", "/api-tokens/?username=alice", "")
		e.want(r, 200, "")
		if r.num("deleted") != 1 || fmt.Sprint(r.body["tokenUUIDs"]) != "["+mine.str("tokenUUID")+"]" {
			t.Fatalf("revoke without system tokens: %s", r.raw)
		}
		e.want(e.withToken(mine.str("token"), "GET", "/api-tokens/", ""), 401, "")
		e.want(e.withToken(sys.str("token"), "GET", "/api-tokens/"+sys.str("tokenUUID"), ""), 200, "")

		r = e.do(admin, "DELETE", "/api-tokens/?username=alice&includeSystemTokens=true", "")
		if r.num("deleted") != 1 || fmt.Sprint(r.body["tokenUUIDs"]) != "["+sys.str("tokenUUID")+"]" {
			t.Fatalf("revoke with system tokens: %s", r.raw)
		}
		r = e.do(admin, "DELETE", "/api-tokens/?username=alice&includeSystemTokens=true", "")
		if r.status != 200 || r.num("deleted") != 0 || fmt.Sprint(r.body["tokenUUIDs"]) != "[]" {
			t.Fatalf("second revoke: %s", r.raw)
		}
		e.want(e.withToken(bobs.str("token"), "GET", "/api-tokens/", ""), 200, "")
		ev := tokenEvents(t, e, admin, mine.str("tokenUUID"))[0]
		if ev["action"] != "revoke_user" || ev["actor"] != "admin" {
			t.Errorf("revoke event: %v", ev)
		}
		// The owner still reads the history of a token that is gone.
		if evs := tokenEvents(t, e, alice, mine.str("tokenUUID")); len(evs) != 2 {
			t.Errorf("owner's history of a revoked token: %v", evs)
		}
	})

	t.Run("who reads which history", func(t *testing.T) {
		e := newEnvFor(t)
		id := own(e, alice).str("tokenUUID")
		e.want(e.do(bob, "GET", "/api-tokens/"+id+"/events", ""), 404, "")
		e.want(e.do(bob, "GET", "/api-tokens/00000000-0000-4000-8000-000000000000/events", ""), 404, "")
		e.want(e.do(alice, "GET", "/api-tokens/nope/events", ""), 400, "token id")
		e.want(e.do(alice, "GET", "/api-tokens/"+id+"/events?limit=0", ""), 400, "limit")
		e.want(e.do(alice, "GET", "/api-tokens/"+id+"/events?nextToken=forged", ""), 400, "nextToken")
		// Left the API group: still reads its own token's history.
		if evs := tokenEvents(t, e, principal("alice", "lisa-users"), id); len(evs) != 1 {
			t.Errorf("history for an owner outside the API group: %v", evs)
		}
		e.want(e.do(alice, "GET", "/api-token-events", ""), 403, "admin")
		e.want(e.do(admin, "GET", "/api-token-events?from=x", ""), 400, "from")
		e.want(e.do(admin, "GET", "/api-token-events?from=20&to=10", ""), 400, "after")
	})

	t.Run("the whole trail: filters, order, pages", func(t *testing.T) {
		e := newEnvFor(t)
		start := e.now
		a := own(e, alice).str("tokenUUID")
		e.now = e.now.Add(time.Minute)
		b := own(e, bob).str("tokenUUID")
		e.now = e.now.Add(time.Minute)
		e.want(e.do(admin, "PATCH", "/api-tokens/"+a, `{"name":"renamed"}`), 200, "")
		e.now = e.now.Add(time.Minute)
		e.want(e.do(admin, "PUT", "/settings", `{"allowUserManagedTokens":false}`), 200, "")

		all := allEvents(t, e, "")
		if len(all) != 4 || all[0]["action"] != "settings" || all[3]["tokenUUID"] != a {
			t.Fatalf("all events newest first: %v", all)
		}
		if all[0]["tokenUUID"] != "settings" || !strings.Contains(fmt.Sprint(all[0]["changes"]), "field:allowUserManagedTokens new:false old:true") {
			t.Errorf("settings event: %v", all[0])
		}
		if got := allEvents(t, e, "username=alice"); len(got) != 2 {
			t.Errorf("username=alice: %v", got)
		}
		if got := allEvents(t, e, "actor=admin"); len(got) != 2 {
			t.Errorf("actor=admin: %v", got)
		}
		if got := allEvents(t, e, "username=alice&actor=admin"); len(got) != 1 || got[0]["action"] != "update" {
			t.Errorf("username=alice&actor=admin: %v", got)
		}
		from, to := start.Add(time.Minute).Unix(), start.Add(2*time.Minute).Unix()
		if got := allEvents(t, e, fmt.Sprintf("from=%d&to=%d", from, to)); len(got) != 2 || got[0]["tokenUUID"] != a || got[1]["tokenUUID"] != b {
			t.Errorf("from..to: %v", got)
		}
		// One event a page.
		var seen []string
		next := ""
		for range 10 {
			q := "/api-token-events?limit=1"
			if next != "" {
				q += "&nextToken=" + next
			}
			r := e.do(admin, "GET", q, "")
			e.want(r, 200, "")
			for _, ev := range r.body["events"].([]any) {
				seen = append(seen, ev.(map[string]any)["eventId"].(string))
			}
			if next = r.str("nextToken"); next == "" {
				break
			}
		}
		if len(seen) != 4 {
			t.Errorf("paged through %d events, want 4", len(seen))
		}
	})

	t.Run("last use is recorded by the deciding core", func(t *testing.T) {
		e := newEnvFor(t)
		c := own(e, alice)
		if g := e.do(alice, "GET", "/api-tokens/"+c.str("tokenUUID"), ""); g.num("lastUsedAt") != 0 {
			t.Fatalf("a new token has lastUsedAt: %s", g.raw)
		}
		core := auth.NewCore(auth.Options{Tokens: e.st, Groups: groups, FreshTokens: true, Now: func() time.Time { return e.now },
			LastUsed: e.st, LastUsedResolution: 5 * time.Minute})
		used := e.now.Unix()
		if _, err := core.Authenticate(context.Background(), http.Header{"Authorization": {"Bearer " + c.str("token")}}); err != nil {
			t.Fatal(err)
		}
		if g := e.do(alice, "GET", "/api-tokens/"+c.str("tokenUUID"), ""); g.num("lastUsedAt") != used {
			t.Fatalf("lastUsedAt after a call: %s, want %d", g.raw, used)
		}
		// Never backwards, even from a late writer.
		if err := e.st.TouchLastUsed(context.Background(), secret.Hash(c.str("token")), used-100); err != nil {
			t.Fatal(err)
		}
		if g := e.do(alice, "GET", "/api-tokens/"+c.str("tokenUUID"), ""); g.num("lastUsedAt") != used {
			t.Fatalf("lastUsedAt moved backwards: %s", g.raw)
		}
		if l := listAll(t, e, alice, ""); l[0]["lastUsedAt"] != float64(used) {
			t.Errorf("list lacks lastUsedAt: %v", l[0])
		}
	})

	t.Run("every change is in the trail, and no secret is", func(t *testing.T) {
		e := newEnvFor(t)
		c := own(e, alice)
		id := c.str("tokenUUID")
		e.want(e.do(alice, "PATCH", "/api-tokens/"+id, `{"name":"x"}`), 200, "")
		e.want(e.do(alice, "PATCH", "/api-tokens/"+id, `{"disabled":true}`), 200, "")
		e.want(e.do(alice, "PATCH", "/api-tokens/"+id, `{"disabled":false}`), 200, "")
		r := e.do(alice, "POST", "/api-tokens/"+id+"/rotate", ``)
		e.want(r, 201, "")
		e.want(e.do(alice, "DELETE", "/api-tokens/"+r.str("tokenUUID"), ""), 200, "")
		page, err := e.st.Events(context.Background(), store.EventQuery{Username: "alice", Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		var actions []string
		for _, ev := range page.Events {
			actions = append(actions, ev.Action)
			dump := fmt.Sprintf("%+v", ev)
			for _, s := range []string{c.str("token"), r.str("token"), secret.Hash(c.str("token")), secret.Hash(r.str("token"))} {
				if strings.Contains(dump, s) {
					t.Fatalf("an audit event holds a secret or a token hash: %s", dump)
				}
			}
		}
		want := "delete,create,rotate,enable,disable,update,create"
		if got := strings.Join(actions, ","); got != want {
			t.Errorf("recorded actions newest first: %s, want %s", got, want)
		}
	})
}

func putLegacy(t *testing.T, st store.Store) storetest.LegacyInserter {
	t.Helper()
	li, ok := st.(storetest.LegacyInserter)
	if !ok {
		t.Fatalf("%T cannot insert legacy items", st)
	}
	return li
}

// tokenEvents reads a token's whole history as caller, failing on an error.
func tokenEvents(t *testing.T, e *env, caller auth.Principal, id string) []map[string]any {
	t.Helper()
	r := e.do(caller, "GET", "/api-tokens/"+id+"/events?limit=1000", "")
	e.want(r, 200, "")
	return objects(r.body["events"])
}

// allEvents reads GET /api-token-events?query as the admin.
func allEvents(t *testing.T, e *env, query string) []map[string]any {
	t.Helper()
	r := e.do(admin, "GET", "/api-token-events?limit=1000&"+query, "")
	e.want(r, 200, "")
	return objects(r.body["events"])
}

func objects(v any) []map[string]any {
	var out []map[string]any
	for _, o := range v.([]any) {
		out = append(out, o.(map[string]any))
	}
	return out
}

func hasAction(evs []map[string]any, a string) bool { return countAction(evs, a) > 0 }

func countAction(evs []map[string]any, a string) int {
	n := 0
	for _, ev := range evs {
		if ev["action"] == a {
			n++
		}
	}
	return n
}
