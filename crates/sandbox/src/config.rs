//! What the twins start with: credentials the clients must present and seeded records.
//!
//! Every default credential is an obviously fake `local-…` value. `Debug` never prints a
//! credential.

use std::fmt;
use std::time::Duration;

/// Configuration of every twin. `SandboxConfig::default()` is ready to use.
#[derive(Clone, Default)]
pub struct SandboxConfig {
    /// Microsoft Graph and the Entra token endpoint.
    pub graph: GraphConfig,
    /// Workday Human_Resources SOAP service.
    pub workday: WorkdayConfig,
    /// ServiceNow instance.
    pub servicenow: ServiceNowConfig,
    /// Jira Service Management site.
    pub jira: JiraConfig,
    /// Slack workspace.
    pub slack: SlackConfig,
}

impl SandboxConfig {
    /// The credentials the twins accept, under the logical secret names of `dayone.toml`
    /// `[secrets]` (`graph_client_secret`, `workday_password`, …). All are local fakes.
    pub fn credentials(&self) -> Vec<(&'static str, String)> {
        vec![
            ("graph_client_secret", self.graph.client_secret.clone()),
            ("workday_password", self.workday.password.clone()),
            ("servicenow_password", self.servicenow.password.clone()),
            ("jira_api_token", self.jira.api_token.clone()),
            ("slack_bot_token", self.slack.bot_token.clone()),
        ]
    }
}

impl fmt::Debug for SandboxConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SandboxConfig")
            .field("graph", &self.graph)
            .field("workday", &self.workday)
            .field("servicenow", &self.servicenow)
            .field("jira", &self.jira)
            .field("slack", &self.slack)
            .finish()
    }
}

/// State of the tenant's Temporary Access Pass policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TapPolicyState {
    /// Passes may be created.
    Enabled,
    /// Every creation fails with the "Converged UserCredentialPolicy" 400.
    Disabled,
}

/// The tenant's `temporaryAccessPass` authentication method configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TapPolicy {
    /// `state`.
    pub state: TapPolicyState,
    /// `minimumLifetimeInMinutes` (Graph allows 10..=43200).
    pub minimum_lifetime_minutes: u32,
    /// `maximumLifetimeInMinutes`.
    pub maximum_lifetime_minutes: u32,
    /// `defaultLifetimeInMinutes`, used when a request omits the lifetime.
    pub default_lifetime_minutes: u32,
    /// `defaultLength` of generated passes (8..=48).
    pub default_length: usize,
    /// `isUsableOnce`: when true every pass is one-time, whatever the request says.
    pub is_usable_once: bool,
}

impl Default for TapPolicy {
    fn default() -> Self {
        Self {
            state: TapPolicyState::Enabled,
            minimum_lifetime_minutes: 60,
            maximum_lifetime_minutes: 480,
            default_lifetime_minutes: 60,
            default_length: 8,
            is_usable_once: false,
        }
    }
}

/// A directory user that exists before any flow runs (managers, the sender mailbox).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeedUser {
    /// `userPrincipalName`.
    pub user_principal_name: String,
    /// `displayName`.
    pub display_name: String,
    /// `employeeId` (Workday worker id), if any.
    pub employee_id: Option<String>,
    /// `mail`; `None` means the user has no mailbox.
    pub mail: Option<String>,
    /// `jobTitle`.
    pub job_title: Option<String>,
}

impl SeedUser {
    /// A user with a mailbox at its UPN.
    pub fn new(upn: &str, display_name: &str, employee_id: Option<&str>) -> Self {
        Self {
            user_principal_name: upn.to_owned(),
            display_name: display_name.to_owned(),
            employee_id: employee_id.map(str::to_owned),
            mail: Some(upn.to_owned()),
            job_title: None,
        }
    }
}

/// Graph twin settings.
#[derive(Clone)]
pub struct GraphConfig {
    /// Tenant id (GUID) accepted in the token path.
    pub tenant_id: String,
    /// Tenant domain also accepted in the token path.
    pub tenant_domain: String,
    /// App registration's client id.
    pub client_id: String,
    /// App registration's client secret.
    pub client_secret: String,
    /// `expires_in` of issued tokens.
    pub token_lifetime: Duration,
    /// Domains a new user's UPN may use. Empty = any domain.
    pub verified_domains: Vec<String>,
    /// Users present from the start.
    pub users: Vec<SeedUser>,
    /// Display names of the groups present from the start.
    pub groups: Vec<String>,
    /// Enterprise applications present from the start: display name and the values of the
    /// app roles users can be assigned (none: default access only).
    pub service_principals: Vec<(String, Vec<String>)>,
    /// TAP policy.
    pub tap_policy: TapPolicy,
}

