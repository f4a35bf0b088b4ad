//! Accepting and serving connections, so that no client can hold the server
//! open: a time limit on reading each request head (which is also how long
//! an idle keep-alive connection may wait for its next request), a cap on
//! open connections below the file-descriptor limit, and, at the cap, the
//! oldest connection with no request in progress closed to make room, so a
//! fresh `/-/ready` probe is always answered. Body-read time is limited per
//! request (see `request_body.rs`). A connection upgraded to a WebSocket
//! stays counted (and busy) until its socket closes.

use super::write_through::write_through;
use axum::Router;
use axum::body::Body;
use axum::http::{Request, Response};
use hourglass_wal::lock::lock;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::collections::BTreeMap;
use std::convert::Infallible;
use std::future::Future;
use std::pin::{Pin, pin};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;

use super::request_target::LenientTargets;

/// How connections are limited.
#[derive(Debug, Clone, Copy)]
pub struct ConnLimits {
    /// Longest wait for a request's head, counted from when the connection
    /// is ready for one (so also the idle keep-alive timeout).
    pub header_read_timeout: Duration,
    /// Most connections open at once.
    pub max_connections: usize,
}

/// File descriptors kept free for storage (WAL, partitions, groups file)
/// when the connection cap is derived from the fd limit.
const FDS_FOR_STORAGE: u64 = 256;

/// Raises the soft open-files limit to the hard limit (as Prometheus
/// does); returns the limit now in force.
#[allow(unsafe_code)] // see storage/UNSAFE.md
pub fn raise_fd_limit() -> u64 {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit only read and write the struct we
    // pass; a failure leaves the limit as it was.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return 1024;
        }
        if lim.rlim_cur < lim.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: lim.rlim_max,
                rlim_max: lim.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                lim.rlim_cur = lim.rlim_max;
            }
        }
    }
    lim.rlim_cur
}

/// The connection cap for an fd limit: what storage needs kept aside, and
/// never more than half the descriptors.
pub fn default_max_connections(fd_limit: u64) -> usize {
    let cap = fd_limit
        .saturating_sub(FDS_FOR_STORAGE)
        .max(fd_limit / 2)
        .clamp(16, 1 << 16);
    usize::try_from(cap).unwrap_or(1 << 16)
}

/// Largest request head (line and headers), and about what a connection
/// buffers while reading: hyper's default of ~400 KiB times thousands of
/// connections trickling headers would be gigabytes outside any budget.
const MAX_HEAD_BYTES: usize = 64 << 10;

/// Set in [`Conn::busy`] once a connection is chosen to be closed.
const EVICTED: usize = 1 << (usize::BITS - 1);

/// One open connection, as the accept loop sees it.
#[derive(Default)]
struct Conn {
    /// Requests in progress (until their response body is sent), or
    /// [`EVICTED`].
    busy: AtomicUsize,
    evict: Notify,
}

/// Open connections by age (ids increase).
#[derive(Default)]
struct Registry {
    conns: Mutex<BTreeMap<u64, Arc<Conn>>>,
}

impl Registry {
    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<u64, Arc<Conn>>> {
        lock(&self.conns)
    }

    /// Closes the oldest connection with no request in progress; false
    /// when every one is busy.
    fn evict_oldest_idle(&self) -> bool {
        let mut conns = self.lock();
        let victim = conns.iter().find_map(|(&id, c)| {
            c.busy
                .compare_exchange(0, EVICTED, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
                .then_some(id)
        });
        match victim.and_then(|id| conns.remove(&id)) {
            Some(c) => {
                c.evict.notify_one();
                true
            }
            None => false,
        }
    }
}

/// A request in progress on a connection, until its response body is done.
struct Busy(Arc<Conn>);

impl Busy {
    /// None when the connection is being closed.
    fn enter(conn: &Arc<Conn>) -> Option<Busy> {
        conn.busy
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n & EVICTED == 0).then_some(n + 1)
            })
            .ok()
            .map(|_| Busy(Arc::clone(conn)))
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.busy.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The socket of a counted connection: its place in the registry is freed
/// when the socket is dropped, which for an upgraded (WebSocket)
/// connection is when the upgrade's handler lets go of it.
struct Counted {
    stream: tokio::net::TcpStream,
    registry: Arc<Registry>,
    id: u64,
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.registry.lock().remove(&self.id);
    }
}

