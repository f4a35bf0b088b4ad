//! Where chunk bytes go: framing and headers, time fields, value fields,
//! XOR streams (time and values interleaved), by encoding. For
//! `hourglass inspect --bytes` and footprint work: which part of the data
//! an encoding change would have to shrink.

use super::{CRC_LEN, ChunkError, ChunkView, ENCODING_PACKED, HEADER_LEN, is_grid, packed};

/// Byte counts of a set of chunks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Anatomy {
    /// Chunks counted, by encoding: XOR, packed, grid (dense or sparse,
    /// bitmap or gap list).
    pub chunks: [u64; 3],
    /// Samples they hold.
    pub samples: u64,
    /// Encoding byte, count, CRC and the header of packed and grid chunks
    /// (first sample, interval, widths).
    pub header_bytes: u64,
    /// Grid chunks' time offset fields.
    pub time_bytes: u64,
    /// Packed and grid chunks' value difference fields.
    pub value_bytes: u64,
    /// XOR chunks' streams: times and values, interleaved.
    pub xor_bytes: u64,
}

impl Anatomy {
    /// Counts one chunk's bytes (checked as [`ChunkView::parse`] does).
    pub fn add_chunk(&mut self, bytes: &[u8]) -> Result<(), ChunkError> {
        let v = ChunkView::parse(bytes)?;
        let count = v.num_samples() as u16;
        let stream = &bytes[HEADER_LEN..bytes.len() - CRC_LEN];
        let fields = match bytes[0] {
            ENCODING_PACKED => Some((1, packed::Packed::parse(stream, count)?.field_bytes())),
            e if is_grid(e) => Some((
                2,
                packed::Packed::parse_grid(stream, count, e)?.field_bytes(),
            )),
            _ => None,
        };
        let framing = (HEADER_LEN + CRC_LEN) as u64;
        match fields {
            Some((kind, (time, value))) => {
                self.chunks[kind] += 1;
                self.time_bytes += time as u64;
                self.value_bytes += value as u64;
                self.header_bytes += framing + (stream.len() - time - value) as u64;
            }
            None => {
                self.chunks[0] += 1;
                self.header_bytes += framing;
                self.xor_bytes += stream.len() as u64;
            }
        }
        self.samples += u64::from(count);
        Ok(())
    }

    /// Adds another set's counts to these.
    pub fn add(&mut self, o: &Anatomy) {
        for (a, b) in self.chunks.iter_mut().zip(o.chunks) {
            *a += b;
        }
        self.samples += o.samples;
        self.header_bytes += o.header_bytes;
        self.time_bytes += o.time_bytes;
        self.value_bytes += o.value_bytes;
        self.xor_bytes += o.xor_bytes;
    }

    /// All the bytes counted.
    pub fn bytes(&self) -> u64 {
        self.header_bytes + self.time_bytes + self.value_bytes + self.xor_bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chunk::{encode, encode_cold};
    use crate::model::sample::Sample;

    #[test]
    fn every_byte_of_each_encoding_is_counted_once() {
        let jittered: Vec<Sample> = (0..240)
            .map(|i| Sample::new(1_000_000 + i * 15_000 + (i * 7 % 5) - 2, (i * i) as f64))
            .collect();
        let aligned: Vec<Sample> = (0..120)
            .map(|i| Sample::new(1_000_000 + i * 15_000, (i * 3 / 2) as f64))
            .collect();
        let raw: Vec<Sample> = (0..50)
            .map(|i| {
                Sample::new(
                    i * 1000 + i * i,
                    f64::from_bits(0x7ff8_0000_0000_0001 + i as u64),
                )
            })
            .collect();
        let mut total = Anatomy::default();
        for (samples, kind) in [(&jittered, 2), (&aligned, 1), (&raw, 0)] {
            let c = encode_cold(samples).unwrap();
            let mut a = Anatomy::default();
            a.add_chunk(c.as_bytes()).unwrap();
            assert_eq!(a.chunks[kind], 1, "encoding {:#04x}", c.as_bytes()[0]);
            assert_eq!(a.bytes(), c.as_bytes().len() as u64);
            assert_eq!(a.samples, samples.len() as u64);
            total.add(&a);
        }
        assert_eq!(total.chunks, [1, 1, 1]);
        assert!(total.time_bytes > 0 && total.value_bytes > 0 && total.xor_bytes > 0);
        let mut bad = encode(&aligned).unwrap().as_bytes().to_vec();
        bad[5] ^= 1;
        assert!(Anatomy::default().add_chunk(&bad).is_err(), "checked first");
    }
}
