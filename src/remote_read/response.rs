//! The two answers of remote read, encoded by hand:
//!
//! ```text
//! ReadResponse        { repeated QueryResult results = 1; }            (SAMPLES, snappy)
//! QueryResult         { repeated TimeSeries timeseries = 1; }
//! TimeSeries          { repeated Label labels = 1; repeated Sample samples = 2; }
//! Sample              { double value = 1; int64 timestamp = 2; }
//! ChunkedReadResponse { repeated ChunkedSeries chunked_series = 1; int64 query_index = 2; }
//! ChunkedSeries       { repeated Label labels = 1; repeated Chunk chunks = 2; }
//! Chunk               { int64 min_time_ms = 1; int64 max_time_ms = 2; Encoding type = 3 (XOR = 1); bytes data = 4; }
//! ```
//!
//! A streamed frame is `uvarint(len) ‖ CRC-32C(message) big-endian ‖
//! message`, as Prometheus's `ChunkedWriter` writes it.

use super::{crc32c, xor};
use hourglass_storage::encoding::put_uvarint;
use hourglass_storage::{Labels, Sample};

fn key(out: &mut Vec<u8>, field: u32, wire: u8) {
    put_uvarint(out, (u64::from(field) << 3) | u64::from(wire));
}

fn len_field(out: &mut Vec<u8>, field: u32, bytes: &[u8]) {
    key(out, field, 2);
    put_uvarint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

fn varint_len(x: u64) -> usize {
    (64 - (x | 1).leading_zeros() as usize).div_ceil(7)
}

/// Appends `Label` messages (field 1) for every label.
fn put_labels(out: &mut Vec<u8>, labels: &Labels) {
    for l in labels.iter() {
        let (n, v) = (l.name.as_bytes(), l.value.as_bytes());
        let inner = 2 + varint_len(n.len() as u64) + n.len() + varint_len(v.len() as u64) + v.len();
        key(out, 1, 2);
        put_uvarint(out, inner as u64);
        len_field(out, 1, n);
        len_field(out, 2, v);
    }
}

/// Builds one `QueryResult` of a SAMPLES answer.
#[derive(Debug, Default)]
pub struct QueryResult {
    buf: Vec<u8>,
    series: Vec<u8>,
}

impl QueryResult {
    /// Adds a `TimeSeries`.
    pub fn series(&mut self, labels: &Labels, samples: &[Sample]) {
        let s = &mut self.series;
        s.clear();
        put_labels(s, labels);
        for smp in samples {
            let inner = 9 + 1 + varint_len(smp.t as u64);
            key(s, 2, 2);
            put_uvarint(s, inner as u64);
            key(s, 1, 1);
            s.extend_from_slice(&smp.v.to_bits().to_le_bytes());
            key(s, 2, 0);
            put_uvarint(s, smp.t as u64);
        }
        len_field(&mut self.buf, 1, &self.series);
    }

    /// Bytes encoded so far.
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// True when no series was added.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }
}

/// Appends a finished `QueryResult` to a `ReadResponse` being built.
pub fn put_result(response: &mut Vec<u8>, result: &QueryResult) {
    len_field(response, 1, &result.buf);
}

/// Builds the frames of a STREAMED_XOR_CHUNKS answer for one query: series
/// are packed into a frame until it reaches `max_frame_bytes`; a series
/// with more chunks than fit is split over frames, its labels repeated.
#[derive(Debug)]
pub struct Streamer {
    query_index: i64,
    max_frame_bytes: usize,
    msg: Vec<u8>,
    series: Vec<u8>,
    chunk: Vec<u8>,
    chunk_msg: Vec<u8>,
}

impl Streamer {
    /// A streamer for query `query_index`.
    pub fn new(query_index: i64, max_frame_bytes: usize) -> Streamer {
        Streamer {
            query_index,
            max_frame_bytes,
            msg: Vec::new(),
            series: Vec::new(),
            chunk: Vec::new(),
            chunk_msg: Vec::new(),
        }
    }

    /// Adds a series, its samples cut into XOR chunks of at most
    /// [`xor::SAMPLES_PER_CHUNK`]; `emit` receives each full frame and
    /// returns false to stop (the client went away), which this returns.
    pub fn series(
        &mut self,
        labels: &Labels,
        samples: &[Sample],
        emit: &mut impl FnMut(Vec<u8>) -> bool,
    ) -> bool {
        self.series.clear();
        put_labels(&mut self.series, labels);
        let labels_len = self.series.len();
        for part in samples.chunks(xor::SAMPLES_PER_CHUNK) {
            let (Some(first), Some(last)) = (part.first(), part.last()) else {
                continue;
            };
            self.chunk.clear();
            xor::encode(part, &mut self.chunk);
            let m = &mut self.chunk_msg;
            m.clear();
            key(m, 1, 0);
            put_uvarint(m, first.t as u64);
            key(m, 2, 0);
            put_uvarint(m, last.t as u64);
            key(m, 3, 0);
            put_uvarint(m, 1);
            len_field(m, 4, &self.chunk);
            len_field(&mut self.series, 2, &self.chunk_msg);
            if self.msg.len() + self.series.len() >= self.max_frame_bytes {
                len_field(&mut self.msg, 1, &self.series);
                if !self.flush(emit) {
                    return false;
                }
                self.series.truncate(labels_len);
            }
        }
        if self.series.len() > labels_len || samples.is_empty() {
            len_field(&mut self.msg, 1, &self.series);
        }
        if self.msg.len() >= self.max_frame_bytes {
            return self.flush(emit);
        }
        true
    }

    /// Emits what is left as a last frame, if anything.
    pub fn finish(&mut self, emit: &mut impl FnMut(Vec<u8>) -> bool) -> bool {
        self.msg.is_empty() || self.flush(emit)
    }

    fn flush(&mut self, emit: &mut impl FnMut(Vec<u8>) -> bool) -> bool {
        if self.query_index != 0 {
            key(&mut self.msg, 2, 0);
            put_uvarint(&mut self.msg, self.query_index as u64);
        }
        let mut frame = Vec::with_capacity(self.msg.len() + 14);
        put_uvarint(&mut frame, self.msg.len() as u64);
        frame.extend_from_slice(&crc32c::checksum(&self.msg).to_be_bytes());
        frame.extend_from_slice(&self.msg);
        self.msg.clear();
        emit(frame)
    }
}
