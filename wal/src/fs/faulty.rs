//! An in-memory [`Fs`] that injects faults, for crash and error tests.
//!
//! The crash model: file contents are durable up to the length at their last
//! successful `sync`; a file's directory entry is durable once its parent
//! directory has been synced after the file was created. Directory creation,
//! renames and removals are taken as durable at once (the WAL syncs the
//! directory after each of them anyway). A crash throws away everything else
//! (or, with [`FaultyFs::crash_torn`], keeps a random prefix of each file's
//! unsynced bytes, as a torn write would), and every file handle opened
//! before it fails from then on, as if its process had died.

use super::{DirEntry, Fs, WalFile};
use std::collections::{BTreeMap, HashMap};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

/// In-memory file system with injectable faults. Clones share one state.
#[derive(Debug, Clone, Default)]
pub struct FaultyFs {
    state: Arc<Mutex<State>>,
}

#[derive(Debug, Default)]
struct State {
    files: HashMap<u64, MemFile>,
    names: BTreeMap<PathBuf, Entry>,
    next_id: u64,
    /// Bumped by every crash; handles from an older epoch always fail.
    epoch: u64,
    crashed: bool,
    fail_syncs: u32,
    short_write: Option<usize>,
    fail_writes: bool,
    disk_full: bool,
    syncs: u64,
    /// Mutating operations left before a crash, when armed.
    crash_in: Option<u64>,
    /// Seed of a torn crash (as [`FaultyFs::crash_torn`]) for `crash_in`.
    crash_in_torn: Option<u64>,
}

#[derive(Debug, Default)]
struct MemFile {
    data: Vec<u8>,
    synced_len: usize,
}

#[derive(Debug, Clone, Copy)]
enum Entry {
    Dir,
    File { id: u64, durable: bool },
}

#[derive(Debug)]
struct MemHandle {
    fs: FaultyFs,
    id: u64,
    epoch: u64,
}

fn crashed() -> io::Error {
    io::Error::other("simulated crash: the file system is gone")
}

fn not_found(path: &Path) -> io::Error {
    io::Error::new(
        io::ErrorKind::NotFound,
        format!("{}: no such file", path.display()),
    )
}

