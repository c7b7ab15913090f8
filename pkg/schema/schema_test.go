package schema

import (
	"strings"
	"testing"
)

func TestReservedKeys(t *testing.T) {
	for _, k := range []string{GuardKey("alice"), GuardKey(""), CursorKeyItem, SettingsItem, "CONFIG#other"} {
		if !IsReservedKey(k) {
			t.Errorf("IsReservedKey(%q) = false", k)
		}
	}
	if !IsGuardKey(GuardKey("alice")) || IsGuardKey(CursorKeyItem) || IsGuardKey(SettingsItem) {
		t.Error("IsGuardKey must cover guard keys only")
	}
	// A token hash is 64 lowercase hex characters; a legacy value is free
	// text but never starts with a reserved prefix (the stores refuse it).
	for _, k := range []string{strings.Repeat("a", 64), "USER", "CONFIG", "user#alice", "config#cursor-key", ""} {
		if IsReservedKey(k) {
			t.Errorf("IsReservedKey(%q) = true", k)
		}
	}
	for _, p := range ReservedPrefixes() {
		if !strings.HasSuffix(p, "#") {
			t.Errorf("prefix %q does not end in '#', so it could collide with a hex digest", p)
		}
	}
}
