package lambdaemu

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"
)

// buildTimeout bounds one `go build`; a cold module cache with the AWS SDK
// takes well under a minute, so reaching it means a hung toolchain.
const buildTimeout = 5 * time.Minute

// builds caches one compiled binary per package path for the life of the
// test binary, so that every test of a package does not pay for a link.
var builds sync.Map // package path -> *build

type build struct {
	once sync.Once
	// file is the binary, opened and then unlinked: the kernel keeps the
	// content while the test binary runs and frees it when it exits, so the
	// cache leaves nothing behind in the temp directory.
	file *os.File
	size int64
	err  error
}

// Build compiles the main package pkgPath for the host the way our Lambda
// binaries are compiled for AWS (CGO_ENABLED=0, -tags lambda.norpc,
// -trimpath) and returns the path of a `bootstrap` in t.TempDir(). pkgPath
// is anything `go build` accepts: an import path such as
// "github.com/llmgw/apitokens/functions/create", or a path relative to the
// test's package directory such as "./testdata/echofn".
//
// The first call for a pkgPath builds; later calls in the same test binary
// copy the cached result (milliseconds), so each test owns its file while the
// compile and link happen once. A failed build fails t, and every later test
// asking for the same package, with the compiler's output.
func Build(t testing.TB, pkgPath string) string {
	t.Helper()
	v, _ := builds.LoadOrStore(pkgPath, &build{})
	b := v.(*build)
	b.once.Do(func() { b.file, b.size, b.err = compile(pkgPath) })
	if b.err != nil {
		t.Fatalf("lambdaemu.Build(%q): %v", pkgPath, b.err)
	}
	dst := filepath.Join(t.TempDir(), "bootstrap")
	if err := copyExecutable(dst, io.NewSectionReader(b.file, 0, b.size)); err != nil {
		t.Fatalf("lambdaemu.Build(%q): %v", pkgPath, err)
	}
	return dst
}

func compile(pkgPath string) (*os.File, int64, error) {
	dir, err := os.MkdirTemp("", "lambdaemu-build-")
	if err != nil {
		return nil, 0, err
	}
	defer os.RemoveAll(dir)
	out := filepath.Join(dir, "bootstrap")

	ctx, cancel := context.WithTimeout(context.Background(), buildTimeout)
	defer cancel()
	// -buildvcs=false: VCS stamping fails in worktrees and containers where
	// git is missing or the checkout belongs to another user, and a test
	// binary does not need it.
	cmd := exec.CommandContext(ctx, "go", "build", "-tags", "lambda.norpc", "-trimpath", "-buildvcs=false", "-o", out, pkgPath)
	// Explicit GOOS/GOARCH so that a GOARCH=arm64 exported for deployment
	// builds cannot produce a binary this host cannot run.
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+runtime.GOOS, "GOARCH="+runtime.GOARCH)
	var output bytes.Buffer
	cmd.Stdout = &output
	cmd.Stderr = &output
	if err := cmd.Run(); err != nil {
		return nil, 0, fmt.Errorf("go build: %w\n%s", err, output.Bytes())
	}
	f, err := os.Open(out)
	if err != nil {
		return nil, 0, err
	}
	fi, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return nil, 0, err
	}
	return f, fi.Size(), nil
}

func copyExecutable(dst string, src io.Reader) error {
	f, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, src); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}