impl FaultyFs {
    /// An empty file system with no faults armed.
    pub fn new() -> FaultyFs {
        FaultyFs::default()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic in another test thread must not hide this one's result.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Simulates power loss: unsynced bytes and unsynced directory entries
    /// vanish; every operation fails until [`FaultyFs::restart`].
    pub fn crash(&self) {
        self.crash_with(|_| 0);
    }

    /// Like [`FaultyFs::crash`], but each file keeps a pseudo-random prefix
    /// of its unsynced bytes, as a torn write leaves behind.
    pub fn crash_torn(&self, seed: u64) {
        self.crash_with(torn(seed));
    }

    fn crash_with(&self, keep_extra: impl FnMut(usize) -> usize) {
        crash_state(&mut self.lock(), keep_extra);
    }

    /// Crashes (as [`FaultyFs::crash`]) at the `n`-th mutating operation
    /// from now (creating, writing, syncing, renaming or removing; `0` is
    /// the next one), which fails: for tests that crash at every step of
    /// a sequence of operations in turn.
    pub fn crash_after_ops(&self, n: u64) {
        let mut st = self.lock();
        st.crash_in = Some(n);
        st.crash_in_torn = None;
    }

    /// Like [`FaultyFs::crash_after_ops`], with a torn crash (as
    /// [`FaultyFs::crash_torn`] with `seed`).
    pub fn crash_torn_after_ops(&self, n: u64, seed: u64) {
        let mut st = self.lock();
        st.crash_in = Some(n);
        st.crash_in_torn = Some(seed);
    }

    /// Disarms [`FaultyFs::crash_after_ops`].
    pub fn cancel_crash(&self) {
        self.lock().crash_in = None;
    }

    /// True once a crash happened (until [`FaultyFs::restart`]).
    pub fn is_crashed(&self) -> bool {
        self.lock().crashed
    }

    /// Brings the file system back after a crash, as a reboot would.
    pub fn restart(&self) {
        self.lock().crashed = false;
    }

    /// The next `n` fsyncs (of files or directories) fail.
    pub fn fail_next_syncs(&self, n: u32) {
        self.lock().fail_syncs = n;
    }

    /// The next write stores only its first `keep` bytes, then fails.
    pub fn short_write_next(&self, keep: usize) {
        self.lock().short_write = Some(keep);
    }

    /// While on, every write fails without writing anything.
    pub fn set_fail_writes(&self, on: bool) {
        self.lock().fail_writes = on;
    }

    /// While on, the disk is full: every write fails with
    /// [`io::ErrorKind::StorageFull`] (ENOSPC) without writing anything;
    /// creating, syncing, renaming and removing still work.
    pub fn set_disk_full(&self, on: bool) {
        self.lock().disk_full = on;
    }

    /// How many successful fsyncs have been made so far.
    pub fn sync_count(&self) -> u64 {
        self.lock().syncs
    }

    /// The current bytes of a file, for inspection in tests.
    pub fn file_bytes(&self, path: &Path) -> Option<Vec<u8>> {
        let st = self.lock();
        match st.names.get(path) {
            Some(Entry::File { id, .. }) => st.files.get(id).map(|f| f.data.clone()),
            _ => None,
        }
    }

    fn check(st: &State) -> io::Result<()> {
        if st.crashed { Err(crashed()) } else { Ok(()) }
    }

    fn with_file<T>(
        &self,
        h: &MemHandle,
        f: impl FnOnce(&mut State) -> io::Result<T>,
    ) -> io::Result<T> {
        let mut st = self.lock();
        if st.crashed || st.epoch != h.epoch {
            return Err(crashed());
        }
        f(&mut st)
    }

    fn new_file(st: &mut State, path: &Path) -> io::Result<u64> {
        if let Some(parent) = path.parent()
            && !parent.as_os_str().is_empty()
            && !matches!(st.names.get(parent), Some(Entry::Dir))
        {
            return Err(not_found(parent));
        }
        let id = st.next_id;
        st.next_id += 1;
        st.files.insert(id, MemFile::default());
        st.names
            .insert(path.to_path_buf(), Entry::File { id, durable: false });
        Ok(id)
    }
}

fn crash_state(st: &mut State, mut keep_extra: impl FnMut(usize) -> usize) {
    st.crashed = true;
    st.crash_in = None;
    st.epoch += 1;
    let State { files, names, .. } = st;
    names.retain(|_, e| !matches!(e, Entry::File { durable: false, .. }));
    let live: std::collections::HashSet<u64> = names
        .values()
        .filter_map(|e| match e {
            Entry::File { id, .. } => Some(*id),
            Entry::Dir => None,
        })
        .collect();
    files.retain(|id, _| live.contains(id));
    let mut ids: Vec<u64> = files.keys().copied().collect();
    ids.sort_unstable();
    for id in ids {
        if let Some(f) = files.get_mut(&id) {
            let unsynced = f.data.len().saturating_sub(f.synced_len);
            let keep = f.synced_len.min(f.data.len()) + keep_extra(unsynced);
            f.data.truncate(keep);
            f.synced_len = f.data.len();
        }
    }
}

/// How many unsynced bytes each file keeps in a torn crash.
fn torn(seed: u64) -> impl FnMut(usize) -> usize {
    let mut x = seed | 1;
    move |unsynced| {
        // xorshift64: deterministic per seed, no dependency.
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        (x as usize) % (unsynced + 1)
    }
}

/// Counts one mutating operation: fails after a crash, and crashes when
/// an armed countdown reaches it.
fn tick(st: &mut State) -> io::Result<()> {
    if st.crashed {
        return Err(crashed());
    }
    match st.crash_in {
        Some(0) => {
            match st.crash_in_torn {
                Some(seed) => crash_state(st, torn(seed)),
                None => crash_state(st, |_| 0),
            }
            Err(crashed())
        }
        Some(n) => {
            st.crash_in = Some(n - 1);
            Ok(())
        }
        None => Ok(()),
    }
}

impl WalFile for MemHandle {
    fn write_all(&self, buf: &[u8]) -> io::Result<()> {
        self.fs.with_file(self, |st| {
            tick(st)?;
            if st.fail_writes {
                return Err(io::Error::other("injected write failure"));
            }
            if st.disk_full && !buf.is_empty() {
                return Err(io::Error::new(
                    io::ErrorKind::StorageFull,
                    "no space left on device (injected)",
                ));
            }
            let short = st.short_write.take();
            let file = st.files.get_mut(&self.id).ok_or_else(crashed)?;
            match short {
                Some(keep) => {
                    file.data.extend_from_slice(&buf[..keep.min(buf.len())]);
                    Err(io::Error::other("injected short write"))
                }
                None => {
                    file.data.extend_from_slice(buf);
                    Ok(())
                }
            }
        })
    }

