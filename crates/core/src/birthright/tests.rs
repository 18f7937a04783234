use super::*;
use crate::config::Config;
use serde_json::json;

fn contoso() -> Birthright {
    let cfg = Config::from_toml_str(include_str!("../../../../dayone.toml")).unwrap();
    Birthright::from_config(&cfg.birthright).unwrap()
}

fn hire(
    worker_type: &str,
    department: &str,
    location: Option<&str>,
    cost_center: Option<&str>,
    country: &str,
) -> HireEvent {
    HireEvent::from_value(json!({
        "eventId": "E", "workerId": "W", "workerType": worker_type,
        "legalName": {"first": "Ana", "last": "Silva"}, "hireDate": "2026-03-02",
        "department": department, "location": location, "costCenter": cost_center, "country": country
    }))
    .unwrap()
}

fn groups(b: &Birthright, h: &HireEvent) -> Vec<String> {
    Birthright::groups(&b.evaluate(h).unwrap())
        .into_iter()
        .map(str::to_string)
        .collect()
}

#[test]
fn an_employee_gets_vpn_and_the_all_staff_groups() {
    let b = contoso();
    let grants = b
        .evaluate(&hire("employee", "Sales", Some("Paris"), None, "FR"))
        .unwrap();
    let rules: Vec<&str> = grants.iter().map(|g| g.rule.as_str()).collect();
    assert_eq!(
        rules,
        ["all-staff", "employees", "department", "eu-data-protection"]
    );
    assert_eq!(
        Birthright::groups(&grants),
        [
            "all-staff",
            "country-fr",
            "employees",
            "vpn-users",
            "dept-sales",
            "dept-sales-paris",
            "gdpr-training"
        ]
    );
    assert_eq!(grants[0].apps, ["Microsoft 365", "Slack"]);
}

#[test]
fn a_contractor_never_gets_the_vpn_group() {
    let g = groups(
        &contoso(),
        &hire("contractor", "Engineering", Some("Berlin"), None, "DE"),
    );
    assert!(!g.iter().any(|x| x == "vpn-users"), "{g:?}");
    assert!(g.contains(&"contractors".to_string()));
    assert!(
        !g.contains(&"eng-berlin-lab".to_string()),
        "the lab rule excludes contractors"
    );
}

#[test]
fn an_intern_gets_the_intern_groups_only() {
    let g = groups(&contoso(), &hire("intern", "Design", None, None, "US"));
    assert_eq!(
        g,
        ["all-staff", "country-us", "interns", "mentoring-program"]
    );
}

#[test]
fn department_location_and_cost_center_combine() {
    let b = contoso();
    let g = groups(
        &b,
        &hire(
            "employee",
            "Engineering",
            Some("Berlin"),
            Some("CC-4100"),
            "DE",
        ),
    );
    for want in [
        "eng-berlin-lab",
        "github-contoso",
        "dept-engineering-berlin",
        "finance-systems",
        "cc-cc-4100",
    ] {
        assert!(g.contains(&want.to_string()), "{want} missing from {g:?}");
    }
    let g = groups(
        &b,
        &hire(
            "employee",
            "Engineering",
            Some("Munich"),
            Some("CC-1000"),
            "DE",
        ),
    );
    assert!(!g.contains(&"eng-berlin-lab".to_string()));
    assert!(!g.contains(&"finance-systems".to_string()));
    assert!(g.contains(&"dept-engineering-munich".to_string()));
}

#[test]
fn groups_are_deduplicated_across_rules_in_a_stable_order() {
    let cfg: BirthrightConfig = toml::from_str(
        r#"
        [[rules]]
        name = "a"
        groups = ["shared", "a-only"]
        apps = ["Slack"]
        [[rules]]
        name = "b"
        when = 'hire.country == "DE"'
        groups = ["b-only", "shared"]
        apps = ["Slack", "Jira"]
        "#,
    )
    .unwrap();
    let b = Birthright::from_config(&cfg).unwrap();
    let grants = b
        .evaluate(&hire("employee", "Ops", None, None, "DE"))
        .unwrap();
    assert_eq!(grants[0].groups, ["shared", "a-only"]);
    assert_eq!(grants[1].groups, ["b-only"]);
    assert_eq!(grants[1].apps, ["Jira"]);
    assert_eq!(
        b.evaluate(&hire("employee", "Ops", None, None, "DE"))
            .unwrap(),
        grants
    );
}

