//! Behaviour of the interpreter as a user of Step Functions would observe it.

use dayone_asl::{
    Clock, EventType, ExecutionOptions, ExecutionResult, ExecutionStatus, Interpreter,
    StateMachine, TaskError, TaskRegistry, ValidationError,
};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

async fn run_with(def: Value, input: Value, tasks: TaskRegistry) -> ExecutionResult {
    let sm = StateMachine::from_value(def).expect("definition is valid");
    Interpreter::new(sm)
        .with_tasks(tasks)
        .with_clock(Clock::instant())
        .run(input, ExecutionOptions::default())
        .await
}

async fn run(def: Value, input: Value) -> ExecutionResult {
    run_with(def, input, TaskRegistry::new()).await
}

fn ok(r: &ExecutionResult) -> &Value {
    assert_eq!(
        r.status,
        ExecutionStatus::Succeeded,
        "expected success, got {:?}: {:?}",
        r.error,
        r.cause
    );
    r.output.as_ref().expect("a succeeded execution has output")
}

fn single(state: Value) -> Value {
    json!({"StartAt": "S", "States": {"S": state}})
}

// ---------- Pass and the JSONPath pipeline ----------

#[tokio::test]
async fn pass_applies_input_path_parameters_result_path_and_output_path() {
    // GIVEN a Pass state using every JSONPath field
    let def = single(json!({
        "Type": "Pass",
        "InputPath": "$.user",
        "Parameters": {"greeting.$": "States.Format('Hello, {}!', $.name)", "fixed": 1},
        "ResultPath": "$.result",
        "OutputPath": "$.result",
        "End": true
    }));
    // WHEN it runs
    let r = run(def, json!({"user": {"name": "Ada"}, "other": true})).await;
    // THEN the Parameters result lands at ResultPath in the raw input and OutputPath selects it
    assert_eq!(ok(&r), &json!({"greeting": "Hello, Ada!", "fixed": 1}));
}

#[tokio::test]
async fn pass_result_path_null_keeps_the_input() {
    let def = single(json!({"Type": "Pass", "Result": {"x": 1}, "ResultPath": null, "End": true}));
    let r = run(def, json!({"keep": "me"})).await;
    assert_eq!(ok(&r), &json!({"keep": "me"}));
}

#[tokio::test]
async fn missing_input_path_is_a_states_runtime_error_naming_the_state() {
    let def = single(json!({"Type": "Pass", "InputPath": "$.nope", "End": true}));
    let r = run(def, json!({})).await;
    assert_eq!(r.status, ExecutionStatus::Failed);
    assert_eq!(r.error.as_deref(), Some("States.Runtime"));
    assert!(r.cause.unwrap().contains("state 'S'"));
}

#[tokio::test]
async fn context_object_exposes_execution_and_state() {
    let def = single(json!({
        "Type": "Pass",
        "Parameters": {"name.$": "$$.Execution.Name", "state.$": "$$.State.Name", "in.$": "$$.Execution.Input.a"},
        "End": true
    }));
    let sm = StateMachine::from_value(def).unwrap();
    let r = Interpreter::new(sm)
        .with_clock(Clock::instant())
        .run(
            json!({"a": 7}),
            ExecutionOptions {
                name: Some("hire-42".into()),
                ..Default::default()
            },
        )
        .await;
    assert_eq!(ok(&r), &json!({"name": "hire-42", "state": "S", "in": 7}));
}

// ---------- Choice ----------

async fn choose(rule: Value, input: Value) -> String {
    let mut rule = rule;
    rule["Next"] = json!("Yes");
    let def = json!({
        "StartAt": "C",
        "States": {
            "C": {"Type": "Choice", "Choices": [rule], "Default": "No"},
            "Yes": {"Type": "Pass", "Result": "yes", "End": true},
            "No": {"Type": "Pass", "Result": "no", "End": true}
        }
    });
    ok(&run(def, input).await).as_str().unwrap().to_string()
}

