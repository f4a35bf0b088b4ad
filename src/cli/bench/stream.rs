//! A generated remote-write stream kept in a file, so that several systems
//! can be sent the same requests without building them again: a header
//! naming the dataset, then one checksummed record per scrape holding each
//! sender's compressed requests. Layout in `FORMAT.md` beside this file.

use super::profile::{Request, Scrape};
use std::io::{self, Read, Write};

const MAGIC: &[u8; 8] = b"HGBSTRM\0";
const VERSION: u8 = 1;
/// Largest record (one scrape's requests) a reader accepts.
pub const MAX_RECORD: usize = 256 << 20;
/// Most senders a stream may have.
const MAX_SENDERS: usize = 4096;
const MAX_DESCRIPTION: usize = 4096;

/// Why a stream file could not be read.
#[derive(Debug, thiserror::Error)]
#[allow(missing_docs)]
pub enum StreamError {
    #[error("stream file: {0}")]
    Io(#[from] io::Error),
    #[error("not a bench stream file (bad magic)")]
    Magic,
    #[error("bench stream version {0} (this build reads {VERSION})")]
    Version(u8),
    #[error("bench stream header: {0}")]
    Header(&'static str),
    #[error("bench stream header checksum: stored {stored:08x}, computed {computed:08x}")]
    HeaderChecksum { stored: u32, computed: u32 },
    #[error("bench stream record {record}: {reason}")]
    Record { record: u64, reason: String },
}

/// What a stream holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// Senders the series were split over; every record has a list for each.
    pub senders: usize,
    /// The dataset, as `profile::Config::describe` names it.
    pub description: String,
}

/// Writes a stream: the header, then `append` per scrape, then `finish`.
pub struct StreamWriter<W: Write> {
    out: W,
    senders: usize,
    scrape: u32,
    buf: Vec<u8>,
}

impl<W: Write> StreamWriter<W> {
    /// Writes the header.
    pub fn new(mut out: W, header: &Header) -> Result<Self, StreamError> {
        if header.senders == 0 || header.senders > MAX_SENDERS {
            return Err(StreamError::Header("senders must be 1 to 4096"));
        }
        if header.description.len() > MAX_DESCRIPTION {
            return Err(StreamError::Header("description over 4096 bytes"));
        }
        let mut h = Vec::with_capacity(64 + header.description.len());
        h.extend_from_slice(MAGIC);
        h.push(VERSION);
        h.extend_from_slice(&(header.senders as u16).to_le_bytes());
        h.extend_from_slice(&(header.description.len() as u16).to_le_bytes());
        h.extend_from_slice(header.description.as_bytes());
        h.extend_from_slice(&crc32fast::hash(&h).to_le_bytes());
        out.write_all(&h)?;
        Ok(StreamWriter {
            out,
            senders: header.senders,
            scrape: 0,
            buf: Vec::new(),
        })
    }

    /// Appends the next scrape's requests (one list per sender).
    pub fn append(&mut self, scrape: &Scrape) -> Result<(), StreamError> {
        let reject = |reason: &str| StreamError::Record {
            record: u64::from(self.scrape),
            reason: reason.to_string(),
        };
        if scrape.len() != self.senders {
            return Err(reject("one request list per sender expected"));
        }
        self.buf.clear();
        self.buf.extend_from_slice(&self.scrape.to_le_bytes());
        for reqs in scrape {
            self.buf
                .extend_from_slice(&(reqs.len() as u32).to_le_bytes());
            for r in reqs {
                self.buf
                    .extend_from_slice(&(r.samples as u32).to_le_bytes());
                self.buf
                    .extend_from_slice(&(r.body.len() as u32).to_le_bytes());
                self.buf.extend_from_slice(&r.body);
            }
        }
        if self.buf.len() > MAX_RECORD {
            return Err(reject("scrape over 256 MiB: use fewer series"));
        }
        self.out.write_all(&(self.buf.len() as u32).to_le_bytes())?;
        self.out
            .write_all(&crc32fast::hash(&self.buf).to_le_bytes())?;
        self.out.write_all(&self.buf)?;
        self.scrape += 1;
        Ok(())
    }