#[test]
fn template_values_from_hr_are_sanitised() {
    let cfg: BirthrightConfig = toml::from_str(
        r#"
        [[rules]]
        name = "dept"
        groups = ["dept-{department}-{location}"]
        "#,
    )
    .unwrap();
    let b = Birthright::from_config(&cfg).unwrap();
    let g = groups(
        &b,
        &hire(
            "employee",
            "R&D / Ops')(cn=*",
            Some("São Paulo"),
            None,
            "BR",
        ),
    );
    assert_eq!(g, ["dept-r-d-ops-cn-sao-paulo"]);
}

#[test]
fn a_template_needing_an_absent_field_says_how_to_guard_it() {
    let cfg: BirthrightConfig =
        toml::from_str("[[rules]]\nname = \"loc\"\ngroups = [\"site-{location}\"]\n").unwrap();
    let b = Birthright::from_config(&cfg).unwrap();
    let err = b
        .evaluate(&hire("employee", "Ops", None, None, "DE"))
        .unwrap_err();
    assert!(err.to_string().contains("hire.location != null"), "{err}");
    assert_eq!(err.step_error_name().as_str(), "Dayone.Misconfigured");
}

#[test]
fn a_condition_that_is_not_boolean_for_some_hire_is_a_clear_rule_error() {
    // Boolean for the sample hire (which has a cost center), null for this one.
    let cfg: BirthrightConfig = toml::from_str(
        "[[rules]]\nname = \"cc\"\nwhen = 'hire.costCenter != null ? hire.costCenter == \"CC-1\" : hire.costCenter'\n",
    )
    .unwrap();
    let b = Birthright::from_config(&cfg).unwrap();
    let err = b
        .evaluate(&hire("employee", "Ops", None, None, "DE"))
        .unwrap_err();
    assert!(
        matches!(err, RuleError::NotBoolean { ref rule, .. } if rule == "cc"),
        "{err}"
    );
    assert!(err.to_string().contains("null"), "{err}");
}

#[test]
fn config_errors_name_the_rule() {
    for (toml, want) in [
        (
            "[[rules]]\nname = \"x\"\nwhen = 'hire.country ==='\n",
            "`x`",
        ),
        (
            "[[rules]]\nname = \"y\"\ngroups = [\"dept-{dept}\"]\n",
            "{dept}",
        ),
        (
            "[[rules]]\nname = \"z\"\n[[rules]]\nname = \"z\"\n",
            "unique",
        ),
        ("[[rules]]\nname = \"w\"\nwhen = '1 + 1'\n", "true or false"),
    ] {
        let cfg: BirthrightConfig = toml::from_str(toml).unwrap();
        let e = Birthright::from_config(&cfg).unwrap_err().to_string();
        assert!(e.contains(want), "{toml}: {e}");
    }
}

#[test]
fn conditions_see_nested_names_and_lists() {
    let cfg: BirthrightConfig = toml::from_str(
        r#"
        [[rules]]
        name = "eu-eng"
        when = 'hire.country in ["DE", "FR"] && hire.legalName.first.startsWith("A") && hire.preferredName == null'
        groups = ["eu-eng"]
        "#,
    )
    .unwrap();
    let b = Birthright::from_config(&cfg).unwrap();
    assert_eq!(
        groups(&b, &hire("employee", "Eng", None, None, "FR")),
        ["eu-eng"]
    );
    assert!(groups(&b, &hire("employee", "Eng", None, None, "US")).is_empty());
}

#[test]
fn app_roles_must_name_a_granted_app_and_a_role() {
    let parse = |extra: &str| -> Result<Birthright, crate::error::ConfigError> {
        let cfg: BirthrightConfig = toml::from_str(&format!(
            r#"
            [[rules]]
            name = "all"
            apps = ["SAP"]
            {extra}
            "#
        ))
        .unwrap();
        Birthright::from_config(&cfg)
    };
    parse("[app_roles]\nSAP = \"FinanceUser\"").unwrap();
    let typo = parse("[app_roles]\nSPA = \"FinanceUser\"").unwrap_err();
    assert!(
        typo.to_string().contains("birthright.app_roles.SPA"),
        "{typo}"
    );
    assert!(
        typo.to_string().contains("no [[birthright.rules]] grants"),
        "{typo}"
    );
    let empty = parse("[app_roles]\nSAP = \" \"").unwrap_err();
    assert!(empty.to_string().contains("is empty"), "{empty}");
}