#[tokio::test]
async fn choice_comparison_operators() {
    let i = json!({"s": "beta", "n": 5, "b": true, "t": "2024-01-02T00:00:00Z", "o": "alpha", "m": 5.0});
    let cases = [
        (json!({"Variable": "$.s", "StringEquals": "beta"}), "yes"),
        (json!({"Variable": "$.s", "StringLessThan": "gamma"}), "yes"),
        (
            json!({"Variable": "$.s", "StringGreaterThanEquals": "beta"}),
            "yes",
        ),
        (
            json!({"Variable": "$.s", "StringGreaterThanPath": "$.o"}),
            "yes",
        ),
        (json!({"Variable": "$.s", "StringMatches": "b*a"}), "yes"),
        (json!({"Variable": "$.n", "NumericEquals": 5}), "yes"),
        (
            json!({"Variable": "$.n", "NumericEqualsPath": "$.m"}),
            "yes",
        ),
        (json!({"Variable": "$.n", "NumericLessThan": 5}), "no"),
        (
            json!({"Variable": "$.n", "NumericLessThanEquals": 5}),
            "yes",
        ),
        (json!({"Variable": "$.n", "NumericGreaterThan": 4.5}), "yes"),
        (json!({"Variable": "$.b", "BooleanEquals": true}), "yes"),
        (
            json!({"Variable": "$.t", "TimestampGreaterThan": "2024-01-01T00:00:00Z"}),
            "yes",
        ),
        (
            json!({"Variable": "$.t", "TimestampEquals": "2024-01-02T00:00:00+00:00"}),
            "yes",
        ),
        (json!({"Variable": "$.s", "NumericEquals": 5}), "no"),
        (json!({"Variable": "$.missing", "IsPresent": false}), "yes"),
        (json!({"Variable": "$.n", "IsNumeric": true}), "yes"),
        (json!({"Variable": "$.s", "IsString": true}), "yes"),
        (json!({"Variable": "$.b", "IsBoolean": true}), "yes"),
        (json!({"Variable": "$.t", "IsTimestamp": true}), "yes"),
        (json!({"Variable": "$.s", "IsNull": true}), "no"),
        (
            json!({"And": [{"Variable": "$.n", "NumericGreaterThan": 1}, {"Not": {"Variable": "$.b", "BooleanEquals": false}}]}),
            "yes",
        ),
        (
            json!({"Or": [{"Variable": "$.n", "NumericGreaterThan": 10}, {"Variable": "$.s", "StringEquals": "nope"}]}),
            "no",
        ),
    ];
    for (rule, want) in cases {
        assert_eq!(choose(rule.clone(), i.clone()).await, want, "rule {rule}");
    }
}

#[tokio::test]
async fn choice_without_match_or_default_fails_with_no_choice_matched() {
    let def = json!({"StartAt": "C", "States": {
        "C": {"Type": "Choice", "Choices": [{"Variable": "$.x", "NumericEquals": 1, "Next": "E"}]},
        "E": {"Type": "Succeed"}}});
    let r = run(def, json!({"x": 2})).await;
    assert_eq!(r.error.as_deref(), Some("States.NoChoiceMatched"));
}

// ---------- Wait, Succeed, Fail ----------

#[tokio::test]
async fn wait_on_the_virtual_clock_advances_time_without_sleeping() {
    let def = json!({"StartAt": "W", "States": {
        "W": {"Type": "Wait", "Seconds": 3600, "Next": "T"},
        "T": {"Type": "Pass", "Parameters": {"t.$": "$$.State.EnteredTime"}, "End": true}}});
    let started = std::time::Instant::now();
    let r = run(def, json!({})).await;
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    let entered = chrono::DateTime::parse_from_rfc3339(ok(&r)["t"].as_str().unwrap()).unwrap();
    // EnteredTime is printed to the millisecond, so allow for the truncation.
    assert!(
        entered.with_timezone(&chrono::Utc) - r.start_date
            >= chrono::Duration::milliseconds(3_599_999)
    );
}

#[tokio::test]
async fn fail_state_reports_error_and_cause_from_paths() {
    let def = single(
        json!({"Type": "Fail", "ErrorPath": "$.e", "CausePath": "States.Format('because {}', $.c)"}),
    );
    let r = run(def, json!({"e": "Dayone.InvalidHire", "c": "no name"})).await;
    assert_eq!(r.status, ExecutionStatus::Failed);
    assert_eq!(r.error.as_deref(), Some("Dayone.InvalidHire"));
    assert_eq!(r.cause.as_deref(), Some("because no name"));
}

#[tokio::test]
async fn succeed_applies_output_path() {
    let def = single(json!({"Type": "Succeed", "OutputPath": "$.a"}));
    assert_eq!(ok(&run(def, json!({"a": [1]})).await), &json!([1]));
}

// ---------- Parallel and Map ----------

#[tokio::test]
async fn parallel_collects_branch_outputs_in_order() {
    let def = single(json!({"Type": "Parallel", "End": true, "Branches": [
        {"StartAt": "A", "States": {"A": {"Type": "Pass", "Result": "a", "End": true}}},
        {"StartAt": "B", "States": {"B": {"Type": "Pass", "InputPath": "$.x", "End": true}}}
    ]}));
    assert_eq!(ok(&run(def, json!({"x": 2})).await), &json!(["a", 2]));
}

