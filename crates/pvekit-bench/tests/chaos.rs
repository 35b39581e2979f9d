//! The chaos soak's zero goals, for 60 s: no panic, no operation that neither finished nor
//! failed within its timeout, no snapshot lost, recovery within one poll of each fault
//! clearing, no growth of tasks or file descriptors, and every kind of operation done.

#[test]
fn sixty_seconds_of_chaos_meet_the_zero_goals() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_pvekit-bench"))
        .args(["chaos", "--seconds", "60", "--check"])
        .output()
        .expect("run pvekit-bench chaos");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "chaos goals missed:\n{stderr}\nfigures:\n{stdout}"
    );
    assert!(
        stdout.contains(r#""metric":"panics","value":0.0"#),
        "{stdout}"
    );
    assert!(
        stdout.contains(r#""metric":"hangs","value":0.0"#),
        "{stdout}"
    );
}
