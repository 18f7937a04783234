// What the synthesized stack must hold: the same flow as infra/sam/template.yaml, with one
// least-privilege role per function. Synthesized without bundling, so no binaries are needed.

import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, it } from "node:test";

import { App } from "aws-cdk-lib";
import { Match, Template } from "aws-cdk-lib/assertions";

import { DayoneJoinerStack, REPO_ROOT, STEP_FUNCTIONS } from "../lib/dayone-joiner";

type Resource = { Type: string; Properties: Record<string, any> };

function synth(joiner = {}): Template {
  const app = new App({ context: { "aws:cdk:bundling-stacks": [] } });
  return Template.fromStack(new DayoneJoinerStack(app, "DayoneJoinerTest", { joiner }));
}

const template = synth();
const resources = template.toJSON().Resources as Record<string, Resource>;
const definitionFile = path.join(REPO_ROOT, "state-machines", "joiner.asl.json");

/** The logical id of the Lambda function whose log group ends in `/<binary>`. */
function functionId(binary: string): string {
  const logGroupId = Object.entries(resources).find(
    ([, r]) => r.Type === "AWS::Logs::LogGroup" && String(r.Properties.LogGroupName).endsWith(`/${binary}`),
  )?.[0];
  assert.ok(logGroupId, `a log group for ${binary}`);
  const fn = Object.entries(resources).find(
    ([, r]) => r.Type === "AWS::Lambda::Function" && r.Properties.LoggingConfig?.LogGroup?.Ref === logGroupId,
  );
  assert.ok(fn, `a function logging to ${logGroupId}`);
  return fn[0];
}

/** Every IAM statement attached to the role of function `binary`. */
function statementsOf(binary: string): any[] {
  const roleId = resources[functionId(binary)].Properties.Role["Fn::GetAtt"][0];
  return Object.values(resources)
    .filter((r) => r.Type === "AWS::IAM::Policy" && r.Properties.Roles.some((x: any) => x.Ref === roleId))
    .flatMap((p) => p.Properties.PolicyDocument.Statement);
}

function actionsOf(binary: string): string[] {
  return statementsOf(binary).flatMap((s) => [s.Action].flat());
}