#[tokio::test]
async fn map_uses_item_selector_with_item_index_and_value() {
    let def = single(
        json!({"Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 2,
        "ItemSelector": {"i.$": "$$.Map.Item.Index", "v.$": "$$.Map.Item.Value", "tag.$": "$.tag"},
        "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}},
        "End": true}),
    );
    let r = run(def, json!({"items": ["a", "b"], "tag": "t"})).await;
    assert_eq!(
        ok(&r),
        &json!([{"i": 0, "v": "a", "tag": "t"}, {"i": 1, "v": "b", "tag": "t"}])
    );
    let iterations = r
        .history
        .iter()
        .filter(|e| e.kind == EventType::MapIterationStarted)
        .count();
    assert_eq!(iterations, 2);
}

#[tokio::test]
async fn map_tolerates_failures_up_to_the_threshold() {
    let proc_ = json!({"StartAt": "C", "States": {
        "C": {"Type": "Choice", "Choices": [{"Variable": "$", "NumericEquals": 2, "Next": "F"}], "Default": "P"},
        "F": {"Type": "Fail", "Error": "Bad"},
        "P": {"Type": "Pass", "End": true}}});
    let tolerant = single(
        json!({"Type": "Map", "ToleratedFailureCount": 1, "ItemProcessor": proc_.clone(), "End": true}),
    );
    let r = run(tolerant, json!([1, 2, 3])).await;
    assert_eq!(ok(&r), &json!([1, {"Error": "Bad"}, 3]));
    let strict = single(json!({"Type": "Map", "ItemProcessor": proc_, "End": true}));
    let r = run(strict, json!([1, 2, 3])).await;
    assert_eq!(r.error.as_deref(), Some("Bad"));
}

// ---------- Retry and Catch ----------

fn flaky(fail_times: u32, error: &'static str) -> (TaskRegistry, Arc<AtomicU32>) {
    let calls = Arc::new(AtomicU32::new(0));
    let c = calls.clone();
    let mut reg = TaskRegistry::new();
    reg.register_fn("flaky", move |input, _ctx| {
        let c = c.clone();
        async move {
            if c.fetch_add(1, Ordering::SeqCst) < fail_times {
                Err(TaskError::new(error, "temporarily unavailable"))
            } else {
                Ok(input)
            }
        }
    });
    (reg, calls)
}

#[tokio::test]
async fn retry_reruns_the_task_until_it_succeeds() {
    let (reg, calls) = flaky(2, "Dayone.Retryable");
    let def = single(
        json!({"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:flaky",
        "Retry": [{"ErrorEquals": ["Dayone.Throttled"], "MaxAttempts": 0},
                  {"ErrorEquals": ["Dayone.Retryable"], "IntervalSeconds": 30, "MaxAttempts": 3, "BackoffRate": 2}],
        "End": true}),
    );
    let r = run_with(def, json!({"ok": 1}), reg).await;
    assert_eq!(ok(&r), &json!({"ok": 1}));
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    let delays: Vec<u64> = r
        .history
        .iter()
        .filter(|e| e.kind == EventType::RetryScheduled)
        .filter_map(|e| e.delay_ms)
        .collect();
    assert_eq!(
        delays,
        vec![30_000, 60_000],
        "IntervalSeconds then × BackoffRate"
    );
}

#[tokio::test]
async fn retry_gives_up_after_max_attempts_and_catch_routes_with_result_path() {
    let (reg, calls) = flaky(10, "Dayone.TargetRejected");
    let def = json!({"StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": "flaky",
              "Retry": [{"ErrorEquals": ["States.ALL"], "MaxAttempts": 2, "MaxDelaySeconds": 1}],
              "Catch": [{"ErrorEquals": ["States.TaskFailed"], "ResultPath": "$.err", "Next": "Handled"}],
              "End": true},
        "Handled": {"Type": "Pass", "End": true}}});
    let r = run_with(def, json!({"hire": 1}), reg).await;
    let out = ok(&r);
    assert_eq!(calls.load(Ordering::SeqCst), 3, "one try and two retries");
    assert_eq!(out["hire"], json!(1));
    assert_eq!(out["err"]["Error"], json!("Dayone.TargetRejected"));
    assert_eq!(out["err"]["Cause"], json!("temporarily unavailable"));
}

#[tokio::test]
async fn states_all_does_not_catch_states_runtime() {
    let def = json!({"StartAt": "P", "States": {
        "P": {"Type": "Parallel", "Branches": [{"StartAt": "X", "States": {"X": {"Type": "Pass", "InputPath": "$.nope", "End": true}}}],
              "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "H"}], "End": true},
        "H": {"Type": "Succeed"}}});
    let r = run(def, json!({})).await;
    assert_eq!(r.error.as_deref(), Some("States.Runtime"));
}

// ---------- Tasks ----------

#[tokio::test]
async fn lambda_invoke_returns_the_aws_envelope() {
    let mut reg = TaskRegistry::new();
    reg.register_fn("allocate-username", |input, ctx| async move {
        assert_eq!(
            ctx.function_name.as_deref(),
            Some("arn:aws:lambda:eu-west-1:123456789012:function:allocate-username")
        );
        Ok(json!({"sam": format!("{}smith", &input["first"].as_str().unwrap()[..1])}))
    });
    let def = single(
        json!({"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": "${AllocateFn}", "Payload.$": "$"},
        "ResultSelector": {"body.$": "$.Payload", "code.$": "$.StatusCode"},
        "End": true}),
    );
    let subs = HashMap::from([(
        "AllocateFn".to_string(),
        "arn:aws:lambda:eu-west-1:123456789012:function:allocate-username".to_string(),
    )]);
    let sm = StateMachine::parse_with_substitutions(&def.to_string(), &subs).unwrap();
    let r = Interpreter::new(sm)
        .with_tasks(reg)
        .with_clock(Clock::instant())
        .run(json!({"first": "John"}), ExecutionOptions::default())
        .await;
    assert_eq!(ok(&r), &json!({"body": {"sam": "Jsmith"}, "code": 200}));
}

