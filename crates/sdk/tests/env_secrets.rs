//! `EnvSecrets` reads the process environment, so it gets its own test binary (one test,
//! no other thread touching the environment).

use dayone_sdk::secrets::{EnvSecrets, SecretError, SecretStore};

#[tokio::test]
async fn env_secrets_read_dayone_secret_variables() {
    // SAFETY: the only test in this binary; nothing else reads or writes the environment.
    unsafe {
        std::env::set_var("DAYONE_SECRET_WELCOME_API_KEY", "fake-env-key");
        std::env::set_var("DAYONE_SECRET_GRAPH", r#"{"client_secret":"fake-cs"}"#);
    }
    let store = EnvSecrets::new();
    assert_eq!(
        store.get("welcome-api.key").await.unwrap().expose(),
        "fake-env-key"
    );
    assert_eq!(
        store.get("graph#client_secret").await.unwrap().expose(),
        "fake-cs"
    );
    let err = store.get("missing_one").await.unwrap_err();
    assert!(matches!(err, SecretError::NotFound { .. }));
    // the error tells the user which variable to set
    assert!(
        err.to_string().contains("DAYONE_SECRET_MISSING_ONE"),
        "{err}"
    );
}