    fn sync(&self) -> io::Result<()> {
        self.fs.with_file(self, |st| {
            tick(st)?;
            if st.fail_syncs > 0 {
                st.fail_syncs -= 1;
                return Err(io::Error::other("injected fsync failure"));
            }
            st.syncs += 1;
            let file = st.files.get_mut(&self.id).ok_or_else(crashed)?;
            file.synced_len = file.data.len();
            Ok(())
        })
    }

    fn truncate(&self, len: u64) -> io::Result<()> {
        self.fs.with_file(self, |st| {
            tick(st)?;
            let file = st.files.get_mut(&self.id).ok_or_else(crashed)?;
            let len = usize::try_from(len).map_err(io::Error::other)?;
            file.data.resize(len, 0);
            file.synced_len = file.synced_len.min(len);
            Ok(())
        })
    }

    fn size(&self) -> io::Result<u64> {
        self.fs.with_file(self, |st| {
            let file = st.files.get(&self.id).ok_or_else(crashed)?;
            Ok(file.data.len() as u64)
        })
    }
}

impl Fs for FaultyFs {
    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        let mut st = self.lock();
        tick(&mut st)?;
        for dir in path.ancestors() {
            if dir.as_os_str().is_empty() {
                continue;
            }
            match st.names.get(dir) {
                Some(Entry::Dir) => {}
                Some(Entry::File { .. }) => {
                    return Err(io::Error::other(format!("{} is a file", dir.display())));
                }
                None => {
                    st.names.insert(dir.to_path_buf(), Entry::Dir);
                }
            }
        }
        Ok(())
    }

