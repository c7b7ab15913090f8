package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"

	"github.com/llmgw/apitokens/pkg/config"
	"github.com/llmgw/apitokens/pkg/routes"
)

// The serve.mode: container variants join the shared ones, so the nag,
// suppression and cfn-lint tests cover them too.
func init() {
	// A new VPC and ALB with HTTPS; every container key set. drainSeconds
	// above Fargate's stop timeout exercises the in-task cap.
	variants["container"] = withServe(baseYAML+limitsYAML, `
  mode: container
  container:
    cpu: 1024
    memoryMiB: 2048
    desiredCount: 3
    minCount: 2
    maxCount: 6
    targetCpuPercent: 50
    drainSeconds: 300
`) + `
network:
  certificateArn: ` + testCertARN + `
`
	// An existing listener: the service goes into the subnets serve.vpc
	// names, with a group of its own besides the configured one.
	variants["container-listener"] = withServe(baseYAML, `
  mode: container
  vpc:
    enabled: true
    vpcId: vpc-0fedcba9876543210
    subnetIds: [subnet-0ccccccccccccccc1, subnet-0ccccccccccccccc2]
    securityGroupIds: [sg-0ddddddddddddddd1]
`) + `
apiTokens:
  lastUsedResolutionSeconds: 0
network:
  existingListener:
    arn: ` + testListenerARN + `
    securityGroupId: sg-0123456789abcdef0
console:
  enabled: false
`
}

var containerVariants = []string{"container", "container-listener"}

func isContainerVariant(v string) bool { return slices.Contains(containerVariants, v) }

func TestLambdaModeHasNoContainerResources(t *testing.T) {
	for _, v := range variantNames() {
		if isContainerVariant(v) {
			continue
		}
		s := synth(t, v)
		for id, r := range s.json["Resources"].(map[string]any) {
			typ, _ := r.(map[string]any)["Type"].(string)
			if strings.HasPrefix(typ, "AWS::ECS::") || strings.HasPrefix(typ, "AWS::ApplicationAutoScaling::") || typ == "AWS::ECR::Repository" {
				t.Errorf("%s: lambda mode has %s (%s)", v, id, typ)
			}
		}
		if s.stack.ServeService != nil {
			t.Errorf("%s: lambda mode built a serve service", v)
		}
		if _, ok := s.stack.Functions.ByName[routes.FnServe]; !ok {
			t.Errorf("%s: lambda mode has no serve function", v)
		}
	}
}

func TestContainerModeHasNoServeFunction(t *testing.T) {
	for _, v := range containerVariants {
		s := synth(t, v)
		if _, ok := s.stack.Functions.ByName[routes.FnServe]; ok {
			t.Errorf("%s: container mode built the serve function", v)
		}
		for id, tg := range s.resources("AWS::ElasticLoadBalancingV2::TargetGroup") {
			if props(tg)["TargetType"] != "ip" {
				t.Errorf("%s: target group %s is %v, want only ip targets", v, id, props(tg)["TargetType"])
			}
		}
		for id, fn := range s.resources("AWS::Lambda::Function") {
			if strings.Contains(jsonString(props(fn)["Description"]), " serve ") || props(fn)["Environment"] != nil && strings.Contains(jsonString(props(fn)["Environment"]), config.EnvServeUpstreamURL) {
				t.Errorf("%s: Lambda function %s looks like the serve function", v, id)
			}
		}
		if len(s.resources("AWS::Lambda::Permission")) > 0 {
			for id, p := range s.resources("AWS::Lambda::Permission") {
				if props(p)["Principal"] == "elasticloadbalancing.amazonaws.com" {
					t.Errorf("%s: %s lets the ALB invoke a function", v, id)
				}
			}
		}
		check(t, v+": one cluster with Container Insights", func() {
			s.tmpl.ResourceCountIs(jsii.String("AWS::ECS::Cluster"), jsii.Number(1))
			s.tmpl.HasResourceProperties(jsii.String("AWS::ECS::Cluster"), map[string]any{
				"ClusterSettings": []any{map[string]any{"Name": "containerInsights", "Value": "enabled"}},
			})
		})
	}
}