#[tokio::test]
async fn lambda_invoke_envelope_has_the_aws_fields() {
    let mut reg = TaskRegistry::new();
    reg.register_fn("f", |_, _| async move { Ok(json!({"a": 1})) });
    let def = single(
        json!({"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": "f", "Payload": {}}, "End": true}),
    );
    let out = ok(&run_with(def, json!({}), reg).await).clone();
    for k in [
        "ExecutedVersion",
        "Payload",
        "SdkHttpMetadata",
        "SdkResponseMetadata",
        "StatusCode",
    ] {
        assert!(out.get(k).is_some(), "envelope lacks {k}: {out}");
    }
    assert_eq!(out["StatusCode"], json!(200));
    assert_eq!(out["Payload"], json!({"a": 1}));
}

#[tokio::test]
async fn lambda_function_error_surfaces_error_type_and_json_cause() {
    let mut reg = TaskRegistry::new();
    reg.register_fn("f", |_, _| async move {
        Err(TaskError::new("Dayone.Unauthorized", "token expired"))
    });
    let def = single(
        json!({"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": "f", "Payload": {}}, "End": true}),
    );
    let r = run_with(def, json!({}), reg).await;
    assert_eq!(r.error.as_deref(), Some("Dayone.Unauthorized"));
    let cause: Value = serde_json::from_str(r.cause.as_deref().unwrap()).unwrap();
    assert_eq!(
        cause,
        json!({"errorMessage": "token expired", "errorType": "Dayone.Unauthorized"})
    );
    assert!(r.history.iter().any(|e| e.kind == EventType::TaskFailed));
}

#[tokio::test]
async fn unregistered_function_fails_with_resource_not_found() {
    let def = single(
        json!({"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:1:function:ghost", "End": true}),
    );
    let r = run(def, json!({})).await;
    assert_eq!(r.error.as_deref(), Some("Lambda.ResourceNotFoundException"));
}

#[tokio::test]
async fn wait_for_task_token_resumes_on_send_task_success_and_failure() {
    let mut reg = TaskRegistry::new();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    reg.register_fn("approve", move |_, ctx| {
        let tx = tx.clone();
        async move {
            tx.send(ctx.task_token.clone().expect("a token is issued"))
                .unwrap();
            Ok(json!("ignored"))
        }
    });
    let def = json!({"StartAt": "Ask", "States": {
        "Ask": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
                "Parameters": {"FunctionName": "approve", "Payload": {"token.$": "$$.Task.Token"}},
                "Catch": [{"ErrorEquals": ["Rejected"], "Next": "No"}], "End": true},
        "No": {"Type": "Pass", "Result": "rejected", "End": true}}});
    let interp = Interpreter::new(StateMachine::from_value(def).unwrap())
        .with_tasks(reg)
        .with_clock(Clock::instant());

    let next_token = async |rx: &mut tokio::sync::mpsc::UnboundedReceiver<String>| {
        tokio::time::timeout(std::time::Duration::from_secs(10), rx.recv())
            .await
            .expect("the handler receives a token")
            .unwrap()
    };
    let exec = interp.start(json!({}), ExecutionOptions::default());
    let token = next_token(&mut rx).await;
    assert!(exec.send_task_success("not-a-token", json!(1)).is_err());
    exec.send_task_success(&token, json!({"approved": true}))
        .unwrap();
    let r = exec.wait().await.unwrap();
    assert_eq!(ok(&r), &json!({"approved": true}));

    let exec = interp.start(json!({}), ExecutionOptions::default());
    let token = next_token(&mut rx).await;
    exec.send_task_failure(&token, "Rejected", "manager said no")
        .unwrap();
    assert_eq!(ok(&exec.wait().await.unwrap()), &json!("rejected"));

    // Uncaught, the failure keeps the error and cause exactly as sent.
    let exec = interp.start(json!({}), ExecutionOptions::default());
    let token = next_token(&mut rx).await;
    exec.send_task_failure(&token, "Dayone.Unauthorized", "expired")
        .unwrap();
    let r = exec.wait().await.unwrap();
    assert_eq!(r.error.as_deref(), Some("Dayone.Unauthorized"));
    assert_eq!(r.cause.as_deref(), Some("expired"));
}

