package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/aws/jsii-runtime-go"
)

// testBuildDir holds placeholder bootstrap files, so the stack synthesizes
// without `make build`.
var testBuildDir string

func TestMain(m *testing.M) {
	// JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION cannot be set here: the
	// jsii runtime starts during package initialization, before TestMain.
	// mk/infra.mk exports it.
	//
	// Tests must not depend on whoever's credentials the CLI found.
	os.Unsetenv("CDK_DEFAULT_ACCOUNT")
	os.Unsetenv("CDK_DEFAULT_REGION")
	dir, err := os.MkdirTemp("", "apitokens-build-")
	if err != nil {
		panic(err)
	}
	for _, name := range functionNames {
		if err := os.MkdirAll(filepath.Join(dir, name), 0o755); err != nil {
			panic(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name, "bootstrap"), []byte("#!/bin/sh\n# placeholder for "+name+"\n"), 0o755); err != nil {
			panic(err)
		}
	}
	// The console build: the tests deploy whatever index.html is there.
	if err := os.MkdirAll(filepath.Join(dir, consoleWebDirName), 0o755); err != nil {
		panic(err)
	}
	if err := os.WriteFile(filepath.Join(dir, consoleWebDirName, "index.html"), []byte("<!doctype html><title>test console</title>\n"), 0o644); err != nil {
		panic(err)
	}
	testBuildDir = dir
	code := m.Run()
	jsii.Close()
	os.RemoveAll(dir)
	os.Exit(code)
}