    fn list_dir(&self, path: &Path) -> io::Result<Vec<DirEntry>> {
        let st = self.lock();
        Self::check(&st)?;
        if !matches!(st.names.get(path), Some(Entry::Dir)) {
            return Err(not_found(path));
        }
        Ok(st
            .names
            .iter()
            .filter(|(p, _)| p.parent() == Some(path))
            .filter_map(|(p, e)| {
                Some(DirEntry {
                    name: p.file_name()?.to_string_lossy().into_owned(),
                    is_dir: matches!(e, Entry::Dir),
                })
            })
            .collect())
    }

    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        let st = self.lock();
        Self::check(&st)?;
        match st.names.get(path) {
            Some(Entry::File { id, .. }) => st
                .files
                .get(id)
                .map(|f| f.data.clone())
                .ok_or_else(|| not_found(path)),
            _ => Err(not_found(path)),
        }
    }

    fn create(&self, path: &Path) -> io::Result<Arc<dyn WalFile>> {
        let mut st = self.lock();
        tick(&mut st)?;
        let id = match st.names.get(path) {
            Some(Entry::File { id, .. }) => {
                let id = *id;
                if let Some(f) = st.files.get_mut(&id) {
                    f.data.clear();
                    f.synced_len = 0;
                }
                id
            }
            Some(Entry::Dir) => {
                return Err(io::Error::other(format!(
                    "{} is a directory",
                    path.display()
                )));
            }
            None => Self::new_file(&mut st, path)?,
        };
        Ok(Arc::new(MemHandle {
            fs: self.clone(),
            id,
            epoch: st.epoch,
        }))
    }

    fn open_append(&self, path: &Path) -> io::Result<Arc<dyn WalFile>> {
        let st = self.lock();
        Self::check(&st)?;
        match st.names.get(path) {
            Some(Entry::File { id, .. }) => Ok(Arc::new(MemHandle {
                fs: self.clone(),
                id: *id,
                epoch: st.epoch,
            })),
            _ => Err(not_found(path)),
        }
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        let mut st = self.lock();
        tick(&mut st)?;
        match st.names.get(path) {
            Some(Entry::File { .. }) => {
                st.names.remove(path);
                Ok(())
            }
            _ => Err(not_found(path)),
        }
    }

    fn remove_dir_all(&self, path: &Path) -> io::Result<()> {
        let mut st = self.lock();
        tick(&mut st)?;
        if !st.names.contains_key(path) {
            return Err(not_found(path));
        }
        st.names.retain(|p, _| !p.starts_with(path));
        Ok(())
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        let mut st = self.lock();
        tick(&mut st)?;
        if !st.names.contains_key(from) {
            return Err(not_found(from));
        }
        if matches!(st.names.get(to), Some(Entry::Dir)) {
            return Err(io::Error::other(format!("{} exists", to.display())));
        }
        let moved: Vec<(PathBuf, Entry)> = st
            .names
            .iter()
            .filter(|(p, _)| p.starts_with(from))
            .map(|(p, e)| (p.clone(), *e))
            .collect();
        for (p, e) in moved {
            st.names.remove(&p);
            let rest = p.strip_prefix(from).map_err(io::Error::other)?;
            let e = match e {
                Entry::File { id, .. } => Entry::File { id, durable: true },
                Entry::Dir => Entry::Dir,
            };
            st.names.insert(to.join(rest), e);
        }
        Ok(())
    }

    fn sync_dir(&self, path: &Path) -> io::Result<()> {
        let mut st = self.lock();
        tick(&mut st)?;
        if st.fail_syncs > 0 {
            st.fail_syncs -= 1;
            return Err(io::Error::other("injected fsync failure"));
        }
        st.syncs += 1;
        for (p, e) in st.names.iter_mut() {
            if p.parent() == Some(path)
                && let Entry::File { durable, .. } = e
            {
                *durable = true;
            }
        }
        Ok(())
    }

    fn exists(&self, path: &Path) -> bool {
        self.lock().names.contains_key(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crash_drops_unsynced_bytes_and_unsynced_entries() {
        let fs = FaultyFs::new();
        let dir = Path::new("/w");
        fs.create_dir_all(dir).unwrap();
        let a = fs.create(&dir.join("a")).unwrap();
        a.write_all(b"hello").unwrap();
        a.sync().unwrap();
        fs.sync_dir(dir).unwrap();
        a.write_all(b" world").unwrap();
        let b = fs.create(&dir.join("b")).unwrap();
        b.write_all(b"x").unwrap();
        b.sync().unwrap();
        fs.crash();
        assert!(a.write_all(b"!").is_err());
        fs.restart();
        assert!(a.write_all(b"!").is_err(), "old handles stay dead");
        assert_eq!(fs.read(&dir.join("a")).unwrap(), b"hello");
        assert!(!fs.exists(&dir.join("b")), "entry never synced");
    }

    #[test]
    fn crash_after_ops_crashes_at_the_counted_operation() {
        let fs = FaultyFs::new();
        fs.create_dir_all(Path::new("/w")).unwrap();
        fs.crash_after_ops(2);
        let f = fs.create(Path::new("/w/a")).unwrap();
        f.write_all(b"x").unwrap();
        assert!(f.sync().is_err());
        assert!(fs.is_crashed());
        fs.restart();
        assert!(!fs.exists(Path::new("/w/a")), "never synced");
        fs.crash_after_ops(0);
        fs.cancel_crash();
        fs.create_dir_all(Path::new("/w")).unwrap();
    }

    #[test]
    fn short_write_keeps_a_prefix_and_fails() {
        let fs = FaultyFs::new();
        fs.create_dir_all(Path::new("/w")).unwrap();
        let f = fs.create(Path::new("/w/a")).unwrap();
        fs.short_write_next(2);
        assert!(f.write_all(b"abcdef").is_err());
        assert_eq!(f.size().unwrap(), 2);
        f.write_all(b"cd").unwrap();
        assert_eq!(fs.read(Path::new("/w/a")).unwrap(), b"abcd");
    }
}