// ---------- Variables and JSONata ----------

#[tokio::test]
async fn assign_sets_variables_for_later_states() {
    let def = json!({"StartAt": "A", "States": {
        "A": {"Type": "Pass", "Assign": {"who.$": "$.name", "n": 2}, "Next": "B"},
        "B": {"Type": "Pass", "Parameters": {"w.$": "$who", "n.$": "States.MathAdd($n, 1)"}, "End": true}}});
    assert_eq!(
        ok(&run(def, json!({"name": "ada"})).await),
        &json!({"w": "ada", "n": 3})
    );
}

#[tokio::test]
async fn jsonata_states_use_arguments_output_condition_and_variables() {
    let mut reg = TaskRegistry::new();
    reg.register_fn("double", |v, _| async move {
        Ok(json!(v["x"].as_i64().unwrap() * 2))
    });
    let def = json!({"QueryLanguage": "JSONata", "StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": "double", "Arguments": {"x": "{% $states.input.n %}"},
              "Assign": {"doubled": "{% $states.result %}"}, "Output": "{% {'r': $states.result} %}", "Next": "C"},
        "C": {"Type": "Choice", "Choices": [{"Condition": "{% $doubled > 5 %}", "Next": "Big"}], "Default": "Small"},
        "Big": {"Type": "Pass", "Output": "{% 'big ' & $string($states.input.r) %}", "End": true},
        "Small": {"Type": "Pass", "Output": "small", "End": true}}});
    assert_eq!(
        ok(&run_with(def, json!({"n": 3}), reg).await),
        &json!("big 6")
    );
}

#[tokio::test]
async fn jsonata_undefined_output_is_a_query_evaluation_error() {
    let def = json!({"QueryLanguage": "JSONata", "StartAt": "S", "States": {
        "S": {"Type": "Pass", "Output": "{% $nothing %}", "End": true}}});
    let r = run(def, json!({})).await;
    assert_eq!(r.error.as_deref(), Some("States.QueryEvaluationError"));
}

// ---------- Intrinsics ----------

#[tokio::test]
async fn intrinsic_functions() {
    let def = single(json!({"Type": "Pass", "Parameters": {
        "fmt.$": "States.Format('{} has {} items', $.name, States.ArrayLength($.arr))",
        "arr.$": "States.Array(1, 'two', $.name)",
        "parts.$": "States.ArrayPartition($.arr, 2)",
        "has.$": "States.ArrayContains($.arr, 3)",
        "range.$": "States.ArrayRange(1, 9, 4)",
        "item.$": "States.ArrayGetItem($.arr, 1)",
        "uniq.$": "States.ArrayUnique(States.Array(1, 1, 2))",
        "b64.$": "States.Base64Encode('hi')",
        "unb64.$": "States.Base64Decode('aGk=')",
        "md5.$": "States.Hash('abc', 'MD5')",
        "merged.$": "States.JsonMerge($.a, $.b, false)",
        "json.$": "States.StringToJson('{\"k\":[1]}')",
        "str.$": "States.JsonToString($.a)",
        "sum.$": "States.MathAdd($.n, -3)",
        "split.$": "States.StringSplit('a,b;c', ',;')",
        "rand.$": "States.MathRandom(5, 6)"
    }, "End": true}));
    let r = run(
        def,
        json!({"name": "x", "arr": [1, 2, 3], "a": {"p": 1, "q": 1}, "b": {"q": 2}, "n": 10}),
    )
    .await;
    let o = ok(&r);
    assert_eq!(o["fmt"], json!("x has 3 items"));
    assert_eq!(o["arr"], json!([1, "two", "x"]));
    assert_eq!(o["parts"], json!([[1, 2], [3]]));
    assert_eq!(o["has"], json!(true));
    assert_eq!(o["range"], json!([1, 5, 9]));
    assert_eq!(o["item"], json!(2));
    assert_eq!(o["uniq"], json!([1, 2]));
    assert_eq!(o["b64"], json!("aGk="));
    assert_eq!(o["unb64"], json!("hi"));
    assert_eq!(o["md5"], json!("900150983cd24fb0d6963f7d28e17f72"));
    assert_eq!(o["merged"], json!({"p": 1, "q": 2}));
    assert_eq!(o["json"], json!({"k": [1]}));
    assert_eq!(o["str"], json!("{\"p\":1,\"q\":1}"));
    assert_eq!(o["sum"], json!(7));
    assert_eq!(o["split"], json!(["a", "b", "c"]));
    assert_eq!(o["rand"], json!(5));
}