// containerDef is the serve container's definition.
func (s *synthesized) containerDef(t *testing.T) (task, container map[string]any) {
	t.Helper()
	tds := s.resources("AWS::ECS::TaskDefinition")
	if len(tds) != 1 {
		t.Fatalf("want one task definition, got %d", len(tds))
	}
	for _, td := range tds {
		task = props(td)
	}
	cds := listOf(task["ContainerDefinitions"])
	if len(cds) != 1 {
		t.Fatalf("want one container, got %d", len(cds))
	}
	return task, cds[0].(map[string]any)
}

func containerEnv(c map[string]any) map[string]string {
	out := map[string]string{}
	for _, e := range listOf(c["Environment"]) {
		m := e.(map[string]any)
		if s, ok := m["Value"].(string); ok {
			out[m["Name"].(string)] = s
		} else {
			out[m["Name"].(string)] = jsonString(m["Value"])
		}
	}
	return out
}

func TestContainerTaskDefinition(t *testing.T) {
	s := synth(t, "container")
	task, c := s.containerDef(t)
	for k, want := range map[string]any{
		"Cpu": "1024", "Memory": "2048", "NetworkMode": "awsvpc",
		"RequiresCompatibilities": []any{"FARGATE"},
		"RuntimePlatform":         map[string]any{"CpuArchitecture": "ARM64", "OperatingSystemFamily": "LINUX"},
		"TaskRoleArn":             arnOf(s.logicalID(s.stack.ServeService.TaskRole)),
	} {
		if !same(task[k], want) {
			t.Errorf("task %s = %s, want %s", k, jsonString(task[k]), jsonString(want))
		}
	}
	if !same(c["PortMappings"], []any{map[string]any{"ContainerPort": float64(containerPort), "Protocol": "tcp"}}) {
		t.Errorf("port mappings = %s, want %d/tcp only", jsonString(c["PortMappings"]), containerPort)
	}
	if c["ReadonlyRootFilesystem"] != true || c["Essential"] != true {
		t.Errorf("container should be essential with a read-only root file system: %s", jsonString(c))
	}
	// drainSeconds 300 is the ALB's; the binary's own drain must end
	// before Fargate's SIGKILL (at most 120 s after SIGTERM).
	if c["StopTimeout"] != float64(120) {
		t.Errorf("StopTimeout = %v, want 120", c["StopTimeout"])
	}

	env := containerEnv(c)
	// The Lambda's environment of the same configuration, less the secret
	// ARN (the value comes as an ECS secret instead), plus the HTTP
	// server's settings.
	want := synth(t, "default").envOf(routes.FnServe)
	// default and container differ only in apiTokens, which sets these.
	for _, k := range []string{config.EnvDefaultTokenDays, config.EnvMaxTokenDays, config.EnvAllowUserManaged, config.EnvTokenCacheSeconds, config.EnvTableName} {
		delete(want, k)
		delete(env, k)
	}
	delete(want, config.EnvServeUpstreamKeyARN)
	want[envServeMode] = "container"
	want[envPort] = "8080"
	want[envServeDrainSeconds] = "110"
	if jsonString(env) != jsonString(want) {
		t.Errorf("container environment:\n got %s\nwant %s", jsonString(env), jsonString(want))
	}
	if containerEnv(c)[config.EnvTableName] != jsonString(ref(s.logicalID(s.stack.Table.Table))) {
		t.Errorf("%s = %s, want the token table", config.EnvTableName, containerEnv(c)[config.EnvTableName])
	}
	if !same(c["Secrets"], []any{map[string]any{"Name": config.EnvServeUpstreamKey, "ValueFrom": testSecretARN}}) {
		t.Errorf("secrets = %s, want %s from the configured secret", jsonString(c["Secrets"]), config.EnvServeUpstreamKey)
	}
	lc, _ := c["LogConfiguration"].(map[string]any)
	if lc["LogDriver"] != "awslogs" || !refersTo(lc["Options"], s.logicalID(s.stack.ServeService.LogGroup)) {
		t.Errorf("log configuration = %s, want awslogs to the service's log group", jsonString(lc))
	}
	check(t, "log group retention", func() {
		s.tmpl.HasResource(jsii.String("AWS::Logs::LogGroup"), map[string]any{
			"Properties":     map[string]any{"RetentionInDays": s.cfg.LogRetentionDays},
			"DeletionPolicy": "Retain",
		})
	})
	if _, ok := s.json["Resources"].(map[string]any)[s.logicalID(s.stack.ServeService.LogGroup)]; !ok {
		t.Errorf("service log group missing")
	}
}

