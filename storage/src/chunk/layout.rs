//! The bytes every chunk starts and ends with (see `FORMAT.md`).

/// Encoding byte of our XOR codec (version 1), the open chunks' encoding.
pub const ENCODING_XOR: u8 = 0x01;
/// Encoding byte of the packed codec: fixed interval, fixed-width value
/// differences (see `packed.rs`).
pub const ENCODING_PACKED: u8 = 0x02;
/// Encoding byte, then the sample count as a big-endian u16.
pub const HEADER_LEN: usize = 3;
/// CRC32 (IEEE) of everything before it, big-endian.
pub const CRC_LEN: usize = 4;
/// Encoding byte of the grid codec: time offsets from an interval grid and
/// value differences in multiples of a step, both at fixed widths (see
/// `grid.rs`). Written only for cold data (partitions, a stop's checkpoint).
pub const ENCODING_GRID: u8 = 0x03;
/// Encoding byte of the sparse grid codec: the grid's header and time
/// fields, then a bitmap of the samples whose value difference is not the
/// chunk's most common one and only those differences (see `grid.rs`). For
/// cold series that rarely move.
pub const ENCODING_SPARSE_GRID: u8 = 0x04;
/// Encoding byte of the sparse grid codec with the stored fields'
/// positions as Rice-coded gaps instead of a bitmap (see `gaps.rs`). For
/// cold series that move in fewer than about one scrape in eight.
pub const ENCODING_SPARSE_GAPS: u8 = 0x05;
/// Encoding bytes of the three grid codecs with mixed-radix columns: the
/// layouts of `0x03`, `0x04` and `0x05` with each column's width byte
/// replaced by its fields per group and largest field, so a spread that is
/// not a power of two costs its own bits, not the next power's (see
/// `radix.rs`).
pub const ENCODING_GRID_RADIX: u8 = 0x06;
/// [`ENCODING_SPARSE_GRID`] with mixed-radix columns.
pub const ENCODING_SPARSE_GRID_RADIX: u8 = 0x07;
/// [`ENCODING_SPARSE_GAPS`] with mixed-radix columns.
pub const ENCODING_SPARSE_GAPS_RADIX: u8 = 0x08;

/// The fixed-width grid encoding (`0x03`–`0x05`) with `encoding`'s
/// layout (dense, bitmap or gap list); other encodings as they are.
pub(crate) fn grid_layout(encoding: u8) -> u8 {
    if encoding >= ENCODING_GRID_RADIX && is_grid(encoding) {
        encoding - (ENCODING_GRID_RADIX - ENCODING_GRID)
    } else {
        encoding
    }
}

/// True for the grid codecs, `0x03` to `0x08`.
pub(crate) fn is_grid(encoding: u8) -> bool {
    (ENCODING_GRID..=ENCODING_SPARSE_GAPS_RADIX).contains(&encoding)
}
