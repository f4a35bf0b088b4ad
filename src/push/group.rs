//! One Pushgateway group as kept in memory and on disk: what it last
//! pushed, by family. Shared by the live groups (`groups`) and their file
//! (`group_file`).

use hourglass_storage::Labels;
use std::collections::{HashMap, HashSet};

/// Series of one push, by metric family.
pub type Families = HashMap<String, HashSet<Labels>>;

#[derive(Default)]
pub(crate) struct Group {
    /// Timestamp of the last write, so pushes in the same millisecond
    /// still get increasing timestamps (the later push wins).
    pub(crate) last_t: i64,
    pub(crate) families: Families,
}
