//! Scrape targets served by the test on loopback, each on a thread of its
//! own that lives as long as the test process.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The content type of the text exposition format, as exporters send it.
pub const TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Binds a loopback port and runs `serve` on its listener on a
/// single-threaded runtime of its own; returns the address.
pub fn spawn<F, Fut>(serve: F) -> SocketAddr
where
    F: FnOnce(tokio::net::TcpListener) -> Fut + Send + 'static,
    Fut: Future<Output = ()>,
{
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            serve(tokio::net::TcpListener::from_std(listener).unwrap()).await;
        });
    });
    addr
}

/// A target whose `/metrics` serves whatever `body` holds at each scrape;
/// `/fail` answers 500, `/garbage` serves bytes that are no exposition
/// format, `/slow` answers after 3 s.
pub fn serve_text(body: Arc<Mutex<String>>) -> SocketAddr {
    spawn(move |listener| async move {
        use axum::http::{StatusCode, header};
        use axum::routing::get;
        let text = || [(header::CONTENT_TYPE, TEXT)];
        let app = axum::Router::new()
            .route(
                "/metrics",
                get(move || {
                    let body = body.lock().unwrap().clone();
                    async move { (text(), body) }
                }),
            )
            .route(
                "/fail",
                get(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "broken") }),
            )
            .route(
                "/garbage",
                get(move || async move {
                    let junk: Vec<u8> = (0..4096u32)
                        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
                        .collect();
                    (text(), junk)
                }),
            )
            .route(
                "/slow",
                get(move || async move {
                    tokio::time::sleep(Duration::from_secs(3)).await;
                    (text(), "slow_metric 1\n")
                }),
            );
        let _ = axum::serve(listener, app).await;
    })
}

/// [`serve_text`] with a body that does not change.
pub fn serve_fixed(body: &str) -> SocketAddr {
    serve_text(Arc::new(Mutex::new(body.to_string())))
}

/// A loopback port nothing listens on.
pub fn closed_port() -> SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap()
}

/// What [`serve_body`] serves, and the `Accept` header of the last scrape.
#[derive(Debug, Default, Clone)]
pub struct Served {
    /// The `Content-Type` answered.
    pub content_type: String,
    /// The body answered.
    pub body: Vec<u8>,
    /// The last request's `Accept` header.
    pub accept: String,
}

/// A target whose `/metrics` serves whatever `served` holds at each
/// scrape, with its content type, and notes the scraper's `Accept`.
pub fn serve_body(served: Arc<Mutex<Served>>) -> SocketAddr {
    spawn(move |listener| async move {
        use axum::http::{HeaderMap, header};
        use axum::routing::get;
        let app = axum::Router::new().route(
            "/metrics",
            get(move |headers: HeaderMap| {
                let mut s = served.lock().unwrap();
                s.accept = headers
                    .get(header::ACCEPT)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_string();
                let (ct, body) = (s.content_type.clone(), s.body.clone());
                async move { ([(header::CONTENT_TYPE, ct)], body) }
            }),
        );
        let _ = axum::serve(listener, app).await;
    })
}

/// [`serve_body`] starting with `body` of `content_type`; the handle
/// changes what later scrapes get.
pub fn serve_bytes(content_type: &str, body: Vec<u8>) -> (Arc<Mutex<Served>>, SocketAddr) {
    let served = Arc::new(Mutex::new(Served {
        content_type: content_type.into(),
        body,
        accept: String::new(),
    }));
    let addr = serve_body(Arc::clone(&served));
    (served, addr)
}
