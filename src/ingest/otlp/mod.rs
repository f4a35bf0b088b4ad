//! OTLP/HTTP metrics (`ExportMetricsServiceRequest`) into series:
//! protobuf (`proto.rs`, our bounded reader) or protobuf-JSON
//! (`json.rs`) into one model (`model.rs`), translated as Prometheus 3
//! does (`translate.rs`, names in `names.rs`, exponential histograms as
//! native histograms in `exponential.rs`, explicit-bucket ones as
//! custom-bucket native histograms on request in `explicit.rs`).

pub mod explicit;
pub mod exponential;
pub mod json;
pub mod model;
pub mod names;
pub mod proto;
pub mod translate;