impl tokio::io::AsyncRead for Counted {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl tokio::io::AsyncWrite for Counted {
    write_through!(stream);
}

/// A response body that keeps its connection marked busy until sent.
struct Sending<B> {
    inner: B,
    _busy: Busy,
}

impl<B: http_body::Body + Unpin> http_body::Body for Sending<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<B::Data>, B::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// Serves `router` on `listener` until `shutdown` resolves, then lets
/// requests in progress finish.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnLimits,
    shutdown: impl Future<Output = ()>,
) {
    let registry = Arc::new(Registry::default());
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut tasks = JoinSet::new();
    let mut shutdown = pin!(shutdown);
    let mut next_id = 0u64;
    loop {
        while tasks.try_join_next().is_some() {}
        let stream = tokio::select! {
            r = listener.accept() => r,
            () = &mut shutdown => break,
        };
        let stream = match stream {
            Ok((s, _)) => s,
            Err(e) => {
                // Out of descriptors, or a connection reset before accept:
                // back off briefly instead of spinning.
                tracing::debug!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        if registry.lock().len() >= limits.max_connections && !registry.evict_oldest_idle() {
            tracing::debug!("connection cap reached with every connection busy; closing");
            continue;
        }
        let conn = Arc::new(Conn::default());
        let id = next_id;
        next_id += 1;
        registry.lock().insert(id, Arc::clone(&conn));
        let stream = Counted {
            stream,
            registry: Arc::clone(&registry),
            id,
        };
        let router = router.clone();
        let stop = stop_rx.clone();
        tasks.spawn(async move {
            serve_one(stream, router, conn, limits, stop).await;
        });
    }
    drop(listener);
    let _ = stop_tx.send(true);
    while tasks.join_next().await.is_some() {}
}

async fn serve_one(
    stream: Counted,
    router: Router,
    conn: Arc<Conn>,
    limits: ConnLimits,
    mut stop: watch::Receiver<bool>,
) {
    let this = Arc::clone(&conn);
    // The client's address, for handlers that log who asked.
    let stream = LenientTargets::new(stream);
    let peer = stream
        .get_ref()
        .stream
        .peer_addr()
        .ok()
        .map(axum::extract::ConnectInfo);
    let service = hyper::service::service_fn(move |mut req: Request<Incoming>| {
        if let Some(p) = peer {
            req.extensions_mut().insert(p);
        }
        let router = router.clone();
        let busy = Busy::enter(&this);
        async move {
            let Some(busy) = busy else {
                let mut r = Response::new(Body::empty());
                *r.status_mut() = axum::http::StatusCode::SERVICE_UNAVAILABLE;
                return Ok::<_, Infallible>(r);
            };
            let resp = match tower::ServiceExt::oneshot(router, req.map(Body::new)).await {
                Ok(r) => r,
                Err(never) => match never {},
            };
            if resp.status() == axum::http::StatusCode::SWITCHING_PROTOCOLS {
                // An upgraded connection is never idle: it is not evicted.
                busy.0.busy.fetch_add(1, Ordering::AcqRel);
            }
            Ok(resp.map(|inner| Body::new(Sending { inner, _busy: busy })))
        }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_buf_size(MAX_HEAD_BYTES)
        .max_header_size(MAX_HEAD_BYTES)
        .keep_alive(true);
    let mut http = pin!(
        builder
            .serve_connection(TokioIo::new(stream), service)
            .with_upgrades()
    );
    tokio::select! {
        r = http.as_mut() => {
            if let Err(e) = r {
                tracing::debug!(error = %e, "connection closed with an error");
            }
            return;
        }
        () = conn.evict.notified() => return,
        _ = stop.wait_for(|&s| s) => {}
    }
    // Shutting down: a connection with no request in progress closes now
    // (a fresh one would otherwise wait out the header-read timeout); one
    // with a request finishes it, then closes.
    if conn
        .busy
        .compare_exchange(0, EVICTED, Ordering::AcqRel, Ordering::Acquire)
        .is_ok()
    {
        return;
    }
    http.as_mut().graceful_shutdown();
    if let Err(e) = http.await {
        tracing::debug!(error = %e, "connection closed with an error");
    }
}
