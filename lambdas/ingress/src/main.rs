//! The ingress Lambda binary: build the clients once, then serve API Gateway requests.

use std::sync::Arc;

use dayone_sdk::secrets::SecretsManagerStore;
use ingress::{Authenticator, Ingress, Settings, SfnStarter};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    dayone_sdk::logging::init_logging();
    let settings = Settings::from_env()?;
    let aws = aws_config::load_from_env().await;
    let starter = SfnStarter::new(aws_sdk_sfn::Client::new(&aws), settings.state_machine_arn)?;
    let secrets = Arc::new(SecretsManagerStore::from_env().await);
    let auth = Authenticator::new(secrets, settings.hmac_secret_id, settings.basic_secret_id)?;
    let ingress = Ingress::new(starter, auth).with_max_body_bytes(settings.max_body_bytes);
    let ingress = &ingress;
    lambda_http::run(lambda_http::service_fn(move |req| ingress.lambda(req))).await
}
