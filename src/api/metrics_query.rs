//! `GET /api/v1/metrics/query`: PromQL for the platform, paged over
//! series. Instant when only `query` (and `time`) are given, a range query
//! with `start`, `end` and `step`; answered by the same handlers as
//! `/api/v1/query` and `/api/v1/query_range`, in Prometheus's envelope,
//! with `totalSeries`, `offset` and `limit` added to `data`.

use super::envelope::{ApiError, ApiResult};
use super::params::Params;
use super::query::{Asked, Page, instant_page, range_page};
use crate::observe::QueryKind;
use crate::server::{AppState, Caller};
use axum::Extension;
use axum::extract::{ConnectInfo, State};
use std::net::SocketAddr;

/// Most series on one page.
pub const MAX_PAGE_SIZE: usize = 10_000;

fn count(p: &Params, name: &str, min: usize, max: usize) -> Result<Option<usize>, ApiError> {
    match p.get(name) {
        None => Ok(None),
        Some(v) => match v.parse::<usize>() {
            Ok(n) if (min..=max).contains(&n) => Ok(Some(n)),
            _ => Err(ApiError::param(
                name,
                format!("must be a whole number from {min} to {max}"),
            )),
        },
    }
}

/// The page asked for: `limit`/`offset`, or `page` (from 1) and
/// `page_size`; every series when neither is given.
fn page(p: &Params) -> Result<Page, ApiError> {
    let by_offset = p.get("limit").is_some() || p.get("offset").is_some();
    let by_page = p.get("page").is_some() || p.get("page_size").is_some();
    if by_offset && by_page {
        return Err(ApiError::param(
            "page",
            "give limit/offset or page/page_size, not both",
        ));
    }
    let (offset, limit) = if by_page {
        let size = count(p, "page_size", 1, MAX_PAGE_SIZE)?.unwrap_or(100);
        let page = count(p, "page", 1, usize::MAX / MAX_PAGE_SIZE)?.unwrap_or(1);
        ((page - 1) * size, Some(size))
    } else {
        (
            count(p, "offset", 0, usize::MAX)?.unwrap_or(0),
            count(p, "limit", 1, MAX_PAGE_SIZE)?,
        )
    };
    Ok(Page {
        offset,
        limit,
        report: true,
    })
}

/// `GET /api/v1/metrics/query?query=…[&time=…|&start=…&end=…&step=…][&limit=&offset=|&page=&page_size=]`
pub async fn metrics_query(
    State(state): State<AppState>,
    caller: Option<Extension<Caller>>,
    remote: Option<Extension<ConnectInfo<SocketAddr>>>,
    params: Params,
) -> ApiResult {
    let page = page(&params)?;
    let ranged = ["start", "end", "step"]
        .iter()
        .any(|k| params.get(k).is_some());
    if ranged {
        if params.get("time").is_some() {
            return Err(ApiError::param(
                "time",
                "give time for an instant query, or start, end and step for a range query",
            ));
        }
        let asked = Asked::new(QueryKind::Range, &params, caller, remote);
        range_page(state, params, Some(page), asked).await
    } else {
        let asked = Asked::new(QueryKind::Instant, &params, caller, remote);
        instant_page(state, params, Some(page), asked).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_are_read_and_bounded() {
        let p = page(&Params::from_pairs(&[("page", "2"), ("page_size", "50")])).unwrap();
        assert_eq!((p.offset, p.limit), (50, Some(50)));
        let p = page(&Params::from_pairs(&[])).unwrap();
        assert_eq!((p.offset, p.limit), (0, None));
        for bad in [
            vec![("limit", "0")],
            vec![("page", "0")],
            vec![("page_size", "10001")],
            vec![("offset", "x")],
            vec![("limit", "5"), ("page", "1")],
        ] {
            assert!(page(&Params::from_pairs(&bad)).is_err(), "{bad:?}");
        }
    }
}
