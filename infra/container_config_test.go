package main

import (
	"strconv"
	"strings"
	"testing"
)

const containerYAML = minimalYAML + "  mode: container\n"

const existingListenerYAML = "network:\n  existingListener:\n    arn: arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/a/b/c\n    securityGroupId: sg-1\n"

func TestServeModeDefaults(t *testing.T) {
	cfg, err := ParseConfig(ConfigFileName, []byte(minimalYAML))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Serve.Mode != ServeModeLambda || cfg.ServeContainer() {
		t.Errorf("serve.mode defaults to %q, want %q", cfg.Serve.Mode, ServeModeLambda)
	}
	if cfg.Serve.Container != (ServeContainer{}) {
		t.Errorf("lambda mode should leave serve.container empty, got %+v", cfg.Serve.Container)
	}

	cfg, err = ParseConfig(ConfigFileName, []byte(containerYAML))
	if err != nil {
		t.Fatal(err)
	}
	want := ServeContainer{CPU: 512, MemoryMiB: 1024, DesiredCount: 2, MinCount: 2, MaxCount: 10, TargetCPUPercent: 60, DrainSeconds: 30}
	if cfg.Serve.Container != want {
		t.Errorf("container defaults = %+v, want %+v", cfg.Serve.Container, want)
	}

	// Defaults follow the counts that are given.
	cfg, err = ParseConfig(ConfigFileName, []byte(containerYAML+"  container:\n    desiredCount: 1\n    cpu: 1024\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c := cfg.Serve.Container; c.MinCount != 1 || c.MaxCount != 10 || c.MemoryMiB != 2048 {
		t.Errorf("desiredCount 1, cpu 1024: got %+v, want minCount 1, maxCount 10, memoryMiB 2048", c)
	}
	cfg, err = ParseConfig(ConfigFileName, []byte(containerYAML+"  container:\n    minCount: 20\n    maxCount: 40\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c := cfg.Serve.Container; c.DesiredCount != 20 {
		t.Errorf("minCount 20: desiredCount = %d, want 20", c.DesiredCount)
	}
}

func TestServeModeErrorsNameTheKey(t *testing.T) {
	cases := []struct {
		name, yaml, wantKey string
	}{
		{"unknown mode", minimalYAML + "  mode: fargate\n", "serve.mode"},
		{"container keys in lambda mode", minimalYAML + "  container:\n    cpu: 512\n", "serve.container"},
		{"unknown container key", containerYAML + "  container:\n    memory: 512\n", `unknown key "memory" in serve.container`},
		{"cpu not a Fargate size", containerYAML + "  container:\n    cpu: 300\n", "serve.container.cpu"},
		{"cpu too large", containerYAML + "  container:\n    cpu: 8192\n    memoryMiB: 16384\n", "serve.container.cpu"},
		{"memory too small", containerYAML + "  container:\n    cpu: 1024\n    memoryMiB: 1024\n", "serve.container.memoryMiB"},
		{"memory off step", containerYAML + "  container:\n    cpu: 512\n    memoryMiB: 1536\n", "serve.container.memoryMiB"},
		{"1536 with 256", containerYAML + "  container:\n    cpu: 256\n    memoryMiB: 1536\n", "serve.container.memoryMiB"},
		{"desired above max", containerYAML + "  container:\n    desiredCount: 5\n    maxCount: 3\n", "serve.container.desiredCount"},
		{"desired below min", containerYAML + "  container:\n    desiredCount: 2\n    minCount: 3\n", "serve.container.desiredCount"},
		{"min below 1", containerYAML + "  container:\n    minCount: -1\n", "serve.container.minCount"},
		{"max below 1", containerYAML + "  container:\n    maxCount: -1\n", "serve.container.maxCount"},
		{"target cpu too high", containerYAML + "  container:\n    targetCpuPercent: 95\n", "serve.container.targetCpuPercent"},
		{"drain too long", containerYAML + "  container:\n    drainSeconds: 3601\n", "serve.container.drainSeconds"},
		{"drain negative", containerYAML + "  container:\n    drainSeconds: -1\n", "serve.container.drainSeconds"},
		{"reserved concurrency", containerYAML + "functions:\n  serve:\n    reservedConcurrency: 5\n", "functions.serve.reservedConcurrency"},
		{"existing listener without subnets", containerYAML + existingListenerYAML, "serve.vpc.subnetIds"},
		{"existing listener without a VPC id", containerYAML + "  vpc:\n    enabled: true\n    subnetIds: [subnet-1]\n" + existingListenerYAML, "serve.vpc.vpcId"},
		{"existing VPC without subnets", containerYAML + "network:\n  vpcId: vpc-1\n  subnetIds: [subnet-1, subnet-2]\n  availabilityZones: [us-east-1a, us-east-1b]\n", "serve.vpc.subnetIds"},
		{"too many security groups", containerYAML + "  vpc:\n    enabled: true\n    vpcId: vpc-1\n    subnetIds: [subnet-1]\n    securityGroupIds: [sg-1, sg-2, sg-3, sg-4, sg-5]\n" + existingListenerYAML, "serve.vpc.securityGroupIds"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseConfig(ConfigFileName, []byte(c.yaml))
			if err == nil {
				t.Fatalf("want an error naming %q, got none", c.wantKey)
			}
			if !strings.Contains(err.Error(), c.wantKey) {
				t.Errorf("error %q does not name %q", err, c.wantKey)
			}
		})
	}
	// The keys the existing-listener message asks for are enough.
	ok := containerYAML + "  vpc:\n    enabled: true\n    vpcId: vpc-1\n    subnetIds: [subnet-1, subnet-2]\n" + existingListenerYAML
	if _, err := ParseConfig(ConfigFileName, []byte(ok)); err != nil {
		t.Errorf("existing listener with serve.vpc.vpcId and subnetIds: %v", err)
	}
	for _, cpuMem := range [][2]int{{256, 512}, {256, 2048}, {512, 4096}, {1024, 8192}, {2048, 16384}, {4096, 30720}} {
		y := containerYAML + "  container:\n    cpu: " + itoa(cpuMem[0]) + "\n    memoryMiB: " + itoa(cpuMem[1]) + "\n"
		if _, err := ParseConfig(ConfigFileName, []byte(y)); err != nil {
			t.Errorf("cpu %d memory %d is a Fargate size: %v", cpuMem[0], cpuMem[1], err)
		}
	}
}

func itoa(i int) string { return strconv.Itoa(i) }