#[tokio::test]
async fn uuid_intrinsic_gives_a_fresh_v4_uuid() {
    let def = single(json!({"Type": "Pass", "Parameters": {"id.$": "States.UUID()"}, "End": true}));
    let r = run(def, json!({})).await;
    let id = ok(&r)["id"].as_str().unwrap().to_string();
    assert_eq!(uuid::Uuid::parse_str(&id).unwrap().get_version_num(), 4);
}

#[tokio::test]
async fn bad_intrinsic_arguments_fail_with_intrinsic_failure() {
    let def = single(
        json!({"Type": "Pass", "Parameters": {"x.$": "States.ArrayGetItem($.a, 9)"}, "End": true}),
    );
    let r = run(def, json!({"a": [1]})).await;
    assert_eq!(r.error.as_deref(), Some("States.IntrinsicFailure"));
}

// ---------- Validation ----------

fn invalid(def: Value) -> ValidationError {
    StateMachine::from_value(def).expect_err("definition must be rejected")
}

#[test]
fn validation_errors_name_the_state() {
    assert!(matches!(
        invalid(json!({"States": {"A": {"Type": "Succeed"}}})),
        ValidationError::MissingStartAt { .. }
    ));
    assert!(matches!(
        invalid(json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "Nowhere"}}})),
        ValidationError::UnknownNext { ref state, ref target, .. } if state == "A" && target == "Nowhere"
    ));
    assert!(matches!(
        invalid(json!({"StartAt": "A", "States": {"A": {"Type": "Succeed"}, "B": {"Type": "Succeed"}}})),
        ValidationError::Unreachable { ref state } if state == "B"
    ));
    assert!(matches!(
        invalid(json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "InputPath": "not a path", "End": true}}})),
        ValidationError::MalformedPath { ref state, ref field, .. } if state == "A" && field == "InputPath"
    ));
    assert!(matches!(
        invalid(json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "Parameters": {"x.$": "States.Nope($)"}, "End": true}}})),
        ValidationError::MalformedPath { ref state, .. } if state == "A"
    ));
    assert!(matches!(
        invalid(json!({"StartAt": "A", "States": {"A": {"Type": "Choice", "Choices": [{"Variable": "$.x", "NumericEquals": "one", "Next": "A"}]}}})),
        ValidationError::Invalid { ref state, .. } if state == "A"
    ));
    let msg = invalid(json!({"StartAt": "A", "States": {"A": {"Type": "Teleport", "End": true}}}))
        .to_string();
    assert!(msg.contains("'A'") && msg.contains("Teleport"), "{msg}");
    assert!(matches!(
        StateMachine::parse("{not json"),
        Err(ValidationError::InvalidJson(_))
    ));
}

// ---------- History and observer ----------

#[tokio::test]
async fn history_records_aws_like_events_and_the_observer_sees_them_live() {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let def = json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "B"}, "B": {"Type": "Succeed"}}});
    let sm = StateMachine::from_value(def).unwrap();
    let r = Interpreter::new(sm)
        .with_clock(Clock::instant())
        .run(
            json!({}),
            ExecutionOptions {
                observer: Some(Arc::new(tx)),
                ..Default::default()
            },
        )
        .await;
    let types: Vec<&str> = r.history.iter().map(|e| e.event_type).collect();
    assert_eq!(
        types,
        [
            "ExecutionStarted",
            "PassStateEntered",
            "PassStateExited",
            "SucceedStateEntered",
            "SucceedStateExited",
            "ExecutionSucceeded"
        ]
    );
    for (i, e) in r.history.iter().enumerate() {
        assert_eq!(e.id, i as u64 + 1);
        assert_eq!(e.previous_event_id, i as u64);
    }
    let mut seen = 0;
    while rx.try_recv().is_ok() {
        seen += 1;
    }
    assert_eq!(seen, r.history.len());
}

