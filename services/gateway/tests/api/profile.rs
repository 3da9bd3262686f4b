//! The `local` profile, as the binary runs it: each raised limit is named
//! in the log, and a listener that is not loopback is refused.

use testkit::process::ServiceProcess;

use crate::helpers::process_env;

fn with(extra: &[(&'static str, &str)]) -> Vec<(&'static str, String)> {
    let mut env = process_env();
    env.retain(|(key, _)| !extra.iter().any(|(k, _)| k == key));
    env.extend(extra.iter().map(|(k, v)| (*k, (*v).to_owned())));
    env
}

#[tokio::test]
async fn the_local_profile_logs_each_raised_limit_by_name() {
    let gateway =
        ServiceProcess::spawn(env!("CARGO_BIN_EXE_gateway"), &with(&[("GATEWAY_PROFILE", "local")])).await.unwrap();
    let raised: Vec<String> =
        gateway.logs().into_iter().filter(|line| line.contains("raised by the profile")).collect();
    for name in ["GATEWAY_ADDRESS_RATE_PER_SECOND", "GATEWAY_ADDRESS_RATE_BURST", "route register (per address)"] {
        assert!(raised.iter().any(|line| line.contains(name)), "{name} is not logged: {raised:#?}");
    }
    assert_eq!(raised.len(), 3, "nothing else is raised: {raised:#?}");
}

#[tokio::test]
async fn the_local_profile_is_refused_on_a_listener_that_is_not_loopback() {
    let env = with(&[("GATEWAY_PROFILE", "local"), ("GATEWAY_HOST", "0.0.0.0")]);
    let error = ServiceProcess::spawn(env!("CARGO_BIN_EXE_gateway"), &env).await.err().expect("it must not start");
    let error = error.to_string();
    assert!(error.contains("exited before listening"), "{error}");
    assert!(error.contains("GATEWAY_HOST=0.0.0.0"), "the log says why: {error}");
}
