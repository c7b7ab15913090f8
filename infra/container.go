package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapplicationautoscaling"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecrassets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	elbv2 "github.com/aws/aws-cdk-go/awscdk/v2/awselasticloadbalancingv2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssecretsmanager"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/llmgw/apitokens/pkg/config"
)

// What the serve binary reads in container mode, besides serveEnvironment.
const (
	envServeMode         = "SERVE_MODE"
	envPort              = "PORT"
	envServeDrainSeconds = "SERVE_DRAIN_SECONDS"
	containerPort        = 8080
	healthCheckPath      = "/healthz"
	// serveDockerfile is relative to the repository root, the build context.
	serveDockerfile = "functions/serve/Dockerfile"
	// ECS waits at most 120 s between SIGTERM and SIGKILL on Fargate.
	maxFargateStopTimeout = 120
	stopTimeoutMargin     = 10
)

// serveImageContext is the build context the image needs, in .dockerignore
// syntax: everything is left out but the module files, the shared packages
// and the serve main with its Dockerfile. The staged copy (and its hash)
// then changes only when the binary could.
var serveImageContext = []string{"*", "!go.mod", "!go.sum", "!pkg", "!functions/serve", "**/*_test.go", "**/testdata"}

// serveService is what serve.mode: container created.
type serveService struct {
	Cluster       awsecs.Cluster
	TaskDef       awsecs.FargateTaskDefinition
	Service       awsecs.FargateService
	TaskRole      awsiam.Role
	SecurityGroup awsec2.ISecurityGroup // the group that admits the ALB
	LogGroup      awslogs.LogGroup
	TargetGroup   elbv2.ApplicationTargetGroup
}

// repoRoot is the directory holding go.mod at or above the working
// directory: the repository root for `cdk synth` and for the tests in
// infra/.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod at or above the working directory: run the CDK app from the repository")
		}
		dir = parent
	}
}

// drainTimes are the in-task drain (SERVE_DRAIN_SECONDS) and ECS's stop
// timeout for serve.container.drainSeconds. The ALB drains first, for the
// whole deregistration delay; ECS sends SIGTERM after that, and the
// binary's own drain must end before ECS's SIGKILL, which Fargate sends
// at most 120 s later.
func drainTimes(drainSeconds int) (inTask, stopTimeout int) {
	inTask = min(drainSeconds, maxFargateStopTimeout-stopTimeoutMargin)
	return inTask, inTask + stopTimeoutMargin
}

// containerEndpoints lets tasks in isolated subnets start: the image comes
// from ECR (API and registry endpoints, layers from S3 through a gateway
// endpoint) and logs go to CloudWatch Logs. It returns the clause for the
// synth warning.
func containerEndpoints(vpc awsec2.IVpc, subnets *awsec2.SubnetSelection, sg awsec2.ISecurityGroup) string {
	vpc.AddGatewayEndpoint(jsii.String("S3Endpoint"), &awsec2.GatewayVpcEndpointOptions{
		Service: awsec2.GatewayVpcEndpointAwsService_S3(),
		Subnets: &[]*awsec2.SubnetSelection{subnets},
	})
	for _, ep := range []struct {
		id  string
		svc awsec2.InterfaceVpcEndpointAwsService
	}{
		{"EcrApiEndpoint", awsec2.InterfaceVpcEndpointAwsService_ECR()},
		{"EcrDockerEndpoint", awsec2.InterfaceVpcEndpointAwsService_ECR_DOCKER()},
		{"LogsEndpoint", awsec2.InterfaceVpcEndpointAwsService_CLOUDWATCH_LOGS()},
	} {
		e := vpc.AddInterfaceEndpoint(jsii.String(ep.id), &awsec2.InterfaceVpcEndpointOptions{
			Service:           ep.svc,
			Subnets:           subnets,
			PrivateDnsEnabled: jsii.Bool(true),
			Open:              jsii.Bool(false), // only the serve tasks may connect
		})
		e.Connections().AllowDefaultPortFrom(sg, jsii.String("serve service"))
	}
	return ", ECR and CloudWatch Logs through interface endpoints, and image layers in S3 through a gateway endpoint"
}

