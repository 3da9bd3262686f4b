//! Signing keys made at run time. The repository holds no private key (CI
//! scans for one), so every test that signs makes its own.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::Ed25519KeyPair;

/// A fresh Ed25519 private key as PKCS#8 v1 PEM, the form
/// `openssl genpkey -algorithm ed25519` writes and the user service reads.
pub fn ed25519_pem() -> String {
    let der = Ed25519KeyPair::generate_pkcs8v1(&SystemRandom::new()).expect("generate an Ed25519 key");
    pem::encode(&pem::Pem::new("PRIVATE KEY", der.as_ref().to_vec()))
}

/// One key for the whole test binary, made on first use: what a test signs
/// with here, its double or service verifies with there.
pub fn shared_ed25519_pem() -> &'static str {
    static KEY: std::sync::LazyLock<String> = std::sync::LazyLock::new(ed25519_pem);
    &KEY
}
