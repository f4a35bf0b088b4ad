//! `hourglass`: the server and the offline CLI.

fn main() {}