// newServeService runs the serve binary as an HTTP server on Fargate
// behind the ALB: cluster, task definition with the image built from
// functions/serve/Dockerfile (at deploy time; synth only stages the build
// context), the service in placement's private subnets, its IP target
// group and CPU target tracking.
func newServeService(scope constructs.Construct, cfg *Config, tb tables, placement *vpcPlacement) *serveService {
	tt := tb.Tokens
	sc := cfg.Serve.Container
	out := &serveService{}
	root, err := repoRoot()
	if err != nil {
		panic(err)
	}

	sgs := placement.SecurityGroups
	if cfg.Serve.Vpc.Enabled && !cfg.ServeInStackVpc() {
		// The configured groups are imported unchanged, so the ALB's
		// ingress goes into a group of the stack's own.
		own := awsec2.NewSecurityGroup(scope, jsii.String("ServeServiceSecurityGroup"), &awsec2.SecurityGroupProps{
			Vpc:              placement.Vpc,
			Description:      jsii.String("serve service: the ALB on the container port; outbound to the model upstream, the OIDC issuer and AWS"),
			AllowAllOutbound: jsii.Bool(true),
		})
		sgs = append([]awsec2.ISecurityGroup{own}, sgs...)
	}
	out.SecurityGroup = sgs[0]

	out.Cluster = awsecs.NewCluster(scope, jsii.String("ServeCluster"), &awsecs.ClusterProps{
		Vpc:                 placement.Vpc,
		ContainerInsightsV2: awsecs.ContainerInsights_ENABLED,
	})

	// The task role is what the serve binary's AWS calls run as: one
	// GetItem per presented token, the lastUsedAt write and the usage
	// table's counters, nothing else. Image pulls, logs and
	// the upstream key are the execution role's, which CDK creates with
	// exactly those grants.
	out.TaskRole = awsiam.NewRole(scope, jsii.String("ServeTaskRole"), &awsiam.RoleProps{
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("ecs-tasks.amazonaws.com"), nil),
		Description: jsii.String("Task role: /v2/serve/* service (token lookups, lastUsedAt, usage)"),
	})
	grantRead(out.TaskRole, tt)
	grantLastUsed(out.TaskRole, cfg, tt)
	grantServeUsage(out.TaskRole, tb.Usage)

	out.TaskDef = awsecs.NewFargateTaskDefinition(scope, jsii.String("ServeTask"), &awsecs.FargateTaskDefinitionProps{
		Cpu:            jsii.Number(float64(sc.CPU)),
		MemoryLimitMiB: jsii.Number(float64(sc.MemoryMiB)),
		RuntimePlatform: &awsecs.RuntimePlatform{
			CpuArchitecture:       awsecs.CpuArchitecture_ARM64(),
			OperatingSystemFamily: awsecs.OperatingSystemFamily_LINUX(),
		},
		TaskRole: out.TaskRole,
	})

	removal := awscdk.RemovalPolicy_RETAIN
	if cfg.RemovalPolicy == "destroy" {
		removal = awscdk.RemovalPolicy_DESTROY
	}
	out.LogGroup = awslogs.NewLogGroup(scope, jsii.String("ServeServiceLogs"), &awslogs.LogGroupProps{
		Retention:     retentionDays[cfg.LogRetentionDays],
		RemovalPolicy: removal,
	})

	inTask, stop := drainTimes(sc.DrainSeconds)
	env := serveEnvironment(cfg, tb)
	env[envServeMode] = ServeModeContainer
	env[envPort] = fmt.Sprint(containerPort)
	env[envServeDrainSeconds] = fmt.Sprint(inTask)
	envp := make(map[string]*string, len(env))
	for k, v := range env {
		envp[k] = jsii.String(v)
	}
	var secrets *map[string]awsecs.Secret
	if arn := cfg.Serve.UpstreamAPIKeySecretARN; arn != "" {
		// ECS reads the secret with the execution role when a task starts
		// and hands the value to the binary as SERVE_UPSTREAM_API_KEY; the
		// template holds only the ARN, and the task role cannot read it.
		secret := awssecretsmanager.Secret_FromSecretCompleteArn(scope, jsii.String("UpstreamApiKey"), jsii.String(arn))
		secrets = &map[string]awsecs.Secret{config.EnvServeUpstreamKey: awsecs.Secret_FromSecretsManager(secret, nil)}
	}
	out.TaskDef.AddContainer(jsii.String("serve"), &awsecs.ContainerDefinitionOptions{
		Image: awsecs.ContainerImage_FromAsset(jsii.String(root), &awsecs.AssetImageProps{
			File:       jsii.String(serveDockerfile),
			IgnoreMode: awscdk.IgnoreMode_DOCKER,
			Exclude:    jsii.Strings(serveImageContext...),
			Platform:   awsecrassets.Platform_LINUX_ARM64(),
		}),
		Essential:              jsii.Bool(true),
		Environment:            &envp,
		Secrets:                secrets,
		PortMappings:           &[]*awsecs.PortMapping{{ContainerPort: jsii.Number(containerPort), Protocol: awsecs.Protocol_TCP}},
		ReadonlyRootFilesystem: jsii.Bool(true),
		StopTimeout:            awscdk.Duration_Seconds(jsii.Number(float64(stop))),
		Logging: awsecs.LogDrivers_AwsLogs(&awsecs.AwsLogDriverProps{
			StreamPrefix: jsii.String("serve"),
			LogGroup:     out.LogGroup,
		}),
	})

	out.Service = awsecs.NewFargateService(scope, jsii.String("ServeService"), &awsecs.FargateServiceProps{
		Cluster:        out.Cluster,
		TaskDefinition: out.TaskDef,
		DesiredCount:   jsii.Number(float64(sc.DesiredCount)),
		VpcSubnets:     placement.Subnets,
		SecurityGroups: &sgs,
		AssignPublicIp: jsii.Bool(false),
		// A deployment starts new tasks before stopping old ones, and rolls
		// back by itself when the new ones never become healthy.
		MinHealthyPercent: jsii.Number(100),
		MaxHealthyPercent: jsii.Number(200),
		CircuitBreaker:    &awsecs.DeploymentCircuitBreaker{Enable: jsii.Bool(true), Rollback: jsii.Bool(true)},
	})

	out.TargetGroup = elbv2.NewApplicationTargetGroup(scope, jsii.String(serveTargetsID), &elbv2.ApplicationTargetGroupProps{
		Vpc:        placement.Vpc,
		TargetType: elbv2.TargetType_IP,
		Port:       jsii.Number(containerPort),
		Protocol:   elbv2.ApplicationProtocol_HTTP,
		HealthCheck: &elbv2.HealthCheck{
			Path:             jsii.String(healthCheckPath),
			HealthyHttpCodes: jsii.String("200"),
		},
		// In-flight requests (a chat completion can take minutes) keep
		// their task this long when it is replaced or scaled in.
		DeregistrationDelay: awscdk.Duration_Seconds(jsii.Number(float64(sc.DrainSeconds))),
	})
	// Registers the tasks and opens the ALB's group to the container port.
	out.Service.AttachToApplicationTargetGroup(out.TargetGroup)

	scaling := out.Service.AutoScaleTaskCount(&awsapplicationautoscaling.EnableScalingProps{
		MinCapacity: jsii.Number(float64(sc.MinCount)),
		MaxCapacity: jsii.Number(float64(sc.MaxCount)),
	})
	scaling.ScaleOnCpuUtilization(jsii.String("Cpu"), &awsecs.CpuUtilizationScalingProps{
		TargetUtilizationPercent: jsii.Number(float64(sc.TargetCPUPercent)),
	})

	if cfg.InsecureUpstream() {
		awscdk.Annotations_Of(out.Service).AddWarningV2(jsii.String("apitokens:insecure-upstream"),
			jsii.String(insecureUpstreamWarning))
	}
	return out
}
