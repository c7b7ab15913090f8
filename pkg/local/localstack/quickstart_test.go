package localstack_test

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/llmgw/apitokens/pkg/local/localstack"
)

// quickStartBlocks cuts the printed quick start into what a reader copies:
// the numbered steps, and the lines that start over. Both are the indented
// lines of their part, without the indentation.
func quickStartBlocks(t *testing.T, qs string) (steps, startOver string) {
	t.Helper()
	var part *[]string
	var stepLines, overLines []string
	for _, line := range strings.Split(qs, "\n") {
		switch {
		case strings.HasPrefix(line, "Quick start ("):
			part = &stepLines
		case strings.HasPrefix(line, "To start over"):
			part = &overLines
		case strings.HasPrefix(line, "  ") && part != nil:
			*part = append(*part, strings.TrimPrefix(line, "  "))
		case line != "" && part == &overLines && len(overLines) > 0:
			part = nil // the commands are over
		}
	}
	if len(stepLines) == 0 || len(overLines) == 0 {
		t.Fatalf("cannot find the steps and the start-over commands in the quick start:\n%s", qs)
	}
	return strings.Join(stepLines, "\n"), strings.Join(overLines, "\n")
}

// TestQuickStartPastedTwice pastes the printed quick start into one shell
// as a newcomer does: once, a second time (alice already holds her one
// token, and the quick start must say so rather than go on with
// TOKEN=null), then the start-over commands and the quick start again.
func TestQuickStartPastedTwice(t *testing.T) {
	for _, tool := range []string{"bash", "curl", "jq"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("the quick start needs %s: %v", tool, err)
		}
	}
	s := startStack(t, nil)
	steps, startOver := quickStartBlocks(t, localstack.QuickStart(s))

	const mark = "=== next paste ==="
	session := strings.Join([]string{steps, "echo '" + mark + "'", steps, "echo '" + mark + "'", startOver, steps}, "\n")
	out, err := exec.Command("bash", "-c", session).CombinedOutput()
	if err != nil {
		t.Fatalf("bash: %v\n%s", err, out)
	}
	pastes := strings.Split(string(out), mark+"\n")
	if len(pastes) != 3 {
		t.Fatalf("want the output of three pastes, got:\n%s", out)
	}
	first, second, third := pastes[0], pastes[1], pastes[2]

	works := func(name, got string) {
		t.Helper()
		for _, want := range []string{`"username": "alice"`, `"id": "local-echo"`, `"content": "Hello!"`} {
			if !strings.Contains(got, want) {
				t.Errorf("%s paste: no %s in its output:\n%s", name, want, got)
			}
		}
		if strings.Contains(got, "no token") {
			t.Errorf("%s paste: step 2 failed:\n%s", name, got)
		}
	}
	works("first", first)

	if !strings.Contains(second, "no token for alice: user alice already has a token") ||
		!strings.Contains(second, "to start over, see below") {
		t.Errorf("second paste does not say why step 2 failed:\n%s", second)
	}
	// TOKEN is left empty, not "null": the calls of step 3 then say that
	// no credential was sent, not that the token is malformed.
	if strings.Contains(second, "malformed") || !strings.Contains(second, "no credential") {
		t.Errorf("second paste went on with a token that is not one:\n%s", second)
	}

	if !strings.Contains(third, "Token deleted successfully") {
		t.Errorf("start-over commands did not revoke alice's token:\n%s", third)
	}
	works("third", third)
}
