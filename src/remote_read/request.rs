//! `prometheus.ReadRequest`, decoded with bounds:
//!
//! ```text
//! ReadRequest { repeated Query queries = 1; repeated ResponseType accepted_response_types = 2; }
//! Query       { int64 start_timestamp_ms = 1; int64 end_timestamp_ms = 2;
//!               repeated LabelMatcher matchers = 3; ReadHints hints = 4; }
//! LabelMatcher{ Type type = 1 (EQ, NEQ, RE, NRE); string name = 2; string value = 3; }
//! ReadHints   { int64 step_ms = 1; string func = 2; int64 start_ms = 3; int64 end_ms = 4;
//!               repeated string grouping = 5; bool by = 6; int64 range_ms = 7; }
//! ```

use crate::ingest::protobuf::{Reader, WireError, WireType};
use hourglass_storage::{MatchOp, Matcher, MatcherError};

/// Most queries one request may hold.
pub const MAX_QUERIES: usize = 64;
/// Most matchers one query may hold.
pub const MAX_MATCHERS: usize = 64;

/// How the answer is shaped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseType {
    /// One snappy-compressed `ReadResponse` of raw samples.
    Samples,
    /// Framed `ChunkedReadResponse`s of XOR chunks.
    StreamedXorChunks,
}

/// A decoded request.
#[derive(Debug, Clone)]
pub struct ReadRequest {
    /// The queries, answered in order.
    pub queries: Vec<Query>,
    /// What the client accepts, in its order of preference.
    pub accepted: Vec<ResponseType>,
}

impl ReadRequest {
    /// The response type to answer with: the client's first choice that
    /// we speak (unknown types are skipped while decoding), else samples.
    pub fn response_type(&self) -> ResponseType {
        self.accepted
            .first()
            .copied()
            .unwrap_or(ResponseType::Samples)
    }
}

/// One query: matchers over a closed time range.
#[derive(Debug, Clone)]
pub struct Query {
    /// Start of the range (ms, inclusive).
    pub start_ms: i64,
    /// End of the range (ms, inclusive).
    pub end_ms: i64,
    /// All must match.
    pub matchers: Vec<Matcher>,
    /// What the client's engine will do with the data.
    pub hints: Option<Hints>,
}

/// `ReadHints`: what the querying engine will compute.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Hints {
    /// Query step (ms).
    pub step_ms: i64,
    /// Function name; `series` asks for labels only.
    pub func: String,
    /// Start of the data the engine needs (ms).
    pub start_ms: i64,
    /// End of the data the engine needs (ms).
    pub end_ms: i64,
    /// Range of a range selector (ms).
    pub range_ms: i64,
}

/// A request that cannot be answered.
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    /// Not valid protobuf.
    #[error("cannot decode ReadRequest: {0}")]
    Wire(#[from] WireError),
    /// A matcher's regex does not compile.
    #[error("query {query}: {source}")]
    Matcher {
        /// Index of the query.
        query: usize,
        /// Why.
        source: MatcherError,
    },
    /// A matcher type outside EQ, NEQ, RE, NRE.
    #[error("query {query}: unknown matcher type {kind} for label {name:?}")]
    MatcherType {
        /// Index of the query.
        query: usize,
        /// The type as sent.
        kind: u64,
        /// The label.
        name: String,
    },
    /// More queries or matchers than allowed.
    #[error("too many {what}: more than {max}")]
    TooMany {
        /// What there are too many of.
        what: &'static str,
        /// The limit.
        max: usize,
    },
    /// A query without matchers, or whose matchers all match the empty
    /// string, would select every series.
    #[error(
        "query {query}: at least one matcher must not match the empty string (it would select every series)"
    )]
    SelectsEverything {
        /// Index of the query.
        query: usize,
    },
    /// End before start.
    #[error("query {query}: end_timestamp_ms {end} is before start_timestamp_ms {start}")]
    Range {
        /// Index of the query.
        query: usize,
        /// Start as sent.
        start: i64,
        /// End as sent.
        end: i64,
    },
}