impl Default for GraphConfig {
    fn default() -> Self {
        Self {
            tenant_id: "00000000-0000-4000-8000-00000000da1e".into(),
            tenant_domain: "contoso.com".into(),
            client_id: "11111111-2222-4333-8444-555555555555".into(),
            client_secret: "local-graph-client-secret".into(),
            token_lifetime: Duration::from_secs(3599),
            verified_domains: vec!["contoso.com".into(), "contoso.onmicrosoft.com".into()],
            users: vec![
                SeedUser {
                    job_title: Some("Engineering Manager".into()),
                    ..SeedUser::new("grace.hopper@contoso.com", "Grace Hopper", Some("20007"))
                },
                SeedUser {
                    job_title: Some("Marketing Director".into()),
                    ..SeedUser::new(
                        "katherine.johnson@contoso.com",
                        "Katherine Johnson",
                        Some("20010"),
                    )
                },
                SeedUser::new("it-onboarding@contoso.com", "IT Onboarding", None),
            ],
            groups: [
                "All Staff",
                "All Employees",
                "Contractors",
                "Interns",
                "Engineering",
                "Marketing",
                "Sales",
                "Finance",
                "GitHub Users",
                "VPN Users",
                "London Office",
                "Berlin Office",
                "Dublin Office",
            ]
            .into_iter()
            .map(String::from)
            .collect(),
            service_principals: Vec::new(),
            tap_policy: TapPolicy::default(),
        }
    }
}

impl fmt::Debug for GraphConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GraphConfig")
            .field("tenant_id", &self.tenant_id)
            .field("tenant_domain", &self.tenant_domain)
            .field("client_id", &self.client_id)
            .field("client_secret", &"[redacted]")
            .field("token_lifetime", &self.token_lifetime)
            .field("verified_domains", &self.verified_domains)
            .field("users", &self.users)
            .field("groups", &self.groups)
            .field("service_principals", &self.service_principals)
            .field("tap_policy", &self.tap_policy)
            .finish()
    }
}

/// Workday twin settings.
#[derive(Clone)]
pub struct WorkdayConfig {
    /// Tenant in `/ccx/service/{tenant}/…`.
    pub tenant: String,
    /// Integration system user, `user@tenant`.
    pub username: String,
    /// Its password (WS-Security PasswordText).
    pub password: String,
    /// `Employee_ID`s / `Contingent_Worker_ID`s that exist.
    pub workers: Vec<String>,
}

impl Default for WorkdayConfig {
    fn default() -> Self {
        Self {
            tenant: "contoso_sandbox".into(),
            username: "ISU_Dayone@contoso_sandbox".into(),
            password: "local-workday-password".into(),
            workers: ["21001", "C-5001", "I-7001", "20007", "20010"]
                .into_iter()
                .map(String::from)
                .collect(),
        }
    }
}

impl fmt::Debug for WorkdayConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WorkdayConfig")
            .field("tenant", &self.tenant)
            .field("username", &self.username)
            .field("password", &"[redacted]")
            .field("workers", &self.workers)
            .finish()
    }
}

/// A Service Catalog item orderable with `order_now`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogItem {
    /// The item's `sys_id`.
    pub sys_id: String,
    /// Its name.
    pub name: String,
}

/// ServiceNow twin settings.
#[derive(Clone)]
pub struct ServiceNowConfig {
    /// Integration user name (Basic auth and the OAuth password grant).
    pub username: String,
    /// Its password.
    pub password: String,
    /// OAuth application client id (for `/oauth_token.do`).
    pub client_id: String,
    /// OAuth application client secret.
    pub client_secret: String,
    /// Orderable catalog items.
    pub catalog_items: Vec<CatalogItem>,
    /// Whether the instance uses two-step checkout (order_now returns a cart).
    pub two_step_checkout: bool,
}

