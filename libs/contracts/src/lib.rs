//! Rust types and tonic clients/servers generated from `proto/`.
//!
//! Services depend on this crate, never on each other: the `.proto` files are
//! the only contract two services share.

pub mod user {
    pub mod v1 {
        #![allow(clippy::all, clippy::pedantic)]
        tonic::include_proto!("user.v1");

        /// The encoded descriptor set, for gRPC server reflection.
        pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("user_v1");
    }
}
