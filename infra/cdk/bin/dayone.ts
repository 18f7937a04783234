#!/usr/bin/env node
// The CDK app: one DayoneJoiner stack. Options come from context (`-c key=value`):
//   stackName            default DayoneJoiner
//   basicAuthSecretName  enables HTTP Basic deliveries with this Secrets Manager secret
//   tracing              "true" turns on X-Ray for the Lambdas and the state machine
//   skipBundling         "true": synthesize without the Lambda binaries (review, tests);
//                        the CLI reserves `aws:` keys, so this sets aws:cdk:bundling-stacks=[]
// The stack is environment-agnostic, so `cdk synth` needs no credentials.

import { App } from "aws-cdk-lib";

import { DayoneJoinerStack } from "../lib/dayone-joiner";

// Context given on the command line arrives in CDK_CONTEXT_JSON, before the App exists.
const cli: Record<string, unknown> = JSON.parse(process.env.CDK_CONTEXT_JSON ?? "{}");
const skipBundling = String(cli.skipBundling ?? "") === "true";
const app = new App({ postCliContext: skipBundling ? { "aws:cdk:bundling-stacks": [] } : {} });
const ctx = (key: string): string | undefined => {
  const v = app.node.tryGetContext(key);
  return v === undefined || v === "" ? undefined : String(v);
};

new DayoneJoinerStack(app, ctx("stackName") ?? "DayoneJoiner", {
  description: "dayone Joiner flow: HTTP API -> ingress -> Step Functions -> step Lambdas (Rust, arm64)",
  joiner: {
    secretNames: { basicAuth: ctx("basicAuthSecretName") },
    tracing: ctx("tracing") === "true",
  },
});
