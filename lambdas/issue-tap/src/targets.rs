//! `[targets]` → connector settings for the clients this step (and create-account) use.
//!
//! Secrets are referred to by their logical names in `[secrets]`; the context's secret store
//! resolves a logical name to the Secrets Manager id (AWS) or local key.

use dayone_connectors::{GraphSettings, SlackSettings};
use dayone_core::config::TargetsConfig;

/// Logical name of the Graph app's client secret.
pub const GRAPH_CLIENT_SECRET: &str = "graph_client_secret";
/// Logical name of the Slack bot token.
pub const SLACK_BOT_TOKEN: &str = "slack_bot_token";

/// Graph settings, or the `[targets]` key that is missing.
pub fn graph_settings(t: &TargetsConfig) -> Result<GraphSettings, &'static str> {
    let tenant = non_empty(&t.tenant).ok_or("tenant")?;
    let client_id = non_empty(&t.graph_client_id).ok_or("graph_client_id")?;
    Ok(GraphSettings {
        login_base: t.login_base.trim_end_matches('/').to_string(),
        graph_base: graph_versioned_base(&t.graph_base),
        tenant,
        client_id,
        client_secret_name: GRAPH_CLIENT_SECRET.into(),
    })
}

/// Slack settings (`slack_base` always has a default).
pub fn slack_settings(t: &TargetsConfig) -> SlackSettings {
    SlackSettings {
        base_url: t.slack_base.trim_end_matches('/').to_string(),
        token_secret_name: SLACK_BOT_TOKEN.into(),
    }
}

/// `[targets].graph_base` is the host (`https://graph.microsoft.com`); the client wants the
/// versioned root. A base that already names a version is kept.
fn graph_versioned_base(base: &str) -> String {
    let base = base.trim_end_matches('/');
    if base.ends_with("/v1.0") || base.ends_with("/beta") {
        base.to_string()
    } else {
        format!("{base}/v1.0")
    }
}

fn non_empty(v: &Option<String>) -> Option<String> {
    v.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn graph_settings_need_a_tenant_and_a_client_id() {
        let mut t = TargetsConfig::default();
        assert_eq!(graph_settings(&t).unwrap_err(), "tenant");
        t.tenant = Some("contoso.com".into());
        assert_eq!(graph_settings(&t).unwrap_err(), "graph_client_id");
        t.graph_client_id = Some("app-id".into());
        let s = graph_settings(&t).unwrap();
        assert_eq!(s.graph_base, "https://graph.microsoft.com/v1.0");
        assert_eq!(s.login_base, "https://login.microsoftonline.com");
        assert_eq!(s.client_secret_name, GRAPH_CLIENT_SECRET);
    }

    #[test]
    fn a_versioned_graph_base_is_kept() {
        assert_eq!(
            graph_versioned_base("http://127.0.0.1:9/v1.0/"),
            "http://127.0.0.1:9/v1.0"
        );
        assert_eq!(
            graph_versioned_base("http://127.0.0.1:9"),
            "http://127.0.0.1:9/v1.0"
        );
    }
}
