//! Every operation the service serves, REST and gRPC, against its access
//! table: the wrong callers refused, the right one admitted
//! (`testkit::access`).

use crate::helpers::spawn_app;

#[tokio::test]
async fn every_operation_refuses_the_wrong_callers_and_admits_the_right_one() {
    let app = spawn_app().await;
    let descriptors: &[&[u8]] = &[
        contracts::template::v1::FILE_DESCRIPTOR_SET, // new-service: grpc
    ];
    testkit::access::every_operation_is_guarded(&app.api, &template::access::ACCESS, descriptors).await;
}
