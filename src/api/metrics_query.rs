//! `GET /api/v1/metrics/query`: PromQL for the platform, paged over
//! series. Instant when only `query` (and `time`) are given, a range query
//! with `start`, `end` and `step`; answered by the same handlers as
//! `/api/v1/query` and `/api/v1/query_range`, in Prometheus's envelope,
//! with `totalSeries`, `offset` and `limit` added to `data`.

use super::envelope::{ApiError, ApiResult};
use super::params::Params;
use super::query::{Asked, Page, Requester, answer};
use crate::observe::QueryKind;
use crate::server::AppState;
use axum::extract::State;

/// Most series on one page.
pub const MAX_PAGE_SIZE: usize = 10_000;

/// The page asked for: `limit`/`offset`, or `page` (from 1) and
/// `page_size`; every series when neither is given.
fn page(p: &Params) -> Result<Page, ApiError> {
    let (offset, limit) = p.paging(100, MAX_PAGE_SIZE)?;
    Ok(Page {
        offset,
        limit,
        report: true,
    })
}

/// `GET /api/v1/metrics/query?query=…[&time=…|&start=…&end=…&step=…][&limit=&offset=|&page=&page_size=]`
pub async fn metrics_query(
    State(state): State<AppState>,
    who: Requester,
    params: Params,
) -> ApiResult {
    let page = page(&params)?;
    let ranged = ["start", "end", "step"]
        .iter()
        .any(|k| params.get(k).is_some());
    if ranged && params.get("time").is_some() {
        return Err(ApiError::param(
            "time",
            "give time for an instant query, or start, end and step for a range query",
        ));
    }
    let kind = if ranged {
        QueryKind::Range
    } else {
        QueryKind::Instant
    };
    let asked = Asked::new(kind, &params, who);
    answer(state, params, Some(page), asked).await
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