    /// Flushes and gives back the output.
    pub fn finish(mut self) -> Result<W, StreamError> {
        self.out.flush()?;
        Ok(self.out)
    }
}

/// Reads a stream's scrapes in order; every record is checked.
pub struct StreamReader<R: Read> {
    input: R,
    header: Header,
    record: u64,
    buf: Vec<u8>,
}

impl<R: Read> StreamReader<R> {
    /// Reads and checks the header.
    pub fn new(mut input: R) -> Result<Self, StreamError> {
        let mut fixed = [0u8; 13];
        input.read_exact(&mut fixed)?;
        if &fixed[..8] != MAGIC {
            return Err(StreamError::Magic);
        }
        if fixed[8] != VERSION {
            return Err(StreamError::Version(fixed[8]));
        }
        let senders = usize::from(u16::from_le_bytes([fixed[9], fixed[10]]));
        let desc_len = usize::from(u16::from_le_bytes([fixed[11], fixed[12]]));
        if senders == 0 || senders > MAX_SENDERS {
            return Err(StreamError::Header("senders must be 1 to 4096"));
        }
        if desc_len > MAX_DESCRIPTION {
            return Err(StreamError::Header("description over 4096 bytes"));
        }
        let mut rest = vec![0u8; desc_len + 4];
        input.read_exact(&mut rest)?;
        let (desc, crc) = rest.split_at(desc_len);
        let mut hasher = crc32fast::Hasher::new();
        hasher.update(&fixed);
        hasher.update(desc);
        let computed = hasher.finalize();
        let stored = u32::from_le_bytes([crc[0], crc[1], crc[2], crc[3]]);
        if stored != computed {
            return Err(StreamError::HeaderChecksum { stored, computed });
        }
        let description = String::from_utf8(desc.to_vec())
            .map_err(|_| StreamError::Header("description is not UTF-8"))?;
        Ok(StreamReader {
            input,
            header: Header {
                senders,
                description,
            },
            record: 0,
            buf: Vec::new(),
        })
    }

    /// What the stream holds.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// The next scrape, `None` at the end of the file; a record cut short
    /// is an error, as is any damage.
    pub fn next_scrape(&mut self) -> Result<Option<Scrape>, StreamError> {
        let mut head = [0u8; 8];
        let got = read_full(&mut self.input, &mut head)?;
        if got == 0 {
            return Ok(None);
        }
        let record = self.record;
        let bad = |reason: String| StreamError::Record { record, reason };
        if got < head.len() {
            return Err(bad("cut short in its length".into()));
        }
        let len = u32::from_le_bytes([head[0], head[1], head[2], head[3]]) as usize;
        let stored = u32::from_le_bytes([head[4], head[5], head[6], head[7]]);
        if len > MAX_RECORD {
            return Err(bad(format!("{len} bytes, over the 256 MiB bound")));
        }
        self.buf.resize(len, 0);
        if read_full(&mut self.input, &mut self.buf)? < len {
            return Err(bad("cut short".into()));
        }
        let computed = crc32fast::hash(&self.buf);
        if stored != computed {
            return Err(bad(format!(
                "checksum: stored {stored:08x}, computed {computed:08x}"
            )));
        }
        let scrape = parse_record(&self.buf, self.header.senders, record).map_err(bad)?;
        self.record += 1;
        Ok(Some(scrape))
    }
}

impl<R: Read> Iterator for StreamReader<R> {
    type Item = Result<Scrape, StreamError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_scrape().transpose()
    }
}

/// Reads until `buf` is full or the input ends; returns the bytes read.
fn read_full(input: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match input.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

/// A position in a record's bytes.
struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], String> {
        let b = self
            .buf
            .get(self.pos..self.pos.saturating_add(n))
            .ok_or_else(|| format!("cut short in {what}"))?;
        self.pos += n;
        Ok(b)
    }

    fn u32(&mut self, what: &str) -> Result<usize, String> {
        let b = self.take(4, what)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
    }
}

