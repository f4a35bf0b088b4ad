//! PromQL for Hourglass.
//!
//! This crate owns the query language: the lexer and parser (built on
//! `nom`) producing an AST, the printer that turns an AST back into
//! canonical PromQL, and the evaluation engine that runs an AST over a
//! storage `Querier`. It reaches storage only through that seam and never
//! knows about HTTP or files.
