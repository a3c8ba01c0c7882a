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

#[test]
fn runs_the_app_binary_from_anywhere() {
    // As under `cargo test`: an absolute path, at compile time and at run time.
    let exe = env!("CARGO_BIN_EXE_app");
    assert!(exe.starts_with('/'), "{exe}");
    assert_eq!(std::env::var("CARGO_BIN_EXE_app").as_deref(), Ok(exe));
    let out = std::process::Command::new(exe).current_dir("/").output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("hello from App\n"));
}
