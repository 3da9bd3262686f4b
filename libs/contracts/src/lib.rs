//! Rust types and tonic clients/servers generated from `proto/`.
//!
//! Services depend on this crate, never on each other: the `.proto` files are
//! the only gRPC contract two services share (the event payloads live in the
//! `events` crate).

/// One generated package and its descriptor set for reflection.
macro_rules! package {
    ($module:ident, $package:literal, $descriptor:literal) => {
        pub mod $module {
            pub mod v1 {
                #![allow(clippy::all, clippy::pedantic)]
                tonic::include_proto!($package);

                /// The encoded descriptor set, for gRPC server reflection.
                pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!($descriptor);
            }
        }
    };
}

// As build.rs lists them; the last is the template crate's (template/).
package!(user, "user.v1", "user_v1");
package!(inventory, "inventory.v1", "inventory_v1");
package!(order, "order.v1", "order_v1");
package!(analytics, "analytics.v1", "analytics_v1");
package!(template, "template.v1", "template_v1");
