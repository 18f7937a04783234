//! **create-account**: the new hire's Entra ID account, with their manager and birthright groups.
//!
//! In: `{executionId, hire, names}` (the hire and the names AllocateUsername reserved).
//! Out: `{userId, upn, groups, apps, created, issueTapAt}` ([`CreateAccountOutput`]).
//!
//! What it does, in order, each part safe to repeat:
//! 1. Creates the user from the allocated names (UPN, mail nickname, display name), the hire
//!    (given name, surname, employeeId = workerId, employeeHireDate, department, job title,
//!    usageLocation = country) and a strong random password nobody ever sees
//!    ([`password::InitialPassword`]). The connector looks the worker up by `employeeId`
//!    first, so a re-run finds the account instead of creating a second one (`created: false`).
//! 2. Sets the manager, found by `managerWorkerId` (their `employeeId`) or else `managerEmail`.
//!    A manager who is not in the directory is logged and skipped: the account matters more on
//!    Day 1 than the reporting line, which HR sync fixes later.
//! 3. Evaluates the `[[birthright.rules]]` CEL conditions over the hire and adds the user to
//!    every granted group (names resolved to ids; an id is used as is). Already a member is
//!    success, so a re-run adds nothing.
//! 4. Grants every birthright app: the enterprise application (service principal, by display
//!    name or object id) and its role: the one `[birthright.app_roles]` names, else the app's
//!    only user role, else default access when the app defines none. A role already held is
//!    success.
//! 5. Tells the state machine when to issue the TAP (`issueTapAt`, from `[tap]`).
//!
//! Errors: Graph failures keep the connector's name (`Dayone.Throttled`, `Dayone.Retryable`,
//! `Dayone.Unauthorized`, `Dayone.TargetRejected` for a UPN held by someone else,
//! `Dayone.EgressDenied`); a missing group or app, an ambiguous or unknown app role, a missing
//! target or a bad rule is `Dayone.Misconfigured`.
//!
//! The password never leaves this process except in the one create request: it is not logged,
//! not returned, not in an error.

pub mod error;
pub mod password;

use chrono::{DateTime, NaiveTime, Utc};
use dayone_connectors::{
    Assignment, DEFAULT_ACCESS_ROLE, GraphClient, GraphUser, Membership, NewUser, ServicePrincipal,
    UserFilter,
};
use dayone_core::{AllocatedNames, Birthright, HireEvent};
use dayone_sdk::audit::AuditEvent;
use dayone_sdk::context::StepContext;
use dayone_sdk::error::StepError;
use serde::{Deserialize, Serialize};
use serde_json::json;

pub use error::CreateAccountError;
use password::InitialPassword;

const ACTOR: &str = "step:create-account";

/// The payload Step Functions sends.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateAccountInput {
    pub execution_id: String,
    pub hire: HireEvent,
    pub names: AllocatedNames,
}

/// What the step returns (see `state-machines/README.md`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateAccountOutput {
    /// Entra object id.
    pub user_id: String,
    /// userPrincipalName as created or found.
    pub upn: String,
    /// Ids of the birthright groups the user is a member of.
    pub groups: Vec<String>,
    /// Service principal ids of the birthright apps the user is assigned to.
    pub apps: Vec<String>,
    /// `false` when a re-run found the account by employeeId.
    pub created: bool,
    /// When the state machine should issue the TAP; `None` (JSON `null`) issues it at once.
    pub issue_tap_at: Option<DateTime<Utc>>,
}

/// The Lambda handler: builds the Graph client from the context and runs the step.
pub async fn handle(
    ctx: &StepContext,
    input: CreateAccountInput,
) -> Result<CreateAccountOutput, StepError> {
    let graph = graph_client(ctx)?;
    create_account(ctx, &graph, input).await
}

/// The Graph client for this step, from `[targets]` and the context's secrets and egress.
pub fn graph_client(ctx: &StepContext) -> Result<GraphClient, StepError> {
    let settings = issue_tap::targets::graph_settings(&ctx.config.targets)
        .map_err(|key| CreateAccountError::MissingTarget { key })?;
    Ok(GraphClient::new(
        ctx.http.clone(),
        ctx.secrets.clone(),
        settings,
    ))
}