#[tokio::test]
async fn history_payloads_are_each_states_own_input_and_output_and_serialize_as_plain_json() {
    // GIVEN a Parallel whose branches each write into their (shared) input, then a Pass that
    // writes into the Parallel's output
    let def = json!({"StartAt": "P", "States": {
        "P": {"Type": "Parallel", "ResultPath": "$.branches", "Next": "Tag", "Branches": [
            {"StartAt": "A", "States": {"A": {"Type": "Pass", "Result": "a", "ResultPath": "$.mark", "End": true}}},
            {"StartAt": "B", "States": {"B": {"Type": "Pass", "Result": "b", "ResultPath": "$.mark", "End": true}}}
        ]},
        "Tag": {"Type": "Pass", "Result": true, "ResultPath": "$.tagged", "End": true}
    }});
    // WHEN it runs with the default (full) history
    let r = run(def, json!({"n": 1})).await;
    let out = ok(&r).clone();
    // THEN a branch's write is visible neither to its sibling nor in earlier events
    assert_eq!(
        out,
        json!({"n": 1, "branches": [{"n": 1, "mark": "a"}, {"n": 1, "mark": "b"}], "tagged": true})
    );
    let payload = |ty: &str, name: &str, field: &str| -> Value {
        let e = r
            .history
            .iter()
            .find(|e| e.event_type == ty && e.state_name.as_deref() == Some(name))
            .unwrap_or_else(|| panic!("{ty} {name} is in the history"));
        let v = serde_json::to_value(e).expect("events serialize");
        v[field].clone()
    };
    assert_eq!(
        payload("ParallelStateEntered", "P", "input"),
        json!({"n": 1})
    );
    assert_eq!(payload("PassStateEntered", "A", "input"), json!({"n": 1}));
    assert_eq!(
        payload("PassStateExited", "A", "output"),
        json!({"n": 1, "mark": "a"})
    );
    assert_eq!(payload("PassStateEntered", "B", "input"), json!({"n": 1}));
    assert_eq!(
        payload("PassStateEntered", "Tag", "input"),
        json!({"n": 1, "branches": [{"n": 1, "mark": "a"}, {"n": 1, "mark": "b"}]})
    );
    assert_eq!(payload("PassStateExited", "Tag", "output"), out);
    let last = r.history.last().expect("events");
    assert_eq!(last.event_type, "ExecutionSucceeded");
    assert_eq!(last.output.as_deref(), Some(&out));
    // AND lean history keeps the events without payloads
    let sm = StateMachine::from_value(
        json!({"StartAt": "S", "States": {"S": {"Type": "Pass", "End": true}}}),
    )
    .unwrap();
    let lean = Interpreter::new(sm)
        .with_clock(Clock::instant())
        .run(
            json!({"n": 1}),
            ExecutionOptions {
                lean_history: true,
                ..Default::default()
            },
        )
        .await;
    assert!(
        lean.history
            .iter()
            .all(|e| e.input.is_none() && e.output.is_none())
    );
    assert_eq!(lean.output.as_deref(), Some(&json!({"n": 1})));
}

// ---------- Hostile definitions end in errors, not panics ----------

#[tokio::test]
async fn a_zero_interval_with_an_enormous_backoff_rate_retries_without_waiting() {
    // GIVEN a task that always fails, retried with IntervalSeconds 0 and BackoffRate 1e200
    let (tasks, calls) = flaky(u32::MAX, "Boom");
    let def = single(json!({
        "Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:flaky",
        "Retry": [{"ErrorEquals": ["Boom"], "IntervalSeconds": 0, "BackoffRate": 1e200, "MaxAttempts": 5}],
        "End": true
    }));
    // WHEN it runs
    let r = run_with(def, json!({}), tasks).await;
    // THEN every retry happens and the execution fails with the task's error
    assert_eq!(r.status, ExecutionStatus::Failed);
    assert_eq!(r.error.as_deref(), Some("Boom"));
    assert_eq!(calls.load(Ordering::SeqCst), 6);
}

#[tokio::test]
async fn slices_and_ranges_with_huge_steps_stop_instead_of_overflowing() {
    // GIVEN a slice step and an ArrayRange step near i64::MAX
    let def = single(json!({
        "Type": "Pass",
        "Parameters": {
            "slice.$": "$.a[1::9223372036854775807]",
            "range.$": "States.ArrayRange(9223372036854775806, 9223372036854775807, 9223372036854775807)"
        },
        "End": true
    }));
    // WHEN it runs
    let r = run(def, json!({"a": [1, 2, 3]})).await;
    // THEN the slice takes one item and the range stops at the last value it can represent
    assert_eq!(
        ok(&r),
        &json!({"slice": [2], "range": [9223372036854775806i64]})
    );
}

// ---------- Task timeouts ----------

/// A handler that answers after `secs` seconds of (tokio) time.
fn slow(secs: u64) -> TaskRegistry {
    let mut reg = TaskRegistry::new();
    reg.register_fn("slow", move |input, _| async move {
        tokio::time::sleep(std::time::Duration::from_secs(secs)).await;
        Ok(input)
    });
    reg
}

fn timed_task(timeout: u64) -> Value {
    json!({"StartAt": "Call", "States": {
        "Call": {"Type": "Task", "Resource": "slow", "TimeoutSeconds": timeout, "End": true,
                 "Catch": [{"ErrorEquals": ["States.Timeout"], "ResultPath": "$.error", "Next": "TimedOut"}]},
        "TimedOut": {"Type": "Pass", "End": true}
    }})
}

