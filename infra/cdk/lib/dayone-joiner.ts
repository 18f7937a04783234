// DayoneJoiner: the dayone Joiner flow as one CDK construct, the same resources as
// infra/sam/template.yaml, from the same Lambda binaries (`cargo lambda build --release --arm64`
// → target/lambda/<name>/bootstrap) and the same state machine definition file with the same
// `${…FunctionArn}` substitutions.

import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

import {
  Annotations,
  ArnFormat,
  CfnOutput,
  Duration,
  RemovalPolicy,
  Stack,
  StackProps,
  SymlinkFollowMode,
} from "aws-cdk-lib";
import * as apigw from "aws-cdk-lib/aws-apigateway";
import * as apigwv2 from "aws-cdk-lib/aws-apigatewayv2";
import { HttpLambdaIntegration } from "aws-cdk-lib/aws-apigatewayv2-integrations";
import * as dynamodb from "aws-cdk-lib/aws-dynamodb";
import * as iam from "aws-cdk-lib/aws-iam";
import * as lambda from "aws-cdk-lib/aws-lambda";
import * as logs from "aws-cdk-lib/aws-logs";
import * as secretsmanager from "aws-cdk-lib/aws-secretsmanager";
import * as sfn from "aws-cdk-lib/aws-stepfunctions";
import { Construct } from "constructs";

/** The repository root (infra/cdk/lib → ../../..). */
export const REPO_ROOT = path.resolve(__dirname, "..", "..", "..");

/** The six step Lambdas of the definition: placeholder prefix → crate/binary name. */
export const STEP_FUNCTIONS = {
  AllocateUsername: "allocate-username",
  CreateAccount: "create-account",
  IssueTap: "issue-tap",
  HrisWriteback: "hris-writeback",
  CreateTicket: "create-ticket",
  NotifyFailure: "notify-failure",
} as const;
export type StepName = keyof typeof STEP_FUNCTIONS;

/** Secrets Manager names (never values) of the credentials the steps use. */
export interface DayoneSecretNames {
  readonly webhook: string;
  /** `username:password` for HTTP Basic deliveries; unset disables Basic. */
  readonly basicAuth?: string;
  readonly graphClientSecret: string;
  readonly workdayPassword: string;
  readonly servicenowPassword: string;
  readonly jiraApiToken: string;
  readonly slackBotToken: string;
}

export const DEFAULT_SECRET_NAMES: DayoneSecretNames = {
  webhook: "dayone/webhook-secret",
  graphClientSecret: "dayone/graph-client-secret",
  workdayPassword: "dayone/workday-password",
  servicenowPassword: "dayone/servicenow-password",
  jiraApiToken: "dayone/jira-api-token",
  slackBotToken: "dayone/slack-bot-token",
};

export interface DayoneJoinerProps {
  /** Where `cargo lambda build --release --arm64` put the binaries. Default `<repo>/target/lambda`. */
  readonly lambdaDir?: string;
  /** The state machine definition. Default `<repo>/state-machines/joiner.asl.json`. */
  readonly definitionFile?: string;
  /** Directory mounted as the config layer (holds dayone.toml). Default `<repo>/infra/config-layer`. */
  readonly configLayerDir?: string;
  readonly secretNames?: Partial<DayoneSecretNames>;
  readonly logRetention?: logs.RetentionDays;
  readonly tracing?: boolean;
  readonly apiRateLimit?: number;
  readonly apiBurstLimit?: number;
}

export class DayoneJoiner extends Construct {
  readonly ledgerTable: dynamodb.Table;
  readonly stateMachine: sfn.StateMachine;
  readonly ingress: lambda.Function;
  readonly steps: Record<StepName, lambda.Function>;
  readonly api: apigwv2.HttpApi;