func TestContainerRolesAreLeastPrivilege(t *testing.T) {
	for _, v := range containerVariants {
		s := synth(t, v)
		table := s.logicalID(s.stack.Table.Table)
		taskRole := s.logicalID(s.stack.ServeService.TaskRole)
		var taskGrants, execGrants []statement
		execRole := s.logicalID(s.stack.ServeService.TaskDef.ExecutionRole())
		for _, st := range s.statements() {
			pol := s.resources("AWS::IAM::Policy")[st.where]
			switch {
			case refersTo(props(pol)["Roles"], taskRole):
				taskGrants = append(taskGrants, st)
			case refersTo(props(pol)["Roles"], execRole):
				execGrants = append(execGrants, st)
			}
		}
		// GetItem, and the lastUsedAt UpdateItem unless disabled
		// (TestLastUsedGrantIsConditioned checks its conditions), on the
		// token table; the usage table's counters (TestServeUsageGrants).
		want := [][]string{{"dynamodb:GetItem"}}
		if *s.cfg.APITokens.LastUsedResolutionSeconds > 0 {
			want = append(want, []string{"dynamodb:UpdateItem"})
		}
		want = append(want, serveUsageActions)
		usage := s.logicalID(s.stack.UsageTable.Table)
		var got [][]string
		for _, st := range taskGrants {
			got = append(got, st.actions)
			if !same(st.resources, []any{arnOf(table)}) && !(same(st.actions, serveUsageActions) && same(st.resources, []any{arnOf(usage)})) {
				t.Errorf("%s: task role grants %v on %v, want the token table (and the usage table's counters) only", v, st.actions, jsonString(st.resources))
			}
		}
		if !same(got, want) {
			t.Errorf("%s: task role grants %v, want %v on the token table", v, got, want)
		}
		var secretRead bool
		for _, st := range execGrants {
			for _, a := range st.actions {
				switch {
				case strings.HasPrefix(a, "ecr:"), a == "logs:CreateLogStream", a == "logs:PutLogEvents":
				case a == "secretsmanager:GetSecretValue" || a == "secretsmanager:DescribeSecret":
					secretRead = secretRead || same(st.resources, []any{testSecretARN})
				default:
					t.Errorf("%s: execution role grants %s", v, a)
				}
			}
		}
		if !secretRead {
			t.Errorf("%s: the execution role cannot read the upstream key secret", v)
		}
	}
}

func TestContainerServiceAndScaling(t *testing.T) {
	s := synth(t, "container")
	svcs := s.resources("AWS::ECS::Service")
	if len(svcs) != 1 {
		t.Fatalf("want one service, got %d", len(svcs))
	}
	for _, svc := range svcs {
		p := props(svc)
		if p["DesiredCount"] != float64(3) || p["LaunchType"] != "FARGATE" {
			t.Errorf("service: want 3 Fargate tasks, got %s", jsonString(p))
		}
		nc := p["NetworkConfiguration"].(map[string]any)["AwsvpcConfiguration"].(map[string]any)
		if nc["AssignPublicIp"] != "DISABLED" {
			t.Errorf("service assigns public IPs: %s", jsonString(nc))
		}
		// The new VPC's isolated subnets.
		for _, sub := range listOf(nc["Subnets"]) {
			if !strings.Contains(jsonString(sub), "internal") {
				t.Errorf("service subnet %s is not an isolated one", jsonString(sub))
			}
		}
		if !same(nc["SecurityGroups"], []any{map[string]any{"Fn::GetAtt": getAtt(s.logicalID(s.stack.ServeService.SecurityGroup), "GroupId")}}) {
			t.Errorf("service security groups = %s", jsonString(nc["SecurityGroups"]))
		}
		lbs := listOf(p["LoadBalancers"])
		if len(lbs) != 1 || !same(lbs[0].(map[string]any)["TargetGroupArn"], ref(s.logicalID(s.stack.Serve.TargetGroup))) || lbs[0].(map[string]any)["ContainerPort"] != float64(containerPort) {
			t.Errorf("service load balancers = %s", jsonString(p["LoadBalancers"]))
		}
	}
	check(t, "scalable target", func() {
		s.tmpl.HasResourceProperties(jsii.String("AWS::ApplicationAutoScaling::ScalableTarget"), map[string]any{
			"MinCapacity": 2, "MaxCapacity": 6, "ScalableDimension": "ecs:service:DesiredCount", "ServiceNamespace": "ecs",
		})
	})
	check(t, "CPU target tracking", func() {
		s.tmpl.HasResourceProperties(jsii.String("AWS::ApplicationAutoScaling::ScalingPolicy"), map[string]any{
			"PolicyType": "TargetTrackingScaling",
			"TargetTrackingScalingPolicyConfiguration": assertions.Match_ObjectLike(&map[string]any{
				"TargetValue":                   50,
				"PredefinedMetricSpecification": map[string]any{"PredefinedMetricType": "ECSServiceAverageCPUUtilization"},
			}),
		})
	})
	// Tasks in isolated subnets pull the image and write logs through
	// endpoints.
	for _, svc := range []string{"ecr.api", "ecr.dkr", "logs", "secretsmanager"} {
		found := false
		for _, ep := range s.resources("AWS::EC2::VPCEndpoint") {
			if strings.Contains(jsonString(props(ep)["ServiceName"]), "."+svc) {
				found = true
			}
		}
		if !found {
			t.Errorf("no %s endpoint for the tasks in isolated subnets", svc)
		}
	}
}

