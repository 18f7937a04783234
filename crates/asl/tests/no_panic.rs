//! Property test: wrong definitions and inputs never panic the parser or the interpreter.

use dayone_asl::{Clock, EventType, ExecutionOptions, ExecutionStatus, Interpreter, StateMachine};
use proptest::prelude::*;
use serde_json::{Value, json};

/// A seed machine touching most features, which the strategies then mutate.
fn seed() -> Value {
    json!({"StartAt": "A", "States": {
        "A": {"Type": "Pass", "Parameters": {"x.$": "$.a", "f.$": "States.Format('{}', $.b)"}, "ResultPath": "$.p", "Next": "C"},
        "C": {"Type": "Choice", "Choices": [{"Variable": "$.p.x", "NumericGreaterThan": 1, "Next": "M"}], "Default": "W"},
        "W": {"Type": "Wait", "SecondsPath": "$.a", "Next": "M"},
        "M": {"Type": "Map", "ItemsPath": "$.items", "ItemProcessor": {"StartAt": "I", "States": {"I": {"Type": "Pass", "End": true}}}, "ResultPath": "$.mapped", "Next": "P"},
        "P": {"Type": "Parallel", "Branches": [{"StartAt": "B", "States": {"B": {"Type": "Fail", "Error": "E"}}}],
              "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.err", "Next": "J"}], "Next": "J"},
        "J": {"Type": "Pass", "QueryLanguage": "JSONata", "Output": "{% $states.input.a + 1 %}", "End": true}
    }})
}

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i32>().prop_map(|n| json!(n)),
        (-1.0e6f64..1.0e6).prop_map(|f| json!(f)),
        "[a-z$.\\[\\]*'(){}%, 0-9]{0,16}".prop_map(Value::String),
        prop_oneof![
            Just("$"),
            Just("$.a"),
            Just("$$.Map.Item.Value"),
            Just("$.items[*]"),
            Just("States.Array($)"),
            Just("States.MathAdd($.a, 1)"),
            Just("{% $states.input %}"),
            Just("{% $x.y( %}"),
            Just("$["),
            Just("States.Format('{}{}', 1)"),
            Just("States.StringToJson($.b)"),
            Just("A"),
            Just("Nowhere"),
        ]
        .prop_map(|s| Value::String(s.to_string())),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec(
                (
                    prop_oneof![
                        Just("a".to_string()),
                        Just("b".to_string()),
                        Just("items".to_string()),
                        "[a-z]{1,3}"
                    ],
                    inner
                ),
                0..4
            )
            .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

const FIELDS: &[&str] = &[
    "Type",
    "Next",
    "End",
    "InputPath",
    "OutputPath",
    "ResultPath",
    "Parameters",
    "Result",
    "ResultSelector",
    "Choices",
    "Default",
    "Seconds",
    "SecondsPath",
    "Timestamp",
    "ItemsPath",
    "MaxConcurrency",
    "Branches",
    "ItemProcessor",
    "Retry",
    "Catch",
    "Error",
    "Cause",
    "Assign",
    "Output",
    "Arguments",
    "QueryLanguage",
    "Items",
    "ItemSelector",
    "ToleratedFailureCount",
];
const STATES: &[&str] = &["A", "C", "W", "M", "P", "J"];

/// Sets `field` of state `state` in the seed to `value` (or removes it).
fn mutate(mut def: Value, edits: Vec<(usize, usize, Option<Value>)>) -> Value {
    for (s, f, v) in edits {
        let st = &mut def["States"][STATES[s % STATES.len()]];
        let field = FIELDS[f % FIELDS.len()];
        if let Some(o) = st.as_object_mut() {
            match v {
                Some(v) => {
                    o.insert(field.to_string(), v);
                }
                None => {
                    o.remove(field);
                }
            }
        }
    }
    def
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, .. ProptestConfig::default() })]

    #[test]
    fn mutated_definitions_and_inputs_never_panic(
        edits in prop::collection::vec((0usize..6, 0usize..29, prop::option::of(json_value())), 0..4),
        input in json_value(),
    ) {
        let def = mutate(seed(), edits);
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        if let Ok(sm) = StateMachine::from_value(def) {
            let r = rt.block_on(
                Interpreter::new(sm).with_clock(Clock::instant()).run(input, ExecutionOptions::default()),
            );
            // Whatever happened, the execution ended cleanly: output iff success, and the
            // history closes with the matching terminal event.
            let succeeded = r.status == ExecutionStatus::Succeeded;
            prop_assert_eq!(r.output.is_some(), succeeded);
            let last = r.history.last().map(|e| e.kind);
            let want = if succeeded { EventType::ExecutionSucceeded } else { EventType::ExecutionFailed };
            prop_assert_eq!(last, Some(want));
        }
    }

    #[test]
    fn arbitrary_text_never_panics_the_parser(text in ".{0,200}") {
        let _ = StateMachine::parse(&text);
    }

    #[test]
    fn arbitrary_json_never_panics_the_parser(v in json_value()) {
        let _ = StateMachine::from_value(json!({"StartAt": "A", "States": {"A": v}}));
    }
}

#[test]
fn the_seed_machine_is_valid_and_runs() {
    // The mutations start from a machine that works, so the property explores execution too.
    let sm = StateMachine::from_value(seed()).expect("the seed is a valid machine");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let r = rt.block_on(Interpreter::new(sm).with_clock(Clock::instant()).run(
        json!({"a": 2, "b": "x", "items": [1, 2]}),
        ExecutionOptions::default(),
    ));
    assert_eq!(
        r.status,
        ExecutionStatus::Succeeded,
        "{:?} {:?}",
        r.error,
        r.cause
    );
    assert_eq!(r.output.as_deref(), Some(&json!(3)));
}