  constructor(scope: Construct, id: string, props: DayoneJoinerProps = {}) {
    super(scope, id);
    const lambdaDir = props.lambdaDir ?? path.join(REPO_ROOT, "target", "lambda");
    const definitionFile = props.definitionFile ?? path.join(REPO_ROOT, "state-machines", "joiner.asl.json");
    const configLayerDir = props.configLayerDir ?? path.join(REPO_ROOT, "infra", "config-layer");
    const secrets: DayoneSecretNames = { ...DEFAULT_SECRET_NAMES, ...props.secretNames };
    const retention = props.logRetention ?? logs.RetentionDays.THREE_MONTHS;
    const tracing = props.tracing ? lambda.Tracing.ACTIVE : lambda.Tracing.PASS_THROUGH;
    const stack = Stack.of(this);

    // ------------------------------------------------------------ username ledger
    this.ledgerTable = new dynamodb.Table(this, "LedgerTable", {
      partitionKey: { name: "pk", type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      deletionProtection: true,
      encryption: dynamodb.TableEncryption.AWS_MANAGED,
      removalPolicy: RemovalPolicy.RETAIN,
    });

    // ------------------------------------------------------------ dayone.toml at /opt
    const configLayer = new lambda.LayerVersion(this, "ConfigLayer", {
      description: "dayone.toml, mounted at /opt/dayone.toml in every step Lambda.",
      code: lambda.Code.fromAsset(configLayerDir, { followSymlinks: SymlinkFollowMode.ALWAYS }),
      compatibleRuntimes: [lambda.Runtime.PROVIDED_AL2023],
      compatibleArchitectures: [lambda.Architecture.ARM_64],
      removalPolicy: RemovalPolicy.DESTROY,
    });

    const secret = (logicalId: string, name: string) =>
      secretsmanager.Secret.fromSecretNameV2(this, logicalId, name);

    const rustFunction = (logicalId: string, binary: string, description: string, timeout: number, layer: boolean) =>
      new lambda.Function(this, logicalId, {
        description,
        runtime: lambda.Runtime.PROVIDED_AL2023,
        architecture: lambda.Architecture.ARM_64,
        handler: "bootstrap",
        code: rustBinary(this, lambdaDir, binary),
        memorySize: 256,
        timeout: Duration.seconds(timeout),
        tracing,
        layers: layer ? [configLayer] : [],
        environment: layer ? { DAYONE_CONFIG: "/opt/dayone.toml", DAYONE_LOG: "info" } : { DAYONE_LOG: "info" },
        logGroup: new logs.LogGroup(this, `${logicalId}Logs`, {
          logGroupName: `/dayone/${stack.stackName}/${binary}`,
          retention,
          removalPolicy: RemovalPolicy.DESTROY,
        }),
      });

    // ------------------------------------------------------------ steps
    const steps = {
      AllocateUsername: rustFunction("AllocateUsernameFunction", "allocate-username",
        "Reserves sAMAccountName, UPN and mail for a hire in the ledger, all or nothing.", 30, true),
      CreateAccount: rustFunction("CreateAccountFunction", "create-account",
        "Creates (or finds) the Entra ID user, sets the manager, adds birthright groups.", 60, true),
      IssueTap: rustFunction("IssueTapFunction", "issue-tap",
        "Issues the Temporary Access Pass and delivers it to the manager; returns only a receipt.", 60, true),
      HrisWriteback: rustFunction("HrisWritebackFunction", "hris-writeback",
        "Writes the work email and username back to Workday.", 60, true),
      CreateTicket: rustFunction("CreateTicketFunction", "create-ticket",
        "Opens the equipment request in ServiceNow or Jira Service Management (idempotent).", 60, true),
      NotifyFailure: rustFunction("NotifyFailureFunction", "notify-failure",
        "Tells IT which execution and step failed, and why (no secrets).", 60, true),
    } satisfies Record<StepName, lambda.Function>;
    this.steps = steps;

    // Ledger: the username allocation writes all names of a hire in one transaction.
    // TransactWriteItems has no IAM action of its own: each item is authorised as the
    // PutItem / UpdateItem / ConditionCheckItem it is.
    steps.AllocateUsername.addEnvironment("DAYONE_LEDGER_TABLE", this.ledgerTable.tableName);
    steps.AllocateUsername.addToRolePolicy(new iam.PolicyStatement({
      sid: "UsernameLedger",
      actions: [
        "dynamodb:GetItem",
        "dynamodb:BatchGetItem",
        "dynamodb:UpdateItem",
        "dynamodb:PutItem",
        "dynamodb:ConditionCheckItem",
      ],
      resources: [this.ledgerTable.tableArn],
    }));
    // TAP delivery receipts, write-back records and ticket receipts live in the same table,
    // each step limited to its own key prefix.
    const ownItems = (fn: lambda.Function, sid: string, prefix: string, actions: string[]) => {
      fn.addEnvironment("DAYONE_LEDGER_TABLE", this.ledgerTable.tableName);
      fn.addToRolePolicy(new iam.PolicyStatement({
        sid,
        actions,
        resources: [this.ledgerTable.tableArn],
        conditions: { "ForAllValues:StringLike": { "dynamodb:LeadingKeys": [`${prefix}*`] } },
      }));
    };
    ownItems(steps.IssueTap, "DeliveryReceiptsOnly", "TAP#",
      ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"]);
    ownItems(steps.HrisWriteback, "WritebackLogOnly", "WRITEBACK#", ["dynamodb:GetItem", "dynamodb:UpdateItem"]);
    ownItems(steps.CreateTicket, "TicketReceiptsOnly", "TICKET#",
      ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"]);

    // Secrets: GetSecretValue on the named secrets only.
    const graph = secret("GraphClientSecret", secrets.graphClientSecret);
    const slack = secret("SlackBotToken", secrets.slackBotToken);
    graph.grantRead(steps.CreateAccount);
    graph.grantRead(steps.IssueTap);
    slack.grantRead(steps.IssueTap);
    secret("WorkdayPassword", secrets.workdayPassword).grantRead(steps.HrisWriteback);
    secret("ServiceNowPassword", secrets.servicenowPassword).grantRead(steps.CreateTicket);
    secret("JiraApiToken", secrets.jiraApiToken).grantRead(steps.CreateTicket);
    slack.grantRead(steps.NotifyFailure);

    // ------------------------------------------------------------ the flow
    const substitutions: Record<string, string> = {};
    for (const [step, fn] of Object.entries(steps)) {
      substitutions[`${step}FunctionArn`] = fn.functionArn;
    }
    this.stateMachine = new sfn.StateMachine(this, "JoinerStateMachine", {
      stateMachineType: sfn.StateMachineType.STANDARD,
      definitionBody: sfn.DefinitionBody.fromString(fs.readFileSync(definitionFile, "utf8")),
      definitionSubstitutions: substitutions,
      tracingEnabled: props.tracing ?? false,
      logs: {
        destination: new logs.LogGroup(this, "StateMachineLogs", {
          logGroupName: `/aws/vendedlogs/states/dayone-${stack.stackName}-joiner`,
          retention,
          removalPolicy: RemovalPolicy.DESTROY,
        }),
        level: sfn.LogLevel.ERROR,
        // Execution data holds the hire (personal data); the history in the console is enough.
        includeExecutionData: false,
      },
    });
    for (const fn of Object.values(steps)) {
      fn.grantInvoke(this.stateMachine);
    }

    // ------------------------------------------------------------ ingress
    this.ingress = rustFunction("IngressFunction", "ingress",
      "POST /hires -> authenticate, validate, StartExecution (idempotent by execution name).", 10, false);
    this.ingress.addEnvironment("DAYONE_STATE_MACHINE_ARN", this.stateMachine.stateMachineArn);
    this.ingress.addEnvironment("DAYONE_WEBHOOK_SECRET_ID", secrets.webhook);
    secret("WebhookSecret", secrets.webhook).grantRead(this.ingress);
    if (secrets.basicAuth) {
      this.ingress.addEnvironment("DAYONE_BASIC_AUTH_SECRET_ID", secrets.basicAuth);
      secret("BasicAuthSecret", secrets.basicAuth).grantRead(this.ingress);
    }
    this.ingress.addToRolePolicy(new iam.PolicyStatement({
      sid: "StartJoinerExecutions",
      actions: ["states:StartExecution"],
      resources: [this.stateMachine.stateMachineArn],
    }));
    this.ingress.addToRolePolicy(new iam.PolicyStatement({
      sid: "LookUpDuplicateExecutions",
      actions: ["states:DescribeExecution"],
      resources: [stack.formatArn({
        service: "states",
        resource: "execution",
        resourceName: `${this.stateMachine.stateMachineName}:*`,
        arnFormat: ArnFormat.COLON_RESOURCE_NAME,
      })],
    }));

    this.api = new apigwv2.HttpApi(this, "HireApi", {
      description: "Workday posts hires here (HMAC-signed or HTTP Basic; the ingress Lambda checks).",
      createDefaultStage: false,
    });
    const accessLogs = new logs.LogGroup(this, "ApiAccessLogs", {
      logGroupName: `/dayone/${stack.stackName}/api-access`,
      retention,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    new apigwv2.HttpStage(this, "HireApiStage", {
      httpApi: this.api,
      stageName: "$default",
      autoDeploy: true,
      throttle: { rateLimit: props.apiRateLimit ?? 50, burstLimit: props.apiBurstLimit ?? 100 },
      accessLogSettings: {
        destination: new apigwv2.LogGroupLogDestination(accessLogs),
        format: apigw.AccessLogFormat.custom(JSON.stringify({
          requestId: "$context.requestId",
          ip: "$context.identity.sourceIp",
          time: "$context.requestTime",
          route: "$context.routeKey",
          status: "$context.status",
          latencyMs: "$context.responseLatency",
          integrationError: "$context.integrationErrorMessage",
        })),
      },
    });
    this.api.addRoutes({
      path: "/hires",
      methods: [apigwv2.HttpMethod.POST],
      integration: new HttpLambdaIntegration("IngressIntegration", this.ingress, {
        payloadFormatVersion: apigwv2.PayloadFormatVersion.VERSION_2_0,
      }),
    });
  }
}

/**
 * The Lambda code of one binary: the directory `cargo lambda build --release --arm64` leaves
 * at `<lambdaDir>/<binary>/` (it holds `bootstrap`), zipped as it is.
 *
 * A stack that does not need bundling (`-c skipBundling=true`, or the `aws:cdk:bundling-stacks`
 * context set to `[]` in tests) may be synthesized before the binaries exist: a missing binary
 * is then replaced by a placeholder and a warning, so templates can be reviewed and tested
 * offline. Deploying needs the real binaries: `cdk deploy` bundles every stack and so fails
 * with the build command when one is missing.
 */
function rustBinary(scope: Construct, lambdaDir: string, binary: string): lambda.Code {
  const dir = path.join(lambdaDir, binary);
  if (fs.existsSync(path.join(dir, "bootstrap"))) {
    return lambda.Code.fromAsset(dir);
  }
  if (Stack.of(scope).bundlingRequired) {
    throw new Error(`${dir}/bootstrap is missing: run \`cargo lambda build --release --arm64\` in ${REPO_ROOT} first`);
  }
  Annotations.of(scope).addWarningV2(
    "dayone:binary-not-built",
    `${binary}: ${dir}/bootstrap is not built; synthesized with a placeholder that must not be deployed`,
  );
  return lambda.Code.fromAsset(placeholderDir());
}

let placeholder: string | undefined;
function placeholderDir(): string {
  if (!placeholder) {
    placeholder = fs.mkdtempSync(path.join(os.tmpdir(), "dayone-not-built-"));
    fs.writeFileSync(path.join(placeholder, "NOT_BUILT"), "run `cargo lambda build --release --arm64`\n");
  }
  return placeholder;
}

export interface DayoneJoinerStackProps extends StackProps {
  readonly joiner?: DayoneJoinerProps;
}

/** The deployable stack: the construct and the outputs an operator needs. */
export class DayoneJoinerStack extends Stack {
  readonly joiner: DayoneJoiner;

  constructor(scope: Construct, id: string, props: DayoneJoinerStackProps = {}) {
    super(scope, id, props);
    this.joiner = new DayoneJoiner(this, "Joiner", props.joiner);
    new CfnOutput(this, "HireEndpoint", {
      description: "Where Workday posts hires.",
      value: `${this.joiner.api.apiEndpoint}/hires`,
    });
    new CfnOutput(this, "StateMachineArn", { value: this.joiner.stateMachine.stateMachineArn });
    new CfnOutput(this, "LedgerTableName", { value: this.joiner.ledgerTable.tableName });
  }
}