func TestContainerTargetGroupAndRule(t *testing.T) {
	for _, v := range containerVariants {
		s := synth(t, v)
		tgID := s.logicalID(s.stack.Serve.TargetGroup)
		check(t, v+": target group", func() {
			s.tmpl.HasResourceProperties(jsii.String("AWS::ElasticLoadBalancingV2::TargetGroup"), map[string]any{
				"TargetType": "ip", "Port": containerPort, "Protocol": "HTTP",
				"HealthCheckPath": healthCheckPath, "Matcher": map[string]any{"HttpCode": "200"},
				"TargetGroupAttributes": assertions.Match_ArrayWith(&[]any{map[string]any{
					"Key": "deregistration_delay.timeout_seconds", "Value": fmt.Sprint(s.cfg.Serve.Container.DrainSeconds)}}),
			})
		})
		check(t, v+": serve rule", func() {
			s.tmpl.HasResourceProperties(jsii.String("AWS::ElasticLoadBalancingV2::ListenerRule"), map[string]any{
				"Conditions": []any{map[string]any{"Field": "path-pattern", "PathPatternConfig": map[string]any{"Values": []any{routes.ServePathPattern}}}},
				"Actions":    []any{map[string]any{"Type": "forward", "TargetGroupArn": ref(tgID)}},
			})
		})
		if s.cfg.Network.IdleTimeoutSeconds < defaultMinIdleTimeoutSeconds {
			t.Errorf("%s: ALB idle timeout %d < %d", v, s.cfg.Network.IdleTimeoutSeconds, defaultMinIdleTimeoutSeconds)
		}
	}
}