// Paused tokio time: the timer fires deterministically, without waiting for real.
#[tokio::test(start_paused = true)]
async fn a_task_running_past_timeout_seconds_is_states_timeout_even_on_a_virtual_clock() {
    // GIVEN a handler that takes an hour and a 5 s TimeoutSeconds, on the instant clock
    let r = run_with(timed_task(5), json!({"n": 1}), slow(3600)).await;
    // THEN the task times out and the Catch sees States.Timeout
    let out = ok(&r);
    assert_eq!(out["error"]["Error"], "States.Timeout");
    assert!(
        r.history.iter().any(|e| e.kind == EventType::TaskTimedOut),
        "the history records TaskTimedOut"
    );
    // AND a handler inside its timeout is unaffected: waits elsewhere do not count against it
    let r = run_with(timed_task(5), json!({"n": 1}), slow(4)).await;
    assert_eq!(ok(&r), &json!({"n": 1}));
}

#[tokio::test(start_paused = true)]
async fn timeout_seconds_path_and_jsonata_timeouts_come_from_the_input() {
    // GIVEN the timeout read from the input by TimeoutSecondsPath (after InputPath)
    let by_path = json!({"StartAt": "Call", "States": {
        "Call": {"Type": "Task", "Resource": "slow", "InputPath": "$.job",
                 "TimeoutSecondsPath": "$.limit", "End": true}
    }});
    let r = run_with(by_path.clone(), json!({"job": {"limit": 5}}), slow(60)).await;
    assert_eq!(r.error.as_deref(), Some("States.Timeout"));
    let r = run_with(by_path.clone(), json!({"job": {"limit": 120}}), slow(60)).await;
    assert_eq!(ok(&r), &json!({"limit": 120}));
    // A value that is not a positive number, or a missing one, is a runtime error naming it.
    let r = run_with(by_path.clone(), json!({"job": {"limit": -1}}), slow(1)).await;
    assert_eq!(r.error.as_deref(), Some("States.Runtime"));
    assert!(
        r.cause
            .as_deref()
            .unwrap()
            .contains("TimeoutSeconds value '-1'"),
        "{:?}",
        r.cause
    );
    let r = run_with(by_path, json!({"job": {}}), slow(1)).await;
    assert_eq!(r.error.as_deref(), Some("States.Runtime"));
    assert!(
        r.cause.as_deref().unwrap().contains("$.limit"),
        "{:?}",
        r.cause
    );

    // AND in JSONata mode from an expression over $states.input
    let by_jsonata = json!({"QueryLanguage": "JSONata", "StartAt": "Call", "States": {
        "Call": {"Type": "Task", "Resource": "slow",
                 "TimeoutSeconds": "{% $states.input.limit %}", "End": true}
    }});
    let r = run_with(by_jsonata, json!({"limit": 5}), slow(60)).await;
    assert_eq!(r.error.as_deref(), Some("States.Timeout"));
}

#[tokio::test(start_paused = true)]
async fn a_callback_task_lives_on_heartbeats_and_times_out_without_them() {
    let mut reg = TaskRegistry::new();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    reg.register_fn("worker", move |_, ctx| {
        let tx = tx.clone();
        async move {
            tx.send(ctx.task_token.clone().expect("a token is issued"))
                .unwrap();
            Ok(json!(null))
        }
    });
    let def = json!({"StartAt": "Work", "States": {
        "Work": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
                 "Parameters": {"FunctionName": "worker", "Payload": {"token.$": "$$.Task.Token"}},
                 "HeartbeatSeconds": 10,
                 "Catch": [{"ErrorEquals": ["States.HeartbeatTimeout"], "ResultPath": "$.error", "Next": "Silent"}],
                 "End": true},
        "Silent": {"Type": "Pass", "End": true}}});
    let interp = Interpreter::new(StateMachine::from_value(def).unwrap())
        .with_tasks(reg)
        .with_clock(Clock::instant());
    let pause = |s| tokio::time::sleep(std::time::Duration::from_secs(s));

    // GIVEN a worker that beats every 8 s for 32 s, then answers
    let exec = interp.start(json!({}), ExecutionOptions::default());
    let token = rx.recv().await.unwrap();
    assert!(exec.send_task_heartbeat("not-a-token").is_err());
    for _ in 0..4 {
        pause(8).await;
        exec.send_task_heartbeat(&token).unwrap();
    }
    exec.send_task_success(&token, json!({"done": true}))
        .unwrap();
    // THEN the task waited for it: 32 s in all, never 10 s without a beat
    assert_eq!(ok(&exec.wait().await.unwrap()), &json!({"done": true}));

    // GIVEN a worker that goes silent WHEN 10 s pass THEN States.HeartbeatTimeout
    let exec = interp.start(json!({}), ExecutionOptions::default());
    rx.recv().await.unwrap();
    pause(11).await;
    let r = exec.wait().await.unwrap();
    assert_eq!(ok(&r)["error"]["Error"], "States.HeartbeatTimeout");
    assert!(r.history.iter().any(|e| e.kind == EventType::TaskTimedOut));
}
