//! Integration test of the chain.

#[test]
fn chain_runs() {
    assert_eq!(middle::run(2), "value=2");
}

#[test]
fn generic_works_and_env_is_set() {
    assert_eq!(generic::largest(&[1.5, 0.5]), Some(1.5));
    assert_eq!(std::env::var("APP_TEST_GREETING").as_deref(), Ok("hi"));
}