/// Decodes a (decompressed) `ReadRequest`.
pub fn decode(buf: &[u8]) -> Result<ReadRequest, RequestError> {
    let mut r = Reader::new(buf);
    let mut req = ReadRequest {
        queries: Vec::new(),
        accepted: Vec::new(),
    };
    while let Some((field, wire)) = r.key()? {
        match (field, wire) {
            (1, WireType::Len) => {
                if req.queries.len() >= MAX_QUERIES {
                    return Err(RequestError::TooMany {
                        what: "queries",
                        max: MAX_QUERIES,
                    });
                }
                let index = req.queries.len();
                let q = query(r.message()?, index)?;
                req.queries.push(q);
            }
            (2, WireType::Varint) => accept(&mut req.accepted, r.varint()?),
            (2, WireType::Len) => {
                let mut packed = r.message()?;
                while !packed.is_empty() {
                    accept(&mut req.accepted, packed.varint()?);
                }
            }
            (_, w) => r.skip(w)?,
        }
    }
    Ok(req)
}

fn accept(list: &mut Vec<ResponseType>, v: u64) {
    let t = match v {
        0 => ResponseType::Samples,
        1 => ResponseType::StreamedXorChunks,
        _ => return,
    };
    if !list.contains(&t) {
        list.push(t);
    }
}

fn query(mut r: Reader<'_>, index: usize) -> Result<Query, RequestError> {
    let mut q = Query {
        start_ms: 0,
        end_ms: 0,
        matchers: Vec::new(),
        hints: None,
    };
    while let Some((field, wire)) = r.key()? {
        match (field, wire) {
            (1, WireType::Varint) => q.start_ms = r.varint()? as i64,
            (2, WireType::Varint) => q.end_ms = r.varint()? as i64,
            (3, WireType::Len) => {
                if q.matchers.len() >= MAX_MATCHERS {
                    return Err(RequestError::TooMany {
                        what: "matchers in a query",
                        max: MAX_MATCHERS,
                    });
                }
                q.matchers.push(matcher(r.message()?, index)?);
            }
            (4, WireType::Len) => q.hints = Some(hints(r.message()?)?),
            (_, w) => r.skip(w)?,
        }
    }
    if q.end_ms < q.start_ms {
        return Err(RequestError::Range {
            query: index,
            start: q.start_ms,
            end: q.end_ms,
        });
    }
    if q.matchers.iter().all(Matcher::matches_empty) {
        return Err(RequestError::SelectsEverything { query: index });
    }
    Ok(q)
}

fn matcher(mut r: Reader<'_>, query: usize) -> Result<Matcher, RequestError> {
    let (mut kind, mut name, mut value) = (0u64, "", "");
    while let Some((field, wire)) = r.key()? {
        match (field, wire) {
            (1, WireType::Varint) => kind = r.varint()?,
            (2, WireType::Len) => name = r.str()?,
            (3, WireType::Len) => value = r.str()?,
            (_, w) => r.skip(w)?,
        }
    }
    let op = match kind {
        0 => MatchOp::Equal,
        1 => MatchOp::NotEqual,
        2 => MatchOp::RegexMatch,
        3 => MatchOp::RegexNoMatch,
        _ => {
            return Err(RequestError::MatcherType {
                query,
                kind,
                name: name.to_string(),
            });
        }
    };
    Matcher::new(op, name, value).map_err(|source| RequestError::Matcher { query, source })
}

fn hints(mut r: Reader<'_>) -> Result<Hints, RequestError> {
    let mut h = Hints::default();
    while let Some((field, wire)) = r.key()? {
        match (field, wire) {
            (1, WireType::Varint) => h.step_ms = r.varint()? as i64,
            (2, WireType::Len) => h.func = r.str()?.to_string(),
            (3, WireType::Varint) => h.start_ms = r.varint()? as i64,
            (4, WireType::Varint) => h.end_ms = r.varint()? as i64,
            (7, WireType::Varint) => h.range_ms = r.varint()? as i64,
            (_, w) => r.skip(w)?,
        }
    }
    Ok(h)
}