/// The step itself, with the Graph client given (so `main.rs` can keep one across invocations
/// and its token cache warm).
pub async fn create_account(
    ctx: &StepContext,
    graph: &GraphClient,
    input: CreateAccountInput,
) -> Result<CreateAccountOutput, StepError> {
    let CreateAccountInput {
        execution_id,
        hire,
        names,
    } = input;
    let config = &ctx.config;

    // Evaluate the rules before touching the directory: a broken rule should not leave a
    // half-provisioned account behind.
    let birthright =
        Birthright::from_config(&config.birthright).map_err(CreateAccountError::from)?;
    let grants = birthright
        .evaluate(&hire)
        .map_err(CreateAccountError::from)?;
    let wanted_groups: Vec<String> = Birthright::groups(&grants)
        .into_iter()
        .map(str::to_string)
        .collect();
    let apps: Vec<String> = grants.iter().flat_map(|g| g.apps.clone()).collect();

    let new_user = new_user(&hire, &names, config.username.prefer_preferred_name)?;
    let outcome = graph
        .create_user(&new_user)
        .await
        .map_err(CreateAccountError::from)?;
    drop(new_user); // the password goes with it
    let user = outcome.user;
    let upn = user
        .user_principal_name
        .clone()
        .unwrap_or_else(|| names.upn.clone());
    tracing::info!(
        user_id = %user.id,
        upn = %upn,
        created = outcome.created,
        "account ready"
    );
    ctx.audit(
        AuditEvent::new(ACTOR, "account.create", &upn)
            .outcome(if outcome.created {
                AuditEvent::SUCCESS
            } else {
                AuditEvent::SKIPPED
            })
            .details(json!({
                "executionId": execution_id,
                "userId": user.id,
                "employeeId": hire.worker_id.as_str(),
                "created": outcome.created,
            })),
    );

    set_manager(ctx, graph, &hire, &user, &execution_id).await?;

    let mut group_ids = Vec::with_capacity(wanted_groups.len());
    for group in &wanted_groups {
        let id = resolve_group(graph, group).await?;
        let membership = graph
            .add_group_member(&id, &user.id)
            .await
            .map_err(CreateAccountError::from)?;
        tracing::info!(group = %group, group_id = %id, ?membership, "birthright group");
        ctx.audit(
            AuditEvent::new(ACTOR, "group.add_member", &upn)
                .outcome(match membership {
                    Membership::Added => AuditEvent::SUCCESS,
                    Membership::AlreadyMember => AuditEvent::SKIPPED,
                })
                .details(json!({"executionId": execution_id, "group": group, "groupId": id})),
        );
        group_ids.push(id);
    }
    let mut app_ids = Vec::with_capacity(apps.len());
    // What the user already holds, read once (a re-run finds every grant here).
    let held = if apps.is_empty() {
        Vec::new()
    } else {
        graph
            .app_role_assignments(&user.id)
            .await
            .map_err(CreateAccountError::from)?
    };
    for app in &apps {
        let sp = resolve_app(graph, app).await?;
        let role = app_role(&sp, app, config.birthright.app_roles.get(app))?;
        let assignment = if held.iter().any(|h| h.is(&sp.id, &role)) {
            Assignment::AlreadyAssigned
        } else {
            graph
                .grant_app_role(&user.id, &sp.id, &role)
                .await
                .map_err(CreateAccountError::from)?
        };
        tracing::info!(app = %app, service_principal = %sp.id, app_role = %role, ?assignment, "birthright app");
        ctx.audit(
            AuditEvent::new(ACTOR, "app.assign", &upn)
                .outcome(match assignment {
                    Assignment::Assigned => AuditEvent::SUCCESS,
                    Assignment::AlreadyAssigned => AuditEvent::SKIPPED,
                })
                .details(json!({
                    "executionId": execution_id,
                    "app": app,
                    "servicePrincipalId": sp.id,
                    "appRoleId": role,
                })),
        );
        app_ids.push(sp.id);
    }

    let issue_tap_at = issue_tap::schedule::issue_tap_at(&config.tap, &hire);
    Ok(CreateAccountOutput {
        user_id: user.id,
        upn,
        groups: group_ids,
        apps: app_ids,
        created: outcome.created,
        issue_tap_at,
    })
}