impl Default for ServiceNowConfig {
    fn default() -> Self {
        Self {
            username: "dayone.integration".into(),
            password: "local-servicenow-password".into(),
            client_id: "local-servicenow-client-id".into(),
            client_secret: "local-servicenow-client-secret".into(),
            catalog_items: vec![
                CatalogItem {
                    sys_id: "04b7e94b4f7b4200086eeed18110c7fd".into(),
                    name: "Standard Laptop".into(),
                },
                CatalogItem {
                    sys_id: "774906834fbb4200086eeed18110c737".into(),
                    name: "Developer Laptop (Mac)".into(),
                },
                CatalogItem {
                    sys_id: "e8d1c5f34f334200086eeed18110c7a2".into(),
                    name: "Sales Laptop".into(),
                },
            ],
            two_step_checkout: false,
        }
    }
}

impl fmt::Debug for ServiceNowConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceNowConfig")
            .field("username", &self.username)
            .field("password", &"[redacted]")
            .field("client_id", &self.client_id)
            .field("client_secret", &"[redacted]")
            .field("catalog_items", &self.catalog_items)
            .field("two_step_checkout", &self.two_step_checkout)
            .finish()
    }
}

/// A Jira service desk and the request types it offers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceDesk {
    /// `serviceDeskId`.
    pub id: String,
    /// Project key used in issue keys (`HELPDESK-1`).
    pub project_key: String,
    /// `requestTypeId`s with their names.
    pub request_types: Vec<(String, String)>,
}

/// Jira Service Management twin settings.
#[derive(Clone)]
pub struct JiraConfig {
    /// Atlassian account email of the bot.
    pub email: String,
    /// Its API token.
    pub api_token: String,
    /// Service desks.
    pub service_desks: Vec<ServiceDesk>,
}

impl Default for JiraConfig {
    fn default() -> Self {
        Self {
            email: "dayone-bot@contoso.com".into(),
            api_token: "local-jira-api-token".into(),
            service_desks: vec![ServiceDesk {
                id: "10".into(),
                project_key: "HELPDESK".into(),
                request_types: vec![
                    ("25".into(), "Request new hardware".into()),
                    ("26".into(), "Get IT help".into()),
                ],
            }],
        }
    }
}

impl fmt::Debug for JiraConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JiraConfig")
            .field("email", &self.email)
            .field("api_token", &"[redacted]")
            .field("service_desks", &self.service_desks)
            .finish()
    }
}

/// A Slack workspace member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlackUser {
    /// Member id (`U…`).
    pub id: String,
    /// Profile email.
    pub email: String,
    /// Real name.
    pub real_name: String,
}

/// A public channel the bot is a member of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlackChannel {
    /// Channel id (`C…`).
    pub id: String,
    /// Channel name without `#`.
    pub name: String,
}

/// Slack twin settings.
#[derive(Clone)]
pub struct SlackConfig {
    /// Bot token (`xoxb-…`).
    pub bot_token: String,
    /// Workspace members.
    pub users: Vec<SlackUser>,
    /// Channels the bot may post in.
    pub channels: Vec<SlackChannel>,
}

impl Default for SlackConfig {
    fn default() -> Self {
        Self {
            bot_token: "xoxb-local-sandbox-bot-token".into(),
            users: vec![
                SlackUser {
                    id: "U0GRACEHOP".into(),
                    email: "grace.hopper@contoso.com".into(),
                    real_name: "Grace Hopper".into(),
                },
                SlackUser {
                    id: "U0KJOHNSON".into(),
                    email: "katherine.johnson@contoso.com".into(),
                    real_name: "Katherine Johnson".into(),
                },
            ],
            channels: vec![SlackChannel {
                id: "C0ITJOINER".into(),
                name: "it-joiners".into(),
            }],
        }
    }
}

impl fmt::Debug for SlackConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SlackConfig")
            .field("bot_token", &"[redacted]")
            .field("users", &self.users)
            .field("channels", &self.channels)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_never_shows_a_credential() {
        let text = format!("{:?}", SandboxConfig::default());
        for secret in [
            "local-graph-client-secret",
            "local-workday-password",
            "local-servicenow-password",
            "local-servicenow-client-secret",
            "local-jira-api-token",
            "xoxb-local-sandbox-bot-token",
        ] {
            assert!(!text.contains(secret), "{secret} leaked into Debug");
        }
        assert!(text.contains("[redacted]"));
    }
}