// ingressOf lists a group's ingress rules, standalone or inline.
func (s *synthesized) ingressOf(sgID string) []map[string]any {
	var out []map[string]any
	for _, r := range s.resources("AWS::EC2::SecurityGroupIngress") {
		if same(props(r)["GroupId"], map[string]any{"Fn::GetAtt": getAtt(sgID, "GroupId")}) {
			out = append(out, props(r))
		}
	}
	for _, r := range listOf(props(s.resources("AWS::EC2::SecurityGroup")[sgID])["SecurityGroupIngress"]) {
		if m, ok := r.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

func TestContainerAdmitsOnlyTheALB(t *testing.T) {
	for _, v := range containerVariants {
		s := synth(t, v)
		sgID := s.logicalID(s.stack.ServeService.SecurityGroup)
		albSG := any("sg-0123456789abcdef0")
		if a := s.stack.Serve.SecurityGroup; a != nil {
			albSG = map[string]any{"Fn::GetAtt": getAtt(s.logicalID(a), "GroupId")}
		}
		in := s.ingressOf(sgID)
		if len(in) != 1 {
			t.Fatalf("%s: service group has %d ingress rules, want one: %s", v, len(in), jsonString(in))
		}
		r := in[0]
		if r["IpProtocol"] != "tcp" || r["FromPort"] != float64(containerPort) || r["ToPort"] != float64(containerPort) || !same(r["SourceSecurityGroupId"], albSG) || r["CidrIp"] != nil {
			t.Errorf("%s: service ingress %s, want tcp/%d from the ALB's group only", v, jsonString(r), containerPort)
		}
		if s.stack.Serve.SecurityGroup != nil {
			// The new ALB's group reaches the tasks' port and nothing else.
			var egress []any
			for _, e := range s.resources("AWS::EC2::SecurityGroupEgress") {
				egress = append(egress, props(e))
			}
			egress = append(egress, listOf(props(s.resources("AWS::EC2::SecurityGroup")[s.logicalID(s.stack.Serve.SecurityGroup)])["SecurityGroupEgress"])...)
			ok := false
			for _, e := range egress {
				m, _ := e.(map[string]any)
				if m != nil && refersTo(m["DestinationSecurityGroupId"], sgID) && m["FromPort"] == float64(containerPort) {
					ok = true
				}
			}
			if !ok {
				t.Errorf("%s: the ALB's group has no egress to the service on %d: %s", v, containerPort, jsonString(egress))
			}
		}
	}
	s := synth(t, "container-listener")
	for _, svc := range s.resources("AWS::ECS::Service") {
		nc := props(svc)["NetworkConfiguration"].(map[string]any)["AwsvpcConfiguration"].(map[string]any)
		if !same(nc["Subnets"], []any{"subnet-0ccccccccccccccc1", "subnet-0ccccccccccccccc2"}) {
			t.Errorf("service subnets = %s, want serve.vpc.subnetIds", jsonString(nc["Subnets"]))
		}
		if !refersTo(nc["SecurityGroups"], s.logicalID(s.stack.ServeService.SecurityGroup)) || !strings.Contains(jsonString(nc["SecurityGroups"]), "sg-0ddddddddddddddd1") {
			t.Errorf("service groups = %s, want its own and serve.vpc.securityGroupIds", jsonString(nc["SecurityGroups"]))
		}
	}
	check(t, "target group in serve.vpc.vpcId", func() {
		s.tmpl.HasResourceProperties(jsii.String("AWS::ElasticLoadBalancingV2::TargetGroup"), map[string]any{"VpcId": "vpc-0fedcba9876543210"})
	})
}

// TestContainerImageIsStagedNotBuilt: synth stages the build context (no
// Docker needed) and records the Dockerfile and platform for deploy.
func TestContainerImageIsStagedNotBuilt(t *testing.T) {
	s := synth(t, "container")
	data, err := os.ReadFile(filepath.Join(s.outdir, StackName(s.cfg)+".assets.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		DockerImages map[string]struct {
			Source struct {
				Directory  string `json:"directory"`
				DockerFile string `json:"dockerFile"`
				Platform   string `json:"platform"`
			} `json:"source"`
		} `json:"dockerImages"`
	}
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	if len(m.DockerImages) != 1 {
		t.Fatalf("want one image asset, got %d", len(m.DockerImages))
	}
	for _, img := range m.DockerImages {
		if img.Source.DockerFile != serveDockerfile || img.Source.Platform != "linux/arm64" {
			t.Errorf("image asset = %+v, want %s for linux/arm64", img.Source, serveDockerfile)
		}
		dir := filepath.Join(s.outdir, img.Source.Directory)
		for _, p := range []string{"go.mod", "go.sum", "pkg/routes", "functions/serve/Dockerfile", "functions/serve/main.go"} {
			if _, err := os.Stat(filepath.Join(dir, p)); err != nil {
				t.Errorf("build context lacks %s: %v", p, err)
			}
		}
		for _, p := range []string{".git", "web", "infra", "build", "cdk.out", "README.md", "functions/create", "functions/serve/handler_test.go"} {
			if _, err := os.Stat(filepath.Join(dir, p)); err == nil {
				t.Errorf("build context holds %s", p)
			}
		}
	}
	if _, err := os.Stat(filepath.Join("..", serveDockerfile)); err != nil {
		t.Errorf("the Dockerfile is missing: %v", err)
	}
}