/// The Graph user to create. Names come from the ledger; everything else from the hire.
fn new_user(
    hire: &HireEvent,
    names: &AllocatedNames,
    prefer_preferred_name: bool,
) -> Result<NewUser, CreateAccountError> {
    let mail_nickname = names
        .mail
        .split_once('@')
        .map(|(local, _)| local)
        .filter(|local| !local.is_empty())
        .unwrap_or(&names.sam_account_name)
        .to_string();
    if names.upn.is_empty() || !names.upn.contains('@') {
        return Err(CreateAccountError::Names(format!(
            "upn '{}' is not a user principal name (local@domain)",
            names.upn
        )));
    }
    let preferred = hire
        .preferred_name
        .as_ref()
        .filter(|_| prefer_preferred_name);
    let given_name = preferred
        .and_then(|p| p.first.as_ref())
        .unwrap_or(&hire.legal_name.first)
        .to_string();
    let surname = preferred
        .and_then(|p| p.last.as_ref())
        .unwrap_or(&hire.legal_name.last)
        .to_string();
    let password = InitialPassword::generate();
    Ok(NewUser {
        account_enabled: true,
        display_name: names.display_name.clone(),
        mail_nickname,
        user_principal_name: names.upn.clone(),
        password: dayone_sdk::secrets::SecretString::new(password.expose()),
        force_change_password_next_sign_in: true,
        employee_id: Some(hire.worker_id.to_string()),
        // Midnight UTC of the first day: Entra stores a DateTimeOffset and lifecycle workflows
        // compare dates, so the date must not slip to the day before in any time zone view
        // that matters to those workflows (they run in UTC).
        employee_hire_date: Some(hire.hire_date.and_time(NaiveTime::MIN).and_utc()),
        given_name: Some(given_name),
        surname: Some(surname),
        department: Some(hire.department.to_string()),
        job_title: hire.job_title.as_ref().map(ToString::to_string),
        usage_location: Some(hire.country.to_string()),
    })
}

/// Finds the manager and links them. Not finding them is logged, not fatal (see module docs).
async fn set_manager(
    ctx: &StepContext,
    graph: &GraphClient,
    hire: &HireEvent,
    user: &GraphUser,
    execution_id: &str,
) -> Result<(), StepError> {
    if hire.manager_worker_id.is_none() && hire.manager_email.is_none() {
        return Ok(());
    }
    let manager = find_manager(graph, hire).await?;
    let Some(manager) = manager else {
        tracing::warn!(
            manager_worker_id = hire.manager_worker_id.as_deref().unwrap_or(""),
            manager_email = hire.manager_email.as_deref().unwrap_or(""),
            "manager not found in Entra ID; the account is created without one"
        );
        ctx.audit(
            AuditEvent::new(ACTOR, "account.set_manager", user.id.as_str())
                .skipped()
                .details(json!({"executionId": execution_id, "reason": "manager not found"})),
        );
        return Ok(());
    };
    if manager.id == user.id {
        // HR data naming the hire as their own manager; Graph would refuse it anyway.
        tracing::warn!("the hire is named as their own manager; not set");
        return Ok(());
    }
    graph
        .set_manager(&user.id, &manager.id)
        .await
        .map_err(CreateAccountError::from)?;
    ctx.audit(
        AuditEvent::new(ACTOR, "account.set_manager", user.id.as_str())
            .details(json!({"executionId": execution_id, "managerId": manager.id})),
    );
    Ok(())
}

/// The manager by worker id (their `employeeId`), else by mail, else by UPN = email.
pub async fn find_manager(
    graph: &GraphClient,
    hire: &HireEvent,
) -> Result<Option<GraphUser>, StepError> {
    if let Some(worker) = &hire.manager_worker_id
        && let Some(found) = graph
            .find_user_by_employee_id(worker)
            .await
            .map_err(CreateAccountError::from)?
    {
        return Ok(Some(found));
    }
    if let Some(email) = &hire.manager_email {
        let by_mail = graph
            .query_users(&UserFilter::MailEq(email.to_string()))
            .await
            .map_err(CreateAccountError::from)?;
        if let Some(found) = by_mail.into_iter().next() {
            return Ok(Some(found));
        }
        return Ok(graph
            .get_user(email)
            .await
            .map_err(CreateAccountError::from)?);
    }
    Ok(None)
}

/// A group's object id: used as is when the rule names an id, else looked up by display name.
async fn resolve_group(graph: &GraphClient, group: &str) -> Result<String, StepError> {
    if looks_like_object_id(group) {
        return Ok(group.to_ascii_lowercase());
    }
    match graph
        .find_group_by_display_name(group)
        .await
        .map_err(CreateAccountError::from)?
    {
        Some(g) => Ok(g.id),
        None => Err(CreateAccountError::GroupNotFound {
            group: group.to_string(),
        }
        .into()),
    }
}

/// The enterprise application a birthright app names: an object id, or a display name.
async fn resolve_app(graph: &GraphClient, app: &str) -> Result<ServicePrincipal, StepError> {
    let found = if looks_like_object_id(app) {
        graph.get_service_principal(app).await
    } else {
        graph.find_service_principal_by_display_name(app).await
    };
    found.map_err(CreateAccountError::from)?.ok_or_else(|| {
        CreateAccountError::AppNotFound {
            app: app.to_string(),
        }
        .into()
    })
}