fn parse_record(buf: &[u8], senders: usize, record: u64) -> Result<Scrape, String> {
    let mut c = Cursor { buf, pos: 0 };
    let scrape = c.u32("its scrape number")?;
    if scrape as u64 != record {
        return Err(format!("holds scrape {scrape}, expected {record}"));
    }
    let mut out = Vec::with_capacity(senders);
    for _ in 0..senders {
        let count = c.u32("a request count")?;
        // Each request takes at least 8 bytes: a count beyond that is damage.
        if count > buf.len() / 8 {
            return Err(format!("{count} requests cannot fit"));
        }
        let mut reqs = Vec::with_capacity(count);
        for _ in 0..count {
            let samples = c.u32("a sample count")?;
            let len = c.u32("a body length")?;
            reqs.push(Request {
                body: c.take(len, "a body")?.to_vec(),
                samples,
            });
        }
        out.push(reqs);
    }
    if c.pos != buf.len() {
        return Err(format!(
            "{} bytes after the last request",
            buf.len() - c.pos
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scrape(k: u8, senders: usize) -> Scrape {
        (0..senders)
            .map(|s| {
                (0..=s)
                    .map(|i| Request {
                        body: vec![k, s as u8, i as u8, 0xee],
                        samples: 100 * k as usize + i,
                    })
                    .collect()
            })
            .collect()
    }

    fn written(scrapes: u8) -> Vec<u8> {
        let header = Header {
            senders: 3,
            description: "profile=NodeRealistic series=300".into(),
        };
        let mut w = StreamWriter::new(Vec::new(), &header).unwrap();
        for k in 0..scrapes {
            w.append(&scrape(k, 3)).unwrap();
        }
        w.finish().unwrap()
    }

    fn flat(s: &Scrape) -> Vec<(Vec<u8>, usize)> {
        s.iter()
            .flatten()
            .map(|r| (r.body.clone(), r.samples))
            .collect()
    }

    #[test]
    fn a_written_stream_reads_back_scrape_by_scrape() {
        let bytes = written(5);
        let r = StreamReader::new(&bytes[..]).unwrap();
        assert_eq!(r.header().senders, 3);
        assert_eq!(r.header().description, "profile=NodeRealistic series=300");
        let back: Vec<Scrape> = r.collect::<Result<_, _>>().unwrap();
        assert_eq!(back.len(), 5);
        for (k, s) in back.iter().enumerate() {
            assert_eq!(s.len(), 3);
            assert_eq!(flat(s), flat(&scrape(k as u8, 3)));
        }
    }

    #[test]
    fn every_flipped_byte_and_every_cut_is_an_error_not_a_panic() {
        let bytes = written(2);
        for i in 0..bytes.len() {
            let mut damaged = bytes.clone();
            damaged[i] ^= 0x40;
            let read = StreamReader::new(&damaged[..])
                .map(|r| r.collect::<Result<Vec<_>, _>>())
                .and_then(|r| r);
            assert!(read.is_err(), "flipped byte {i} went unnoticed");
        }
        for cut in 1..bytes.len() {
            let read = StreamReader::new(&bytes[..cut])
                .map(|r| r.collect::<Result<Vec<_>, _>>())
                .and_then(|r| r);
            // A cut at a record boundary is a shorter stream, not damage.
            if let Ok(scrapes) = read {
                assert!(scrapes.len() < 2, "cut at {cut} read the whole stream");
            }
        }
    }

    #[test]
    fn a_scrape_with_the_wrong_sender_count_is_refused() {
        let header = Header {
            senders: 2,
            description: String::new(),
        };
        let mut w = StreamWriter::new(Vec::new(), &header).unwrap();
        assert!(w.append(&scrape(0, 3)).is_err());
        assert!(
            StreamWriter::new(
                Vec::new(),
                &Header {
                    senders: 0,
                    ..header
                }
            )
            .is_err()
        );
    }
}
