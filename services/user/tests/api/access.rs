//! Every operation the service serves, REST and gRPC, against its access
//! table: the wrong callers refused, the right one admitted
//! (`testkit::access`).

testkit::every_operation_is_guarded_test!(
    crate::helpers::spawn_app,
    api,
    user::access::ACCESS,
    [contracts::user::v1::FILE_DESCRIPTOR_SET]
);