/// The app role id to grant for `app`: the configured one (by value, display name or id),
/// else the app's only role users can hold, else default access when it defines none.
fn app_role(
    sp: &ServicePrincipal,
    app: &str,
    configured: Option<&String>,
) -> Result<String, CreateAccountError> {
    let for_users: Vec<_> = sp
        .app_roles
        .iter()
        .filter(|r| r.assignable_to_users())
        .collect();
    let label = |r: &dayone_connectors::AppRole| {
        r.value
            .clone()
            .or_else(|| r.display_name.clone())
            .unwrap_or_else(|| r.id.clone())
    };
    let known = || for_users.iter().map(|r| label(r)).collect::<Vec<_>>();
    match configured {
        Some(want) => for_users
            .iter()
            .find(|r| {
                r.id.eq_ignore_ascii_case(want)
                    || r.value.as_deref() == Some(want.as_str())
                    || r.display_name.as_deref() == Some(want.as_str())
            })
            .map(|r| r.id.clone())
            .ok_or_else(|| CreateAccountError::AppRole {
                app: app.to_string(),
                problem: format!(
                    "has no role '{want}' that users can hold (it has: {})",
                    list_or_none(&known())
                ),
            }),
        None => match for_users.as_slice() {
            [] => Ok(DEFAULT_ACCESS_ROLE.to_string()),
            [only] => Ok(only.id.clone()),
            _ => Err(CreateAccountError::AppRole {
                app: app.to_string(),
                problem: format!(
                    "defines several roles users can hold ({}); choose one in [birthright.app_roles]",
                    known().join(", ")
                ),
            }),
        },
    }
}

fn list_or_none(items: &[String]) -> String {
    if items.is_empty() {
        "none; leave it out of [birthright.app_roles] for default access".into()
    } else {
        items.join(", ")
    }
}

/// `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx` (a directory object id).
fn looks_like_object_id(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() == 5
        && parts
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(p, n)| p.len() == n && p.bytes().all(|b| b.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hire(extra: &str) -> HireEvent {
        HireEvent::parse(&format!(
            r#"{{"eventId":"EVT-1","workerId":"21001","workerType":"employee",
                "legalName":{{"first":"Ada","middle":"Augusta","last":"Lovelace"}},
                "hireDate":"2026-12-01","department":"Engineering","country":"GB"{extra}}}"#
        ))
        .unwrap()
    }

    fn names() -> AllocatedNames {
        AllocatedNames {
            sam_account_name: "alovelace".into(),
            upn: "alovelace@contoso.com".into(),
            mail: "ada.lovelace@contoso.com".into(),
            display_name: "Ada Lovelace".into(),
            cn: "Ada Lovelace".into(),
        }
    }

    #[test]
    fn the_new_user_carries_the_hire_and_the_allocated_names() {
        let u = new_user(
            &hire(r#","jobTitle":"Software Engineer","preferredName":{"first":"Addie"}"#),
            &names(),
            true,
        )
        .unwrap();
        assert_eq!(u.user_principal_name, "alovelace@contoso.com");
        assert_eq!(u.mail_nickname, "ada.lovelace");
        assert_eq!(u.display_name, "Ada Lovelace");
        assert_eq!(u.given_name.as_deref(), Some("Addie"));
        assert_eq!(u.surname.as_deref(), Some("Lovelace"));
        assert_eq!(u.employee_id.as_deref(), Some("21001"));
        assert_eq!(u.usage_location.as_deref(), Some("GB"));
        assert_eq!(u.job_title.as_deref(), Some("Software Engineer"));
        assert_eq!(
            u.employee_hire_date.unwrap().to_rfc3339(),
            "2026-12-01T00:00:00+00:00"
        );
        assert!(u.force_change_password_next_sign_in);
        assert!(u.account_enabled);
        assert!(!format!("{u:?}").contains(u.password.expose()));
    }

    #[test]
    fn legal_names_are_used_when_preferred_names_are_off() {
        let u = new_user(
            &hire(r#","preferredName":{"first":"Addie"}"#),
            &names(),
            false,
        )
        .unwrap();
        assert_eq!(u.given_name.as_deref(), Some("Ada"));
    }

    #[test]
    fn a_upn_without_a_domain_is_refused() {
        let mut n = names();
        n.upn = "alovelace".into();
        let err = new_user(&hire(""), &n, true).unwrap_err();
        assert_eq!(
            StepError::from(err).name,
            dayone_sdk::error::StepErrorName::InvalidHire
        );
    }

    #[test]
    fn object_ids_are_recognised_and_names_are_not() {
        assert!(looks_like_object_id("3f2504e0-4f89-41d3-9a0c-0305e82c3301"));
        assert!(!looks_like_object_id("VPN Users"));
        assert!(!looks_like_object_id("3f2504e0-4f89-41d3-9a0c-0305e82c330"));
    }
}
