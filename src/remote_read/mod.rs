//! Prometheus remote read below HTTP: the `ReadRequest` decoder, the
//! `SAMPLES` and `STREAMED_XOR_CHUNKS` encoders, Prometheus's XOR chunk
//! encoding, and the CRC-32C of streamed frames. The handler is
//! `api/remote_read.rs`.

pub mod crc32c;
pub mod request;
pub mod response;
pub mod xor;