describe("DayoneJoiner", () => {
  it("runs the shared definition file as a Standard state machine with every placeholder substituted", () => {
    const [sm] = Object.values(template.findResources("AWS::StepFunctions::StateMachine")) as Resource[];
    assert.equal(sm.Properties.StateMachineType, "STANDARD");
    const definition = fs.readFileSync(definitionFile, "utf8");
    assert.equal(sm.Properties.DefinitionString, definition);
    const placeholders = new Set([...definition.matchAll(/\$\{(\w+)\}/g)].map((m) => m[1]));
    assert.deepEqual(new Set(Object.keys(sm.Properties.DefinitionSubstitutions)), placeholders);
    for (const [step, binary] of Object.entries(STEP_FUNCTIONS)) {
      assert.deepEqual(sm.Properties.DefinitionSubstitutions[`${step}FunctionArn`], {
        "Fn::GetAtt": [functionId(binary), "Arn"],
      });
    }
    // History in the console, not the hire's personal data in CloudWatch.
    assert.equal(sm.Properties.LoggingConfiguration.IncludeExecutionData, false);
  });

  it("keeps the ledger in one durable, encrypted, pay-per-request table keyed by pk", () => {
    template.resourceCountIs("AWS::DynamoDB::Table", 1);
    template.hasResource("AWS::DynamoDB::Table", {
      DeletionPolicy: "Retain",
      Properties: {
        KeySchema: [{ AttributeName: "pk", KeyType: "HASH" }],
        AttributeDefinitions: [{ AttributeName: "pk", AttributeType: "S" }],
        BillingMode: "PAY_PER_REQUEST",
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        DeletionProtectionEnabled: true,
        SSESpecification: { SSEEnabled: true },
      },
    });
  });

  it("deploys every Rust binary on arm64 provided.al2023 with its own role", () => {
    const binaries = [...Object.values(STEP_FUNCTIONS), "ingress"];
    const roles = new Set<string>();
    for (const binary of binaries) {
      const fn = resources[functionId(binary)].Properties;
      assert.equal(fn.Runtime, "provided.al2023", binary);
      assert.deepEqual(fn.Architectures, ["arm64"], binary);
      assert.equal(fn.Handler, "bootstrap", binary);
      roles.add(fn.Role["Fn::GetAtt"][0]);
    }
    assert.equal(roles.size, binaries.length, "no two functions share a role");
  });

  it("gives the ingress StartExecution on the Joiner only, and no table or step access", () => {
    const statements = statementsOf("ingress");
    const start = statements.find((s) => s.Action === "states:StartExecution");
    assert.ok(start);
    assert.deepEqual(start.Resource, { Ref: Object.keys(template.findResources("AWS::StepFunctions::StateMachine"))[0] });
    assert.ok(actionsOf("ingress").includes("states:DescribeExecution"));
    assert.ok(!actionsOf("ingress").some((a) => a.startsWith("dynamodb:") || a.startsWith("lambda:")));
  });

  it("lets only the ledger's users touch the table, each with the actions it needs", () => {
    const ledger = actionsOf("allocate-username");
    for (const a of ["dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:ConditionCheckItem"]) {
      assert.ok(ledger.includes(a), a);
    }
    assert.ok(!ledger.includes("dynamodb:DeleteItem"), "names are never deleted");
    for (const binary of ["allocate-username", "issue-tap", "hris-writeback", "create-ticket"]) {
      const vars = resources[functionId(binary)].Properties.Environment.Variables;
      assert.deepEqual(vars.DAYONE_LEDGER_TABLE, { Ref: Object.keys(template.findResources("AWS::DynamoDB::Table"))[0] }, binary);
    }
    for (const binary of ["create-account", "notify-failure"]) {
      assert.ok(!actionsOf(binary).some((a) => a.startsWith("dynamodb:")), binary);
    }
    const tap = statementsOf("issue-tap").find((s) => s.Sid === "DeliveryReceiptsOnly");
    assert.deepEqual(tap.Condition, { "ForAllValues:StringLike": { "dynamodb:LeadingKeys": ["TAP#*"] } });
    // create-ticket: its receipts only (TICKET#…), begun with a conditional put, never deleted.
    const receipts = statementsOf("create-ticket").filter((s) => [s.Action].flat().some((a) => a.startsWith("dynamodb:")));
    assert.equal(receipts.length, 1, "one statement grants create-ticket the table");
    assert.equal(receipts[0].Sid, "TicketReceiptsOnly");
    assert.deepEqual([receipts[0].Action].flat().sort(), ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"]);
    assert.deepEqual(receipts[0].Condition, { "ForAllValues:StringLike": { "dynamodb:LeadingKeys": ["TICKET#*"] } });
  });

  it("grants each function GetSecretValue on its own named secrets only", () => {
    const secretArns = (binary: string) =>
      statementsOf(binary)
        .filter((s) => [s.Action].flat().includes("secretsmanager:GetSecretValue"))
        .flatMap((s) => [s.Resource].flat())
        .map((r) => JSON.stringify(r));
    const has = (binary: string, name: string) => secretArns(binary).some((r) => r.includes(`secret:${name}-??????`));
    assert.ok(has("create-account", "dayone/graph-client-secret"));
    assert.ok(!has("create-account", "dayone/slack-bot-token"));
    assert.ok(has("issue-tap", "dayone/slack-bot-token"));
    assert.ok(has("ingress", "dayone/webhook-secret"));
    assert.ok(!has("ingress", "dayone/graph-client-secret"));
    assert.deepEqual(secretArns("allocate-username"), []);
    // No secret value is ever in an environment variable.
    for (const r of Object.values(resources).filter((r) => r.Type === "AWS::Lambda::Function")) {
      const vars = Object.keys(r.Properties.Environment?.Variables ?? {});
      assert.ok(vars.every((v) => !/SECRET$|PASSWORD|TOKEN$/.test(v)), vars.join(","));
    }
  });

  it("routes POST /hires to the ingress over a throttled HTTP API", () => {
    template.hasResourceProperties("AWS::ApiGatewayV2::Route", { RouteKey: "POST /hires" });
    template.hasResourceProperties("AWS::ApiGatewayV2::Integration", { PayloadFormatVersion: "2.0" });
    template.hasResourceProperties("AWS::ApiGatewayV2::Stage", {
      DefaultRouteSettings: { ThrottlingRateLimit: 50, ThrottlingBurstLimit: 100 },
      AccessLogSettings: Match.objectLike({}),
    });
  });

  it("keeps every log group for a bounded time", () => {
    const groups = Object.values(template.findResources("AWS::Logs::LogGroup")) as Resource[];
    assert.ok(groups.length >= 9);
    for (const g of groups) assert.equal(g.Properties.RetentionInDays, 90, g.Properties.LogGroupName);
  });

  it("accepts HTTP Basic only when a secret is named for it", () => {
    const withBasic = synth({ secretNames: { basicAuth: "dayone/workday-basic" } });
    withBasic.hasResourceProperties("AWS::Lambda::Function", {
      Environment: { Variables: Match.objectLike({ DAYONE_BASIC_AUTH_SECRET_ID: "dayone/workday-basic" }) },
    });
    const vars = resources[functionId("ingress")].Properties.Environment.Variables;
    assert.equal(vars.DAYONE_BASIC_AUTH_SECRET_ID, undefined);
  });
});
