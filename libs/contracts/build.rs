//! Compiles proto/ with protox, a pure-Rust protobuf compiler, so a machine
//! with only cargo can build the workspace (no system `protoc`). The encoded
//! descriptor set is kept for gRPC server reflection.

use std::path::PathBuf;

use prost::Message as _;

/// Each package is compiled on its own so its descriptor set can be
/// registered for reflection by exactly the service that implements it. The
/// last is the template crate's (template/, which `just new-service` copies:
/// built and tested, never run).
const PACKAGES: &[(&str, &str)] = &[
    ("user/v1/user.proto", "user_v1"),
    ("inventory/v1/inventory.proto", "inventory_v1"),
    ("order/v1/order.proto", "order_v1"),
    ("analytics/v1/analytics.proto", "analytics_v1"),
    ("template/v1/template.proto", "template_v1"),
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?);
    let proto_root = manifest.join("../../proto");
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    println!("cargo:rerun-if-changed={}", proto_root.display());

    for (file, descriptor_name) in PACKAGES {
        let descriptors = protox::compile([file], [&proto_root])?;
        std::fs::write(out_dir.join(format!("{descriptor_name}.bin")), descriptors.encode_to_vec())?;
        tonic_prost_build::configure().compile_fds(descriptors)?;
    }
    Ok(())
}
